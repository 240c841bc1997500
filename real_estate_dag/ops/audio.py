"""Audio read-back for checks: does a rendered file carry sound, and is it the music that was given?"""

from pathlib import Path

import av
import numpy as np

RATE = 16000
WINDOW = 2048  # samples per spectrum frame (128 ms)
MUSIC_SIMILARITY = 0.8  # spectral similarity above which a render's sound counts as the music
SILENCE_RMS = 10 ** (-60 / 20)  # a frame quieter than -60 dBFS is silence
FADE_IN_S, FADE_OUT_S = 1.5, 2.0  # as render.py fades the music
SPAN_S = 5.0  # how much of each render is compared with the music


def has_audio_stream(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def decode_mono(path: Path, start_s: float, duration_s: float, rate: int = RATE) -> np.ndarray:
    """Mono float32 samples at ``rate`` Hz from ``start_s`` for ``duration_s`` (fewer if the file ends,
    or stops decoding: a truncated file gives what precedes the damage)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        try:
            for frame in container.decode(stream):
                for resampled in resampler.resample(frame):
                    chunks.append(resampled.to_ndarray().reshape(-1))
                if frame.time is not None and frame.time > start_s + duration_s + 1:
                    break
        except av.error.InvalidDataError:
            pass
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    first = round(start_s * rate)
    return samples[first : first + round(duration_s * rate)]


def _frames(samples: np.ndarray) -> np.ndarray:
    """Half-overlapping windows of ``samples``, one per row (none when shorter than a window)."""
    if len(samples) < WINDOW:
        return np.zeros((0, WINDOW), dtype=np.float32)
    return np.lib.stride_tricks.sliding_window_view(samples, WINDOW)[:: WINDOW // 2]


def _rms(frames: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))


def spectrum(frames: np.ndarray) -> np.ndarray:
    """Mean power spectrum of Hann-windowed ``frames``, normalised to unit length."""
    power = np.mean(np.abs(np.fft.rfft(frames * np.hanning(WINDOW), axis=1)) ** 2, axis=0)
    return power / (np.linalg.norm(power) + 1e-12)


def spectral_similarity(a: Path, b: Path, start_s: float, duration_s: float) -> float:
    """Cosine similarity (0..1) of the mean power spectra of two files over the same span of time.

    Near 1 when both carry the same sound (gain and a few milliseconds of codec delay do not
    matter); low when they carry different sounds.
    """
    frames_a, frames_b = (_frames(decode_mono(f, start_s, duration_s)) for f in (a, b))
    if not len(frames_a) or not len(frames_b):
        raise ValueError(f"{a.name} or {b.name} has under {WINDOW / RATE:.3f} s of sound from {start_s} s")
    return float(spectrum(frames_a) @ spectrum(frames_b))


def looped(samples: np.ndarray, length: int) -> np.ndarray:
    """``samples`` repeated to ``length``, as the render loops music shorter than the showcase."""
    return np.resize(samples, length) if len(samples) else np.zeros(length, dtype=np.float32)


def music_problem(file: Path, duration_s: float, music: Path) -> str | None:
    """Why the sound of ``file`` (``duration_s`` long) is not ``music`` as the render mixes it, or None.

    Compared after the fade-in and before the fade-out, against the music looped from its start
    (the music's real decoded length counts, not what its header claims). Silence is judged by
    level in both; spectra are compared only over frames where the music has signal.
    """
    span = min(SPAN_S, duration_s - FADE_IN_S - FADE_OUT_S)
    if span * RATE < WINDOW:
        return None  # too short a showcase to tell
    end = round((FADE_IN_S + span) * RATE)
    expected = looped(decode_mono(music, 0.0, FADE_IN_S + span), end)[round(FADE_IN_S * RATE):]
    heard = decode_mono(file, FADE_IN_S, span)
    frames_expected, frames_heard = _frames(expected), _frames(heard)
    if len(frames_heard) < len(frames_expected):
        return f"{file.name}: the sound ends {len(heard) / RATE + FADE_IN_S:.2f} s in, before the video does"
    frames_heard = frames_heard[: len(frames_expected)]
    signal = _rms(frames_expected) > SILENCE_RMS
    if not signal.any():
        loud = _rms(frames_heard) > SILENCE_RMS
        return f"{file.name}: the music is silent but the sound is not" if loud.mean() > 0.5 else None
    if not (_rms(frames_heard[signal]) > SILENCE_RMS).any():
        return f"{file.name}: the sound is silent where the music plays"
    similarity = float(spectrum(frames_expected[signal]) @ spectrum(frames_heard[signal]))
    if similarity < MUSIC_SIMILARITY:
        return f"{file.name}: the sound is not the music (spectral similarity {similarity:.2f})"
    return None


def audio_problems(rendered: list[tuple[Path, float]], music: Path | None) -> list[str]:
    """What is wrong with the sound of rendered ``(file, duration)`` pairs: a missing audio stream, or,
    when ``music`` was given, a sound that is not that music."""
    problems = []
    for file, duration_s in rendered:
        if not has_audio_stream(file):
            problems.append(f"{file.name}: no audio stream")
        elif music is not None and (problem := music_problem(file, duration_s, music)):
            problems.append(problem)
    return problems
