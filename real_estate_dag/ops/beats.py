"""Beats, downbeats, tempo and loudness of the music track, and the beat grid as a picture.

Beats come from librosa's dynamic-programming beat tracker on its onset envelope. The tempo is
chosen among the autocorrelation tempogram's candidate T, T/2 and 2T under a log-normal prior
around ``PRIOR_BPM`` (music for a walkthrough is rarely outside 70-160 BPM), which keeps a tracker
from locking on half or double time; the confidence is how much more the onsets repeat at the
tempo's period than one and a half periods later (0: no more, as in noise; 1: only at the period).
Downbeats are the beat phase (of ``BEATS_PER_BAR``) with the strongest low-frequency onsets, where
kick drums and bass notes fall. Loudness is EBU R128 integrated loudness measured by ffmpeg's
``ebur128`` filter.
"""

import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from real_estate_dag.ops.audio import decode_mono
from real_estate_dag.ops.ffmpeg import FfmpegError, ffmpeg_exe
from real_estate_dag.ops.visuals import BACKGROUND, CURVE, GRID, INK, MUTED, font

RATE = 22050
HOP = 512
PRIOR_BPM = 110.0
PRIOR_OCTAVES = 0.5  # the prior's standard deviation, in octaves of tempo
BEATS_PER_BAR = 4
MAX_ANALYSED_S = 600.0


@dataclass(frozen=True)
class MusicBeats:
    tempo_bpm: float
    tempo_confidence: float  # 0 (no clear pulse) .. 1
    beats_s: tuple[float, ...]
    downbeats_s: tuple[float, ...]
    beats_per_bar: int
    loudness_lufs: float | None  # None when the track is silent
    duration_s: float

    @property
    def beat_s(self) -> float:
        return 60.0 / self.tempo_bpm if self.tempo_bpm > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def beats_from_dict(data: dict[str, Any]) -> MusicBeats:
    return MusicBeats(**{**data, "beats_s": tuple(data["beats_s"]), "downbeats_s": tuple(data["downbeats_s"])})


def _choose_tempo(onset: np.ndarray) -> tuple[float, float]:
    """Tempo (BPM) and its confidence from the autocorrelation tempogram, guarded against octave errors."""
    import librosa

    tempogram = librosa.feature.tempogram(onset_envelope=onset, sr=RATE, hop_length=HOP)
    strength = tempogram.mean(axis=1)
    bpms = librosa.tempo_frequencies(len(strength), sr=RATE, hop_length=HOP)
    usable = np.isfinite(bpms) & (bpms >= 40) & (bpms <= 240)
    if not usable.any() or strength[usable].max() <= 0:
        return 0.0, 0.0
    raw = float(librosa.feature.tempo(onset_envelope=onset, sr=RATE, hop_length=HOP, start_bpm=PRIOR_BPM)[0])

    def support(bpm: float) -> float:
        return float(np.interp(bpm, bpms[usable][::-1], strength[usable][::-1]))

    def prior(bpm: float) -> float:
        return float(np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2))

    candidates = [b for b in (raw / 2, raw, raw * 2) if 40 <= b <= 240]
    tempo = max(candidates, key=lambda b: support(b) * prior(b))
    # a pulse repeats at its period and not half a period later; noise decays alike at both lags
    off_beat = support(tempo / 1.5)
    confidence = (support(tempo) - off_beat) / (support(tempo) + 1e-9)
    return round(tempo, 2), round(float(np.clip(confidence, 0.0, 1.0)), 3)


def _on_onset_peaks(frames: np.ndarray, onset: np.ndarray, window_s: float = 0.07) -> np.ndarray:
    """Each tracked beat moved to the strongest onset within ``window_s``: the tracker holds one
    period throughout, so a tempo a little off its true value puts beats just before or after the hits."""
    reach = max(1, round(window_s * RATE / HOP))
    moved = []
    for frame in frames:
        low, high = max(0, frame - reach), min(len(onset), frame + reach + 1)
        moved.append(low + int(np.argmax(onset[low:high])))
    return np.unique(np.array(moved, dtype=int))


def integrated_loudness(path: Path, duration_s: float) -> float | None:
    """EBU R128 integrated loudness (LUFS) of the first ``duration_s`` seconds, or None for silence."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-t", f"{duration_s:.3f}", "-i", str(path),
                           "-vn", "-af", "ebur128", "-f", "null", "-"], capture_output=True, text=True, timeout=300,
                          check=False)
    if proc.returncode != 0:
        raise FfmpegError(f"measuring the loudness of {path.name} failed: {proc.stderr.strip()[-500:]}")
    found = re.findall(r"I:\s+(-?[\d.]+|-inf) LUFS", proc.stderr)
    if not found or found[-1] == "-inf" or float(found[-1]) < -69.0:
        return None
    return float(found[-1])


def analyse_music(path: Path) -> MusicBeats:
    import librosa

    samples = decode_mono(path, 0.0, MAX_ANALYSED_S, rate=RATE).astype(np.float32)
    duration = len(samples) / RATE
    loudness = integrated_loudness(path, min(duration, MAX_ANALYSED_S)) if duration else None
    if len(samples) < RATE * 2 or float(np.abs(samples).max(initial=0.0)) < 1e-4:
        return MusicBeats(0.0, 0.0, (), (), BEATS_PER_BAR, loudness, round(duration, 3))
    onset = librosa.onset.onset_strength(y=samples, sr=RATE, hop_length=HOP)
    tempo, confidence = _choose_tempo(onset)
    if tempo <= 0:
        return MusicBeats(0.0, 0.0, (), (), BEATS_PER_BAR, loudness, round(duration, 3))
    # twice: the tempogram's lag bins are coarse, the first pass's beats measure the period finer
    for _ in range(2):
        _, frames = librosa.beat.beat_track(onset_envelope=onset, sr=RATE, hop_length=HOP, bpm=tempo,
                                            tightness=400, trim=True)
        frames = _on_onset_peaks(frames, onset)
        if len(frames) < 4:
            break
        times = frames * HOP / RATE
        period = float(np.polyfit(np.arange(len(times)), times, 1)[0])  # least squares: finer than one frame
        tempo = round(60.0 / period, 2)
    beats = librosa.frames_to_time(frames, sr=RATE, hop_length=HOP)
    low = librosa.onset.onset_strength(y=samples, sr=RATE, hop_length=HOP, fmax=250.0, n_mels=32)
    downbeats: np.ndarray = beats[:0]
    if len(beats) >= BEATS_PER_BAR:
        at = np.clip(frames, 0, len(low) - 1)
        accents = [float(low[at[phase::BEATS_PER_BAR]].mean()) for phase in range(BEATS_PER_BAR)]
        downbeats = beats[int(np.argmax(accents))::BEATS_PER_BAR]
    return MusicBeats(tempo, confidence, tuple(round(float(b), 4) for b in beats),
                      tuple(round(float(b), 4) for b in downbeats), BEATS_PER_BAR, loudness, round(duration, 3))


def beat_grid_picture(beats: MusicBeats, cuts_s: list[float], length_s: float, width: int = 900) -> Image.Image:
    """The showcase's time line: beats (thin), downbeats (thick) and the cuts (red) placed on them."""
    height = 120
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 10, width - 10, 24, height - 22
    span = max(length_s, 1e-6)

    def x(t: float) -> float:
        return left + (right - left) * t / span

    downbeats = set(beats.downbeats_s)
    for b in beats.beats_s:
        if b > length_s:
            break
        draw.line([(x(b), top + (0 if b in downbeats else 30)), (x(b), bottom)],
                  fill=INK if b in downbeats else GRID, width=2 if b in downbeats else 1)
    for cut in cuts_s:
        draw.line([(x(cut), top - 6), (x(cut), bottom + 6)], fill=CURVE, width=3)
    draw.line([(left, bottom), (right, bottom)], fill=MUTED)
    draw.text((left, 4), f"{beats.tempo_bpm:g} BPM (confidence {beats.tempo_confidence:.2f}); "
                         "black: bars, grey: beats, red: cuts", font=font(12), fill=INK)
    draw.text((left, bottom + 6), "0 s", font=font(11), fill=MUTED)
    draw.text((right - 40, bottom + 6), f"{length_s:.1f} s", font=font(11), fill=MUTED)
    return image
