"""Music with a known tempo for the beat tests: a click track (accented downbeats) under a melody."""

import wave
from pathlib import Path

import numpy as np

RATE = 44100


def click_track(path: Path, bpm: float, seconds: float, first_beat_s: float = 0.0, beats_per_bar: int = 4) -> Path:
    """A 16-bit mono WAV: a low, loud click on each bar's first beat, a high, softer one on the others,
    and a sine melody changing note every beat."""
    t = np.arange(int(seconds * RATE)) / RATE
    signal = np.zeros_like(t)
    beat = 60.0 / bpm
    notes = [261.6, 329.6, 392.0, 523.3, 440.0, 349.2]
    for k, start in enumerate(np.arange(first_beat_s, seconds, beat)):
        n = int(start * RATE)
        length = min(int(0.06 * RATE), len(t) - n)
        envelope = np.exp(-np.arange(length) / (0.012 * RATE))
        downbeat = k % beats_per_bar == 0
        frequency, gain = (80.0, 1.0) if downbeat else (1800.0, 0.5)
        signal[n:n + length] += gain * envelope * np.sin(2 * np.pi * frequency * np.arange(length) / RATE)
        note = slice(n, min(len(t), n + int(beat * RATE)))
        signal[note] += 0.08 * np.sin(2 * np.pi * notes[k % len(notes)] * t[note])
    pcm = (np.clip(signal / np.abs(signal).max(), -1, 1) * 0.8 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return path


def noise(path: Path, seconds: float, seed: int = 0) -> Path:
    """White noise: sound with no pulse."""
    pcm = (np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 0.2 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return path
