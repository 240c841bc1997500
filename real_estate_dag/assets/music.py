"""music_beats: tempo, beats, downbeats and loudness of the manifest's music track."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from real_estate_dag.assets.common import GROUP, OWNERS, property_partitions
from real_estate_dag.ops.beats import BEATS_PER_BAR, PRIOR_BPM, analyse_music
from real_estate_dag.resources.store import Store
from real_estate_dag.retries import transient_retries


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "librosa"},
    code_version="beats-v1",
    description=f"The music's beat grid: librosa beat tracking with a tempo prior around {PRIOR_BPM:g} BPM "
    f"(against half and double time), downbeats every {BEATS_PER_BAR} beats from the low-frequency "
    "accents, and EBU R128 integrated loudness. Empty when the manifest gives no music.",
)
def music_beats(context: AssetExecutionContext, store: Store, property_manifest: dict) -> MaterializeResult:
    with transient_retries(context):
        music = property_manifest["music"]
        if music is None:
            return MaterializeResult(value={"beats": None}, metadata={"music": "(none: source audio)"})
        beats = analyse_music(store.local_path(music["key"]))
        context.log.info(f"{music['name']}: {beats.tempo_bpm:g} BPM (confidence {beats.tempo_confidence:.2f}), "
                         f"{len(beats.beats_s)} beats, {len(beats.downbeats_s)} bars, "
                         f"{beats.loudness_lufs if beats.loudness_lufs is not None else 'silent'} LUFS")
        return MaterializeResult(
            value={"beats": beats.to_dict()},
            metadata={
                "music": music["name"],
                "tempo_bpm": beats.tempo_bpm,
                "tempo_confidence": beats.tempo_confidence,
                "beat_count": len(beats.beats_s),
                "bar_count": len(beats.downbeats_s),
                "loudness_lufs": MetadataValue.float(beats.loudness_lufs) if beats.loudness_lufs is not None
                else MetadataValue.text("silent"),
                "duration_s": beats.duration_s,
            },
        )
