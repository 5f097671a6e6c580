"""The studio: a FastAPI app with a job queue, workers and a web page.

Examples:
    >>> from inceptionism.service import ServiceSettings, create_app
    >>> app = create_app(ServiceSettings(data_dir=Path("/tmp/dreams")))  # doctest: +SKIP
"""

from ..paths import default_data_dir
from .app import ServiceSettings, create_app, settings_from
from .background import serve_in_background
from ..doors.limits import Limits

__all__ = ["ServiceSettings", "Limits", "create_app", "default_data_dir", "serve_in_background", "settings_from"]
