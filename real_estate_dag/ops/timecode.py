"""Frame and time conventions shared by every step.

A video's frames are counted from 0 in decode order; ``frame_times[i]`` is frame i's presentation time
in seconds from the first frame (``decode.TIMES_FILE``). Frame ranges are inclusive ``[first, last]``;
time ranges are half-open ``[start_s, end_s)``: a frame is shown from its own time until the next
frame's, and the last frame for one typical frame interval.
"""

from fractions import Fraction

import numpy as np

# Times closer than this count as equal (stored times are rounded to 0.1 ms).
EPSILON_S = 1e-6
# The frame interval assumed for a one-frame video.
DEFAULT_FRAME_S = 0.04


def pts_to_seconds(pts: int, time_base: Fraction) -> float:
    """A presentation timestamp in stream ``time_base`` units, in seconds."""
    return float(pts * time_base)


def seconds_to_pts(seconds: float, time_base: Fraction) -> int:
    """The timestamp, in stream ``time_base`` units, at or before ``seconds``."""
    return int(seconds / time_base)


def frame_interval(frame_times: np.ndarray) -> float:
    """The typical time between frames (the median, so a few irregular frames do not sway it)."""
    return float(np.median(np.diff(frame_times))) if len(frame_times) > 1 else DEFAULT_FRAME_S


def frame_start_time(frame_times: np.ndarray, frame: int) -> float:
    return float(frame_times[frame])


def frame_end_time(frame_times: np.ndarray, frame: int) -> float:
    """When frame ``frame`` stops being shown: the exclusive end of a range whose last frame it is."""
    if frame + 1 < len(frame_times):
        return float(frame_times[frame + 1])
    return float(frame_times[frame]) + frame_interval(frame_times)


def video_end_time(frame_times: np.ndarray) -> float:
    """The length of the video: when its last frame stops being shown."""
    return frame_end_time(frame_times, len(frame_times) - 1)


def first_frame_at(frame_times: np.ndarray, seconds: float) -> int:
    """The first frame shown at or after ``seconds`` (the inclusive first frame of ``[seconds, ...)``)."""
    return int(np.searchsorted(frame_times, seconds - EPSILON_S))


def last_frame_before(frame_times: np.ndarray, seconds: float) -> int:
    """The last frame that starts before ``seconds`` (the inclusive last frame of ``[..., seconds)``)."""
    return first_frame_at(frame_times, seconds) - 1
