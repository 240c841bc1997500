"""Limits on uploads: what property_manifest refuses, and how long the sensor waits for files."""

from dagster import ConfigurableResource
from pydantic import Field

from real_estate_dag.ops.validate import MediaLimits

_DEFAULTS = MediaLimits()


class UploadLimits(ConfigurableResource):
    """Each limit's default is the built-in one (``MediaLimits``); whole numbers, so variables can set them."""

    max_file_mib: int = Field(default=_DEFAULTS.max_file_bytes // 2**20, description="largest uploaded file")
    max_video_seconds: int = Field(default=int(_DEFAULTS.max_video_seconds), description="longest video")
    min_video_seconds: int = Field(default=int(_DEFAULTS.min_video_seconds), description="shortest video")
    max_total_seconds: int = Field(default=int(_DEFAULTS.max_total_seconds), description="most footage in all")
    max_pixels: int = Field(default=_DEFAULTS.max_pixels, description="largest declared frame, in pixels")
    min_short_side: int = Field(default=_DEFAULTS.min_short_side, description="smallest frame side, in pixels")
    max_fps: int = Field(default=int(_DEFAULTS.max_fps), description="fastest frame rate")
    max_audio_seconds: int = Field(default=int(_DEFAULTS.max_audio_seconds), description="longest music track")
    max_photo_pixels: int = Field(default=_DEFAULTS.max_photo_pixels, description="largest declared photo, in pixels")
    upload_wait_s: int = Field(default=3600, description="how long a manifest may wait for its files")

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
            max_photo_pixels=self.max_photo_pixels,
        )
