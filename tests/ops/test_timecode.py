from fractions import Fraction

import numpy as np
import pytest

from real_estate_dag.ops.timecode import (
    first_frame_at,
    frame_end_time,
    frame_start_time,
    last_frame_before,
    pts_to_seconds,
    seconds_to_pts,
    video_end_time,
)

TIMES = np.arange(10) / 25  # 10 frames at 25 fps: 0.00, 0.04, ... 0.36 s


def test_pts_and_seconds_convert_both_ways_in_the_stream_time_base() -> None:
    base = Fraction(1, 12800)
    assert pts_to_seconds(512, base) == 0.04
    assert seconds_to_pts(0.5, base) == 6400
    for seconds in (0.04, 1.3, 7.77):  # never after the time asked for: a seek lands at or before it
        assert 0 <= seconds - pts_to_seconds(seconds_to_pts(seconds, base), base) < 2 * base


def test_an_inclusive_frame_range_ends_when_its_last_frame_stops_showing() -> None:
    assert frame_start_time(TIMES, 3) == pytest.approx(0.12)
    assert frame_end_time(TIMES, 3) == pytest.approx(0.16)  # frame 4's time
    assert frame_end_time(TIMES, 9) == pytest.approx(0.40)  # the last frame shows one interval
    assert video_end_time(TIMES) == pytest.approx(0.40)  # 10 frames at 25 fps last 0.4 s, not 0.36 s


def test_the_last_frame_lasts_the_median_interval_of_variable_frame_rate_video() -> None:
    times = np.array([0.0, 0.04, 0.08, 0.2, 0.24])  # one long frame in the middle
    assert video_end_time(times) == pytest.approx(0.28)
    assert video_end_time(np.array([0.0])) == pytest.approx(0.04)


def test_a_time_range_maps_to_the_frames_shown_inside_it() -> None:
    # [0.12, 0.24): frames 3, 4 and 5; a time a hair off a frame's stored time still counts as that frame
    assert first_frame_at(TIMES, 0.12) == 3 and first_frame_at(TIMES, 0.1200004) == 3
    assert first_frame_at(TIMES, 0.121) == 4
    assert last_frame_before(TIMES, 0.24) == 5 and last_frame_before(TIMES, 0.2399996) == 5
    assert last_frame_before(TIMES, 0.241) == 6
    first, last = first_frame_at(TIMES, 0.12), last_frame_before(TIMES, frame_end_time(TIMES, 5))
    assert (first, last) == (3, 5)  # start and end times of an inclusive range map back to it
