"""Audio read-back for checks: does a rendered file carry sound, and is it the music that was given?"""

from pathlib import Path

import av
import numpy as np

RATE = 16000
MUSIC_SIMILARITY = 0.8  # spectral similarity above which a render's sound counts as the music
FADE_IN_S, FADE_OUT_S = 1.5, 2.0  # as render.py fades the music


def has_audio_stream(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def decode_mono(path: Path, start_s: float, duration_s: float, rate: int = RATE) -> np.ndarray:
    """Mono float32 samples at ``rate`` Hz from ``start_s`` for ``duration_s`` (fewer if the file ends)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            for resampled in resampler.resample(frame):
                chunks.append(resampled.to_ndarray().reshape(-1))
            if frame.time is not None and frame.time > start_s + duration_s + 1:
                break
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    first = round(start_s * rate)
    return samples[first : first + round(duration_s * rate)]


def spectrum(samples: np.ndarray, window: int = 2048) -> np.ndarray:
    """Mean power spectrum over Hann-windowed frames, normalised to unit length."""
    if len(samples) < window:
        raise ValueError(f"need at least {window} samples, got {len(samples)}")
    hops = range(0, len(samples) - window + 1, window // 2)
    taper = np.hanning(window)
    power = np.mean([np.abs(np.fft.rfft(samples[i : i + window] * taper)) ** 2 for i in hops], axis=0)
    return power / (np.linalg.norm(power) + 1e-12)


def spectral_similarity(a: Path, b: Path, start_s: float, duration_s: float) -> float:
    """Cosine similarity (0..1) of the mean power spectra of two files over the same span of time.

    Near 1 when both carry the same sound (gain and a few milliseconds of codec delay do not
    matter); low when they carry different sounds.
    """
    return float(spectrum(decode_mono(a, start_s, duration_s)) @ spectrum(decode_mono(b, start_s, duration_s)))


def audio_problems(rendered: list[tuple[Path, float]], music: Path | None, music_s: float) -> list[str]:
    """What is wrong with the sound of rendered ``(file, duration)`` pairs: a missing audio stream, or,
    when ``music`` (``music_s`` long) was given, a sound that is not that music."""
    problems = []
    for file, duration_s in rendered:
        if not has_audio_stream(file):
            problems.append(f"{file.name}: no audio stream")
            continue
        if music is None:
            continue
        # After the fade-in, within the first pass of the (looped) music and before the fade-out.
        span = min(5.0, music_s - FADE_IN_S, duration_s - FADE_OUT_S - FADE_IN_S)
        if span >= 0.5:
            similarity = spectral_similarity(file, music, FADE_IN_S, span)
            if similarity < MUSIC_SIMILARITY:
                problems.append(f"{file.name}: the sound is not the music (spectral similarity {similarity:.2f})")
    return problems
