"""Narration: transcripts with word times, keywords and highlights, captions on the showcase's time line,
and where a cut may fall (in a pause, never inside a word)."""

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import srt

SAMPLE_RATE = 16000
MAX_CUE_WORDS = 8
MAX_KEYWORDS = 8
# RAKE splits a sentence into candidate phrases at these words (and punctuation).
_STOPWORD_TEXT = """
a about above after again all also am an and any are as at be been before being below between both but by can
come could did do does doing down during each even every few for from further get gets got had has have having he
her here hers herself him himself his how i if in into is it its itself just let lets like look looks me more most
my myself no nor not now of off on once only or other our ours ourselves out over own really right same see she
should so some such than that the their theirs them themselves then there these they this those through to too
under until up upon us very want was we welcome were what when where which while who whom why will with would you
your yours yourself yourselves there's it's that's here's we've you'll you're we're i'm let's
one two three four lot lots great nice beautiful amazing wonderful thing things way well also take taking go going
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Segment:
    """One sentence-like stretch of speech as the recogniser split it."""

    text: str
    start: float
    end: float
    confidence: float  # mean word probability
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Transcript:
    language: str
    language_probability: float
    segments: tuple[Segment, ...]

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)

    @property
    def confidence(self) -> float:
        """Mean word probability (0 without words)."""
        words = self.words
        return round(sum(w.probability for w in words) / len(words), 3) if words else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Transcript":
        return cls(data["language"], data["language_probability"], tuple(
            Segment(s["text"], s["start"], s["end"], s["confidence"], tuple(Word(**w) for w in s["words"]))
            for s in data["segments"]))


def sentences(runs: Iterable[Sequence[Word]]) -> tuple[Segment, ...]:
    """Sentences from runs of words (the recogniser's segments): a sentence ends at a word ending in
    . ! or ? and at the end of a run; its confidence is its words' mean probability."""
    found: list[Segment] = []
    for run in runs:
        current: list[Word] = []
        for word in run:
            current.append(word)
            if word.text.endswith((".", "!", "?")) or word is run[-1]:
                found.append(Segment(" ".join(w.text for w in current), current[0].start, current[-1].end,
                                     round(sum(w.probability for w in current) / len(current), 3), tuple(current)))
                current = []
    return tuple(found)


def load_audio(path: Path) -> Any:
    """A file's first audio stream as 16 kHz mono float32 samples."""
    from real_estate_dag.ops.audio import decode_mono

    return decode_mono(path, 0.0, 1e9, rate=SAMPLE_RATE)


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference's length, on lower-cased words."""
    ref, hyp = tokens(reference), tokens(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1] / max(1, len(ref))


def keywords(transcript: Transcript, limit: int = MAX_KEYWORDS) -> list[str]:
    """Key phrases ("quartz countertops", "new roof") by RAKE: runs of words between stopwords and
    punctuation, scored by the summed degree/frequency of their words; ties in order of first use."""
    phrases: list[tuple[str, ...]] = []
    for segment in transcript.segments:
        for clause in re.split(r"[.,;:!?()\-–—]", segment.text.lower()):
            run: list[str] = []
            for token in [*tokens(clause), ""]:
                if token and token not in STOPWORDS and not token.isdigit():
                    run.append(token)
                    continue
                if run and (len(run) > 1 or len(run[0]) > 3):
                    phrases.append(tuple(run[:3]))
                run = []
    frequency: Counter[str] = Counter()
    degree: Counter[str] = Counter()
    for phrase in phrases:
        for word in phrase:
            frequency[word] += 1
            degree[word] += len(phrase)
    first = {p: i for i, p in reversed(list(enumerate(phrases)))}
    scored = sorted(first, key=lambda p: (-sum(degree[w] / frequency[w] for w in p), first[p]))
    return [" ".join(p) for p in scored[:limit]]


def highlights(video: str, transcript: Transcript, phrases: Sequence[str]) -> list[dict[str, Any]]:
    """Each key phrase with the sentence that first says it and that sentence's times: lower-thirds."""
    rows = []
    for phrase in phrases:
        for segment in transcript.segments:
            if " " + phrase + " " in " " + " ".join(tokens(segment.text)) + " ":
                rows.append({"video": video, "keyword": phrase, "start_s": segment.start, "end_s": segment.end,
                             "sentence": segment.text})
                break
    return rows


def naming_spans(transcript: Transcript, names: Iterable[str]) -> list[tuple[float, float]]:
    """The sentences that say any of ``names`` (an agent's full or last name, a brokerage), as (start, end)."""
    wanted = [tokens(n) for n in names if tokens(n)]
    spans = []
    for segment in transcript.segments:
        said = tokens(segment.text)
        if any(said[i:i + len(n)] == n for n in wanted for i in range(len(said) - len(n) + 1)):
            spans.append((segment.start, segment.end))
    return spans


def agent_names(agent_name: str, brokerage: str) -> list[str]:
    """What counts as naming the agent or brokerage: the full name, the surname, the brokerage."""
    parts = agent_name.split()
    return [n for n in dict.fromkeys([agent_name, parts[-1] if len(parts) > 1 else "", brokerage]) if n.strip()]


# --- cut points -------------------------------------------------------------------------------------------


def inside_word(t: float, words: Sequence[Word]) -> Word | None:
    return next((w for w in words if w.start < t < w.end), None)


def snap_to_pause(t: float, words: Sequence[Word], low: float, high: float) -> float:
    """``t`` if it lies in a pause, else the nearest point in ``[low, high]`` that does: the middle of
    the pause before or after the word it cuts (at most 0.2 s from the word)."""
    word = inside_word(t, words)
    if word is None:
        return t
    ordered = sorted(words, key=lambda w: w.start)
    i = ordered.index(word)
    before = ordered[i - 1].end if i > 0 else word.start - 0.4
    after = ordered[i + 1].start if i + 1 < len(ordered) else word.end + 0.4
    options = [max(word.start - 0.2, (before + word.start) / 2), min(word.end + 0.2, (word.end + after) / 2)]
    fitting = [o for o in options if low <= o <= high and inside_word(o, words) is None]
    return min(fitting, key=lambda o: abs(o - t)) if fitting else t


def snap_window(start: float, end: float, words: Sequence[Word], low: float, high: float) -> tuple[float, float]:
    """A clip's in and out points moved into pauses (``snap_to_pause``), inside ``[low, high]``."""
    if not words:
        return start, end
    return snap_to_pause(start, words, low, end), snap_to_pause(end, words, start, high)


def mute_spans(transcript: Transcript, names: Iterable[str], in_s: float, out_s: float) -> list[tuple[float, float]]:
    """The sentences naming ``names`` inside a clip ``[in_s, out_s]``, in seconds from the clip's start."""
    return [(max(0.0, s - in_s), min(out_s, e) - in_s) for s, e in naming_spans(transcript, names)
            if e > in_s and s < out_s]


def sentences_cut(start: float, end: float, segments: Sequence[Segment]) -> int:
    """How many words a window loses from the sentences it cuts (a sentence it holds whole, or misses
    entirely, costs nothing)."""
    lost = 0
    for segment in segments:
        kept = [start <= (w.start + w.end) / 2 <= end for w in segment.words]
        if any(kept) and not all(kept):
            lost += kept.count(False)
    return lost


# --- captions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where a clip of source video plays on the showcase's time line."""

    video: str
    in_s: float
    out_s: float
    at_s: float  # showcase time of in_s


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def placements(clips: Sequence[dict[str, Any]], title_s: float, crossfade_s: float) -> list[Placement]:
    """The clips of an edit decision list as the render lays them out: after the title card, each
    starting a crossfade before the previous one ends."""
    at, found = title_s - crossfade_s, []
    for clip in clips:
        found.append(Placement(clip["video"], clip["in_s"], clip["out_s"], at))
        at += clip["duration_s"] - crossfade_s
    return found


def caption_cues(layout: Sequence[Placement], transcripts: dict[str, Transcript]) -> list[Cue]:
    """Caption cues on the showcase time line: the words each clip keeps, a sentence at a time (split
    past ``MAX_CUE_WORDS``), never overlapping the previous cue."""
    cues: list[Cue] = []
    for place in layout:
        transcript = transcripts.get(place.video)
        if transcript is None:
            continue
        for segment in transcript.segments:
            kept = [w for w in segment.words if place.in_s <= (w.start + w.end) / 2 <= place.out_s]
            for i in range(0, len(kept), MAX_CUE_WORDS):
                chunk = kept[i:i + MAX_CUE_WORDS]
                start = place.at_s + max(0.0, chunk[0].start - place.in_s)
                end = place.at_s + min(place.out_s, chunk[-1].end) - place.in_s
                if cues and start < cues[-1].end:
                    start = cues[-1].end
                if end - start >= 0.1:
                    cues.append(Cue(round(start, 3), round(end, 3), " ".join(w.text for w in chunk)))
    return cues


def to_srt(cues: Sequence[Cue]) -> str:
    return srt.compose([srt.Subtitle(i, timedelta(seconds=c.start), timedelta(seconds=c.end), c.text)
                        for i, c in enumerate(cues, 1)])


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"


def to_vtt(cues: Sequence[Cue]) -> str:
    body = "".join(f"{_vtt_time(c.start)} --> {_vtt_time(c.end)}\n{c.text}\n\n" for c in cues)
    return "WEBVTT\n\n" + body


def keeps_voice(transcript: Transcript | None, in_s: float, out_s: float) -> bool:
    """Whether a clip of ``[in_s, out_s]`` holds any narrated word (its sound is then kept)."""
    return transcript is not None and any(in_s <= (w.start + w.end) / 2 <= out_s for w in transcript.words)


def narration_files(folder: Path, videos: Sequence[dict[str, Any]], edl: Sequence[dict[str, Any]]) -> dict[str, Path]:
    """transcript.json (per video: language, confidence, keywords, segments and words with times) and
    narration.srt / narration.vtt on the showcase time line of ``edl`` (clips with showcase_in_s)."""
    import json

    transcripts = {v["video"]: Transcript.from_dict(v) for v in videos}
    layout = [Placement(c["video"], c["in_s"], c["out_s"], c["showcase_in_s"])
              for c in edl if c["video"] in transcripts]
    cues = caption_cues(layout, transcripts)
    body = {"videos": [{k: v[k] for k in ("video", "language", "language_probability", "confidence", "speech",
                                          "keywords", "highlights", "segments")} for v in videos]}
    files = {"transcript.json": folder / "transcript.json", "narration.srt": folder / "narration.srt",
             "narration.vtt": folder / "narration.vtt"}
    files["transcript.json"].write_text(json.dumps(body, indent=1), encoding="utf-8")
    files["narration.srt"].write_text(to_srt(cues), encoding="utf-8")
    files["narration.vtt"].write_text(to_vtt(cues), encoding="utf-8")
    return files
