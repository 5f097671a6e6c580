"""Motion: zoom animations, dreamed videos with temporal coherence, batch folders."""

from .batch import BatchSummary, dream_folder
from .video import VideoResult, dream_video
from .zoom import transform_frame, zoom_frames

__all__ = ["BatchSummary", "dream_folder", "VideoResult", "dream_video", "transform_frame", "zoom_frames"]
