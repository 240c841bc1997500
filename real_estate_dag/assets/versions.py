"""Model parts of asset code versions: an analysis asset's own logic version plus the backend and
weights digest its capability resolves to, so a model change marks exactly the assets it affects
(and, through Dagster's staleness, everything downstream)."""

from collections.abc import Iterable, Mapping

from dagster import AssetsDefinition, AssetSpec, map_asset_specs

# room_labels fuses the detector's object evidence with the room model's probabilities
MODEL_CAPABILITIES = {"shot_boundaries": ("shots",), "room_labels": ("detector", "rooms"),
                      "quality_scores": ("quality",), "detected_objects": ("detector",),
                      "photo_analysis": ("detector", "rooms", "quality", "superres"), "narration": ("speech",),
                      "moderation": ("moderation",), "agent_intro": ("detector", "segmentation")}


def with_model_versions(assets: Iterable[AssetsDefinition], versions: Mapping[str, str]) -> list[AssetsDefinition]:
    """``assets`` with ``+<backend>@<digest>`` after the code version of each model-backed asset;
    ``versions`` maps a capability to its backend (``ModelRegistry.code_versions()``)."""

    def versioned(spec: AssetSpec) -> AssetSpec:
        capabilities = MODEL_CAPABILITIES.get(spec.key.path[-1])
        if capabilities is None:
            return spec
        models = "+".join(versions[c] for c in capabilities)
        return spec.replace_attributes(code_version=f"{spec.code_version}+{models}")

    return list(map_asset_specs(versioned, assets))
