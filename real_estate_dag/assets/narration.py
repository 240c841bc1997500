"""narration: each video's speech (silero-vad), words and sentences with times (faster-whisper), keywords."""

import time

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from real_estate_dag.assets.common import GROUP, OWNERS, property_partitions, publish_table, table
from real_estate_dag.assets.manifest import verify_inputs
from real_estate_dag.gpu_resources.provenance import provenance
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.speech import Transcript, highlights, keywords, load_audio
from real_estate_dag.resources.safety import NARRATION, NarrationSettings
from real_estate_dag.resources.store import Store
from real_estate_dag.retries import transient_retries


@asset(
    resource_defs={"narration_settings": NARRATION.from_env()},
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "json"},
    code_version="narration-v2",
    description="Each video's narration: speech spans (silero-vad), then faster-whisper inside them: "
    "sentences and words with times and confidence, the language, and key phrases with the sentence "
    "that says them (lower-thirds). Published as transcript.json and captions with the showcase.",
)
def narration(context: AssetExecutionContext, store: Store, models: ModelRegistry,
              narration_settings: NarrationSettings, property_manifest: dict) -> MaterializeResult:
    with transient_retries(context):
        verify_inputs(store, property_manifest)
        return _narrate(context, store, models, narration_settings, property_manifest)


def _narrate(context: AssetExecutionContext, store: Store, models: ModelRegistry, settings: NarrationSettings,
             property_manifest: dict) -> MaterializeResult:
    vad = models.vad_model()
    recogniser = None
    videos, words, rows, lower_thirds = [], [], [], []
    started = time.perf_counter()
    footage_s = 0.0
    for video in property_manifest["videos"]:
        name = video["name"]
        footage_s += video["facts"]["duration_s"]
        audio = load_audio(store.local_path(video["key"])) if video["facts"]["has_audio"] else None
        spans = vad.speech_spans(audio) if audio is not None else []
        if spans:
            recogniser = recogniser or models.recognition_model()
            transcript = recogniser.transcribe(audio, spans, settings.language)
        else:
            transcript = Transcript(language="", language_probability=0.0, segments=())
        phrases = keywords(transcript)
        found = highlights(name, transcript, phrases)
        lower_thirds += found
        videos.append({"video": name, "speech": [[round(s, 3), round(e, 3)] for s, e in spans],
                       "speech_s": round(sum(e - s for s, e in spans), 3), **transcript.to_dict(),
                       "confidence": transcript.confidence, "keywords": phrases, "highlights": found})
        words += [{"video": name, "sentence": i, **w.__dict__} for i, s in enumerate(transcript.segments)
                  for w in s.words]
        rows.append({"video": name, "speech_s": videos[-1]["speech_s"], "words": len(transcript.words),
                     "language": transcript.language, "confidence": transcript.confidence,
                     "keywords": ", ".join(phrases), "text": transcript.text[:300]})
    seconds = time.perf_counter() - started
    ran = [vad] + ([recogniser] if recogniser else [])
    sources = {m.backend.capability: provenance(m) for m in ran}
    url = publish_table(store, context.partition_key, "narration", words)
    context.log.info(f"narration: {sum(r['words'] for r in rows)} words in {len(videos)} video(s), "
                     f"{seconds:.1f} s for {footage_s:.1f} s of footage")
    return MaterializeResult(
        value={"videos": videos, "provenance": sources, "seconds": round(seconds, 2),
               "settings": {"burn_in_captions": bool(settings.burn_in_captions), "duck_ratio": settings.duck_ratio}},
        metadata={
            "videos": table(rows),
            "keywords": MetadataValue.text(", ".join(dict.fromkeys(p for v in videos for p in v["keywords"]))
                                           or "none"),
            "lower_thirds": table(lower_thirds, columns=("video", "keyword", "start_s", "end_s", "sentence")),
            "words": sum(r["words"] for r in rows),
            "speech_s": round(sum(v["speech_s"] for v in videos), 3),
            "seconds_per_footage_minute": round(60 * seconds / max(footage_s, 1e-9), 2),
            "table_url": MetadataValue.url(url),
            **{f"{capability}_backend": p["backend"] for capability, p in sources.items()},
            **{f"{capability}_device": p["device"] for capability, p in sources.items()},
        },
    )
