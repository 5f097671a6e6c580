"""Property-based run of the studio's OpenAPI schema: whatever a client sends, no 5xx.

Workers are off, so accepted dreams stay queued (and the queue limit is exercised);
dreams themselves are tested in test_service.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from inceptionism.featurevis import FeatureVisConfig
from inceptionism.service import Limits, ServiceSettings, create_app
from inceptionism.service.security import Access

# schemathesis reads the schema when the module is collected, so the app is made then; its data
# directory is only named here, made when the studio starts (the first request) and removed after.
_DATA = Path(tempfile.gettempdir()) / f"inceptionism-schema-{os.getpid()}"
_APP = create_app(ServiceSettings(
    data_dir=_DATA,
    workers=0,
    limits=Limits(max_queued=8),
    thumbnail=FeatureVisConfig(size=32, steps=2, seed=0),  # channel pictures are not what is tested here
    access=Access(hosts=("testserver",)),  # the name schemathesis's in-process client sends
))
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@pytest.fixture(scope="module", autouse=True)
def _data_removed():
    yield
    shutil.rmtree(_DATA, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
