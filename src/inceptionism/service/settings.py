"""How a studio runs: its settings, and those ``inceptionism serve``'s options give."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..doors.limits import Limits
from ..featurevis import FeatureVisConfig
from ..command_config import ServeConfig
from .inspector import THUMBNAIL
from .live import LiveLimits
from .security import LOOPBACK_NAMES, Access, is_loopback

__all__ = ["ServiceSettings", "settings_from", "concept_sets_of", "concept_files"]


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs. Everything it writes goes under ``data_dir``."""

    data_dir: Path  # the job store, uploads, results and channel pictures
    workers: int = ServeConfig.workers  # dreams run at once (each takes all CPU threads; 1 suits a CPU)
    device: str = ServeConfig.device  # where the workers dream
    limits: Limits = field(default_factory=Limits)
    result_ttl_s: float = ServeConfig.keep_hours * 3600  # finished jobs are removed this long after they end
    cleanup_every_s: float = 600.0  # how often expired jobs are looked for
    preview_side: int = 256  # longer side of the per-octave previews
    events_every_s: float = 0.25  # how often an event stream looks for news
    thumbnail: FeatureVisConfig = THUMBNAIL  # how channel-picker pictures are drawn
    access: Access = field(default_factory=Access)  # host names answered, and the token if one is needed
    cluster: str | None = ServeConfig.cluster  # dream on this Ray cluster (the API node keeps the store)
    examples: Path | None = None  # photos the channel picker finds each channel's dataset examples in
    concepts: Path | None = None  # a folder of `inceptionism concepts` outputs: the layers' concepts shown and dreamed
    live: LiveLimits = field(default_factory=LiveLimits)  # live sessions at once, frame and message sizes


def concept_sets_of(settings: ServiceSettings) -> list[Any]:
    """The ``inceptionism concepts`` outputs in the studio's concepts folder (none without one)."""
    if settings.concepts is None:
        return []
    from ..concept_report import concept_sets

    return concept_sets(settings.concepts)


def concept_files(settings: ServiceSettings) -> frozenset[str]:
    """The dictionaries of the studio's concepts folder: the only files a request's terms may name."""
    return frozenset(str(found.dictionary) for found in concept_sets_of(settings))


def settings_from(opts: ServeConfig, data_dir: Path, token: str | None) -> ServiceSettings:
    """The service's settings for ``inceptionism serve``'s options (``token`` as resolved)."""
    if is_loopback(opts.host):
        hosts = (*LOOPBACK_NAMES, *opts.allow_host)
    elif opts.host in ("0.0.0.0", "::") and not opts.allow_host:
        hosts = ("*",)  # every name of this machine; the token guards
    else:
        hosts = (opts.host.lower(), *LOOPBACK_NAMES, *opts.allow_host)
    return ServiceSettings(
        data_dir=data_dir,
        workers=opts.workers,
        device=opts.device,
        result_ttl_s=opts.keep_hours * 3600,
        limits=Limits(max_queued=opts.max_queued),
        access=Access(hosts=hosts, token=token),
        cluster=opts.cluster,
        examples=opts.examples,
        concepts=opts.concepts,
    )
