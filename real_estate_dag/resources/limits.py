"""Limits on uploads, one resource read by property_manifest and the upload sensors."""

from dagster import ConfigurableResource

from real_estate_dag.ops.validate import MediaLimits

_DEFAULTS = MediaLimits()


class UploadLimits(ConfigurableResource):
    """What an upload may hold, and how long the sensor waits for the files a manifest lists."""

    max_file_mib: int = _DEFAULTS.max_file_bytes // 2**20
    max_video_seconds: float = _DEFAULTS.max_video_seconds
    min_video_seconds: float = _DEFAULTS.min_video_seconds
    max_total_seconds: float = _DEFAULTS.max_total_seconds
    max_pixels: int = _DEFAULTS.max_pixels
    min_short_side: int = _DEFAULTS.min_short_side
    max_fps: float = _DEFAULTS.max_fps
    max_audio_seconds: float = _DEFAULTS.max_audio_seconds
    upload_wait_s: float = 3600.0

    def media_limits(self) -> MediaLimits:
        return MediaLimits(
            max_file_bytes=self.max_file_mib * 2**20,
            max_video_seconds=self.max_video_seconds,
            min_video_seconds=self.min_video_seconds,
            max_total_seconds=self.max_total_seconds,
            max_pixels=self.max_pixels,
            min_short_side=self.min_short_side,
            max_fps=self.max_fps,
            max_audio_seconds=self.max_audio_seconds,
        )
