"""Narration on speech espeak-ng spoke into the packaged footage: words and times, keywords, captions
on the edit's time line, and cut points that never fall inside a word."""

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
import srt
import webvtt
from conftest import NARRATION, NARRATION_LEAD_S

from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.speech import (
    Transcript,
    agent_names,
    caption_cues,
    highlights,
    inside_word,
    keywords,
    load_audio,
    naming_spans,
    placements,
    sentences_cut,
    snap_to_pause,
    to_srt,
    to_vtt,
    word_error_rate,
)


@pytest.fixture(scope="module")
def transcript(narrated_clip: Path) -> tuple[Transcript, list[tuple[float, float]]]:
    registry = ModelRegistry()
    audio = load_audio(narrated_clip)
    spans = registry.vad_model().speech_spans(audio)
    return registry.recognition_model().transcribe(audio, spans), spans


def spoken_extent(path: Path) -> tuple[float, float]:
    """First and last time the sound is above -35 dBFS, in 10 ms steps: where espeak spoke."""
    audio = load_audio(path)
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
    loud = np.flatnonzero(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)) > 10 ** (-35 / 20))
    return loud[0] * 0.01, (loud[-1] + 1) * 0.01


def test_the_narration_is_transcribed_with_its_words_and_times(transcript, narrated_clip: Path) -> None:
    found, spans = transcript
    wer = word_error_rate(NARRATION, found.text)
    print(f"\nWER {wer:.3f}: {found.text!r}")
    assert wer <= 0.25, found.text
    said = [w.text.lower().strip(".,!?") for w in found.words]
    for word in ("kitchen", "countertops", "house", "new", "roof", "brown", "today"):
        assert word in said
    assert found.language == "en" and found.confidence > 0.5
    first, last = spoken_extent(narrated_clip)
    assert abs(first - NARRATION_LEAD_S) < 0.2
    assert abs(found.words[0].start - first) < 0.35 and abs(found.words[-1].end - last) < 0.4
    assert all(a.end <= b.start + 1e-6 for a, b in zip(found.words, found.words[1:], strict=False))
    assert len(found.segments) >= 2  # whisper's segments (a sentence or more each), each with its words
    assert all(s.start == s.words[0].start and s.end == s.words[-1].end for s in found.segments)
    assert spans[0][0] < found.words[0].end and found.words[-1].start < spans[-1][1]


def test_keywords_and_lower_thirds_come_from_the_transcript(transcript) -> None:
    found, _ = transcript
    phrases = keywords(found)
    assert "new roof" in phrases
    assert any("countertops" in p for p in phrases)
    rows = highlights("walk.mp4", found, phrases)
    roof = next(r for r in rows if r["keyword"] == "new roof")
    assert "roof" in roof["sentence"].lower() and roof["start_s"] < roof["end_s"]
    named = naming_spans(found, agent_names("Mary Brown", "Harbor Realty"))
    assert len(named) == 1 and named[0][1] == pytest.approx(found.words[-1].end)


def test_captions_parse_and_sit_on_the_edit_time_line(transcript) -> None:
    found, _ = transcript
    clips = [{"video": "walk.mp4", "in_s": 0.3, "out_s": 4.0, "duration_s": 3.7},
             {"video": "walk.mp4", "in_s": 4.2, "out_s": 8.0, "duration_s": 3.8}]
    layout = placements(clips, title_s=3.0, crossfade_s=0.5)
    assert [p.at_s for p in layout] == [2.5, 5.7]
    cues = caption_cues(layout, {"walk.mp4": found})
    parsed = list(srt.parse(to_srt(cues)))
    assert [c.content for c in parsed] == [c.text for c in cues] and len(parsed) >= 3
    for cue in parsed:
        start, end = cue.start.total_seconds(), cue.end.total_seconds()
        place = next(p for p in layout if p.at_s - 1e-6 <= start < p.at_s + p.out_s - p.in_s)
        source_start = start - place.at_s + place.in_s
        assert any(abs(w.start - source_start) < 0.01 or abs(place.in_s - source_start) < 0.01 for w in found.words)
        assert end <= place.at_s + place.out_s - place.in_s + 1e-6
    assert all(a.end.total_seconds() <= b.start.total_seconds() for a, b in itertools.pairwise(parsed))
    vtt = webvtt.from_buffer(io.StringIO(to_vtt(cues)))
    assert [c.text for c in vtt] == [c.text for c in cues]
    seconds = [sum(float(part) * 60 ** k for k, part in enumerate(reversed(c.start.split(":")))) for c in vtt]
    assert seconds == pytest.approx([c.start for c in cues], abs=0.001)


def test_a_cut_point_snaps_to_a_pause_never_inside_a_word(transcript) -> None:
    found, _ = transcript
    words = found.words
    for t in np.arange(0.0, 8.0, 0.01):
        snapped = snap_to_pause(float(t), words, 0.0, 8.0)
        assert inside_word(snapped, words) is None, (t, snapped)
        word = inside_word(float(t), words)
        assert abs(snapped - t) <= (word.end - word.start) + 0.2 if word else snapped == t
    middle = words[len(words) // 2]
    whole = next(s for s in found.segments if middle in s.words)
    assert sentences_cut(whole.start - 0.05, whole.end + 0.05, [whole]) == 0
    assert sentences_cut(whole.start, (middle.start + middle.end) / 2 - 0.01, [whole]) > 0
