from pathlib import Path

import numpy as np
import pytest
from media_helpers import ffmpeg

from real_estate_dag.ops.decode import SHOT_H, SHOT_W, decode_video
from real_estate_dag.ops.probe import MediaError, probe_audio, probe_video


def test_probe_reads_the_real_footage(short_clip: Path) -> None:
    facts = probe_video(short_clip, "short.mp4")
    assert (facts.width, facts.height, facts.fps, facts.rotation) == (160, 90, 25.0, 0)
    assert facts.duration_s == pytest.approx(40, abs=0.1)
    assert facts.has_audio and facts.codec == "h264"


def test_decode_once_gives_shot_stream_and_sampled_frames(short_clip: Path, tmp_path: Path) -> None:
    fed: list[np.ndarray] = []
    samples: list[Path] = []

    def on_sample(path: Path) -> None:
        assert path.is_file()  # written before consumers hear of it
        samples.append(path)

    decoded = decode_video(short_clip, "short.mp4", tmp_path, sample_fps=2.0, on_frame=fed.append,
                           on_sample=on_sample)
    assert decoded.frame_count == 1000
    stream = decoded.shot_stream()
    assert stream.shape == (1000, SHOT_H, SHOT_W, 3)
    assert stream.std() > 10  # real picture content, not a blank buffer
    times = decoded.times()
    assert times[0] == 0 and times[-1] == pytest.approx(39.96, abs=0.01)
    sample_times = np.array([s.time_s for s in decoded.sampled])
    assert len(decoded.sampled) == 80
    assert np.diff(sample_times) == pytest.approx(0.5, abs=0.05)
    image = decoded.sampled_image(decoded.sampled[10])
    assert min(image.size) == 224 and image.size[0] > image.size[1]
    # consumers fed during decoding see exactly what was stored
    np.testing.assert_array_equal(np.stack(fed), stream)
    assert samples == [tmp_path / s.file for s in decoded.sampled]


def test_rotation_metadata_is_honoured(short_clip: Path, tmp_path: Path) -> None:
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(short_clip), "-t", "3", "-c", "copy", str(rotated))
    facts = probe_video(rotated, "rotated.mp4")
    assert facts.rotation in (90, 270)
    assert facts.display_size == (90, 160)
    decoded = decode_video(rotated, "rotated.mp4", tmp_path / "out", rotation=facts.rotation)
    image = decoded.sampled_image(decoded.sampled[0])
    assert image.size[1] > image.size[0]  # portrait, as the phone showed it
    assert decoded.shot_stream().shape[1:] == (SHOT_H, SHOT_W, 3)


def test_bad_files_get_specific_errors(tmp_path: Path, music_track: Path, short_clip: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty.mp4: the file is empty"):
        probe_video(empty, "empty.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video " * 100)
    with pytest.raises(MediaError, match=r"notes.mp4: not a readable media file"):
        probe_video(text, "notes.mp4")
    with pytest.raises(MediaError, match=r"music.m4a: has no video stream"):
        probe_video(music_track, "music.m4a")
    assert probe_audio(music_track, "music.m4a").duration_s == pytest.approx(90, abs=0.2)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(short_clip.read_bytes()[: 200_000])
    with pytest.raises(MediaError, match=r"truncated.mp4"):
        facts = probe_video(truncated, "truncated.mp4")
        decode_video(truncated, "truncated.mp4", tmp_path / "t", expected_frames=facts.frame_count_estimate)


def test_music_cut_short_is_refused_by_what_it_decodes_to(tmp_path: Path) -> None:
    full = tmp_path / "music.mp3"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=20", "-c:a", "libmp3lame", "-b:a", "128k", str(full))
    assert probe_audio(full, "uploads/x/music.mp3").duration_s == pytest.approx(20, abs=0.1)
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: 128_000 // 8 * 3])  # an upload that stopped after 3 s of 20
    with pytest.raises(MediaError, match=r"^uploads/x/music\.mp3: truncated: header says 20\.0 s, decodes to 3\.0 s$"):
        probe_audio(cut, "uploads/x/music.mp3")
