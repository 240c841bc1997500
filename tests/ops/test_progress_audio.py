"""Progress lines at a readable rate; the audio read-back that the audio_present check uses."""

from pathlib import Path

import pytest
from media_helpers import ffmpeg

from real_estate_dag.ops.audio import audio_problems, has_audio_stream, spectral_similarity
from real_estate_dag.ops.manifest import Listing
from real_estate_dag.ops.progress import Progress, counted
from real_estate_dag.ops.render import RenderClip, render_showcase
from real_estate_dag.ops.titlecard import draw_title_card


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_each_tenth_not_each_item() -> None:
    lines: list[str] = []
    clock = Clock()
    progress = Progress(lines.append, "walk.mp4: decoding", "frames", clock=clock)
    for done in range(1, 1001):
        clock.now += 0.01  # 10 s in all: each tenth takes 1 s, under the 2 s minimum
        progress(done, 1000)
    assert 4 <= len(lines) <= 6
    assert lines[-1] == "walk.mp4: decoding: 1000/1000 frames (100%), 100.0 frames/s"


def test_progress_of_a_slow_step_beats_once_a_minute() -> None:
    lines: list[str] = []
    clock = Clock()
    progress = Progress(lines.append, "render", "s", rate_unit="x real time", clock=clock)
    for done in range(1, 301):
        clock.now += 1.0
        progress(done / 10, 0)  # unknown total
    assert len(lines) == 5 and lines[0] == "render: 6 s, 0.1x real time"
    assert counted(1, "shot") == "1 shot" and counted(3, "video") == "3 videos"


@pytest.fixture(scope="module")
def renders(short_clip: Path, music_track: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("audio")
    title = draw_title_card(Listing(), "p", (320, 180), out / "title.png")
    clips = [RenderClip(short_clip, 2.0, 3.0, True, 16 / 9), RenderClip(short_clip, 20.0, 3.0, True, 16 / 9)]
    seen: list[tuple[float, float]] = []
    return {
        "music": render_showcase(clips, title, out / "music.mp4", (320, 180), title_s=2.0, crossfade_s=0.5,
                                 music=music_track, progress=lambda d, t: seen.append((d, t))),
        "source": render_showcase(clips, title, out / "source.mp4", (320, 180), title_s=2.0, crossfade_s=0.5),
        "progress": seen,
    }


def test_render_reports_progress_in_output_seconds(renders: dict) -> None:
    seen = renders["progress"]
    assert seen and all(total == pytest.approx(7.0) for _, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] > 6.0


def test_music_is_recognised_in_the_render_and_source_sound_is_not(renders: dict, music_track: Path,
                                                                   short_clip: Path) -> None:
    assert has_audio_stream(renders["music"].path) and has_audio_stream(renders["source"].path)
    assert spectral_similarity(renders["music"].path, music_track, 1.5, 3.0) > 0.95
    assert spectral_similarity(renders["source"].path, music_track, 1.5, 3.0) < 0.3
    assert spectral_similarity(short_clip, music_track, 1.5, 3.0) < 0.3


def test_audio_problems_name_the_file_and_what_is_wrong(renders: dict, music_track: Path, tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    ffmpeg("-i", str(renders["music"].path), "-an", "-c:v", "copy", str(silent))
    assert not has_audio_stream(silent)
    with_music, with_source = (renders[k].path for k in ("music", "source"))
    assert audio_problems([(with_music, 7.0)], music_track) == []
    assert audio_problems([(with_source, 7.0), (silent, 7.0)], None) == ["silent.mp4: no audio stream"]
    [wrong] = audio_problems([(with_music, 7.0), (with_source, 7.0)], music_track)
    assert wrong.startswith("source.mp4: the sound is not the music (spectral similarity 0.")


@pytest.fixture(scope="module")
def odd_music(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Music a user may really give: silence, a 0.5 s jingle, and an mp3 cut short whose header says 20 s."""
    out = tmp_path_factory.mktemp("odd_music")
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "20", "-c:a", "libmp3lame", str(out / "silent.mp3"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=660:sample_rate=44100:duration=0.5", "-c:a", "libmp3lame",
           str(out / "short.mp3"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100:duration=20", "-c:a", "libmp3lame",
           "-write_xing", "1", str(out / "full.mp3"))
    full = (out / "full.mp3").read_bytes()
    (out / "truncated.mp3").write_bytes(full[: len(full) // 20])  # about the first second
    return {name: out / f"{name}.mp3" for name in ("silent", "short", "truncated")}


@pytest.mark.parametrize("kind", ["silent", "short", "truncated"])
def test_music_that_is_silent_very_short_or_truncated_passes_when_it_was_used(
    kind: str, odd_music: dict[str, Path], short_clip: Path, tmp_path: Path
) -> None:
    title = draw_title_card(Listing(), "p", (320, 180), tmp_path / "title.png")
    clips = [RenderClip(short_clip, 2.0, 4.0, True, 16 / 9), RenderClip(short_clip, 20.0, 4.0, True, 16 / 9)]
    music = odd_music[kind]
    with_music = render_showcase(clips, title, tmp_path / "music.mp4", (320, 180), title_s=2.0, crossfade_s=0.5,
                                 music=music)
    assert audio_problems([(with_music.path, with_music.duration_s)], music) == []
    # the check still tells this music from the footage's own sound
    source = render_showcase(clips, title, tmp_path / "source.mp4", (320, 180), title_s=2.0, crossfade_s=0.5)
    [problem] = audio_problems([(source.path, source.duration_s)], music)
    assert problem.startswith("source.mp4: the ")
