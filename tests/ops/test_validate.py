from pathlib import Path

import numpy as np
import pytest
from media_helpers import ffmpeg

from real_estate_dag.ops.decode import decode_video
from real_estate_dag.ops.probe import probe_video
from real_estate_dag.ops.validate import LimitError, MediaLimits, check_file_size, check_video_header


def test_header_limits_name_the_file_the_value_and_the_limit() -> None:
    limits = MediaLimits()
    check_video_header("ok.mp4", 3840, 2160, 600.0, 59.94, limits)
    with pytest.raises(LimitError, match=r"^big.mp4: declares 16384x16384 pixels \(268435456 per frame\)"):
        check_video_header("big.mp4", 16384, 16384, 10.0, 30.0, limits)
    with pytest.raises(LimitError, match=r"^long.mp4: declares 7200.0 s; the limit is 1800 s"):
        check_video_header("long.mp4", 1920, 1080, 7200.0, 30.0, limits)
    with pytest.raises(LimitError, match=r"^slow.mp4: has a frame rate of 0.500 fps"):
        check_video_header("slow.mp4", 1920, 1080, 60.0, 0.5, limits)
    with pytest.raises(LimitError, match=r"^huge.mp4: is 9663676416 bytes \(9216.0 MiB\); the limit is 8589934592"):
        check_file_size("huge.mp4", 9 * 1024**3, limits)


def test_a_long_declared_duration_is_refused_before_any_frame_is_decoded(tmp_path: Path) -> None:
    video = tmp_path / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=0.001:duration=3000", "-c:v", "libx264", str(video))
    assert probe_video(video, "long.mp4").duration_s == 3000.0
    with pytest.raises(LimitError, match=r"declares 3000\.0 s"):
        probe_video(video, "long.mp4", MediaLimits())


def test_variable_frame_rate_is_decoded_by_timestamps(tmp_path: Path) -> None:
    video = tmp_path / "vfr.mp4"
    # 60 frames 1/15 s apart, then 60 frames 1/30 s apart
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x90:rate=30:duration=4",
           "-vf", "setpts='if(lt(N,60),N*2,60+N)/30/TB'", "-fps_mode", "vfr", "-c:v", "libx264", str(video))
    facts = probe_video(video, "vfr.mp4", MediaLimits())
    decoded = decode_video(video, "vfr.mp4", tmp_path / "frames", sample_fps=2.0)
    times = decoded.times()
    assert decoded.frame_count == 120 and facts.duration_s == pytest.approx(6.0, abs=0.05)
    steps = np.round(np.diff(times), 3)
    assert set(steps[:59]) == {0.067} and set(steps[60:]) == {0.033}
    # samples every 0.5 s of presentation time, in both halves, not every n-th frame
    assert np.diff([s.time_s for s in decoded.sampled]) == pytest.approx(0.5, abs=0.04)
    assert len(decoded.sampled) == 12
