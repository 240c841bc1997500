"""`real-estate-dag rooms eval|fit` on room folders made of frames of the packaged footage, and the room head
setting: its file's digest in exactly room_labels' code version, a bad file named in a clear error."""

import re
from pathlib import Path

import numpy as np
import pytest
from media_helpers import ffmpeg

from real_estate_dag.cli import main
from real_estate_dag.definitions import location_assets
from real_estate_dag.gpu_resources.backends import digest_of, resolve_rooms
from real_estate_dag.gpu_resources.registry import MODEL_SETTINGS, ModelRegistry
from real_estate_dag.gpu_resources.room_head import (
    PACKAGED_HEAD,
    PACKAGED_HEAD_SHA256,
    RoomHead,
    RoomHeadError,
    load_head,
)
from real_estate_dag.ops.rooms import ROOM_TYPES

# one distinct stretch of the footage per room folder; hallway is the folder name that counts as "other"
FOLDERS = {"exterior": 5, "living_room": 30, "kitchen": 55, "dining_room": 80, "bedroom": 105, "bathroom": 130,
           "outdoor": 155, "hallway": 180}
PER_FOLDER = 3
LAST = re.compile(r"^balanced accuracy (\d\.\d{3}) over (\d+) images in (\d+) classes$")


@pytest.fixture(scope="module")
def rooms_dir(source_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rooms")
    for folder, start in FOLDERS.items():
        (root / folder).mkdir()
        ffmpeg("-ss", str(start), "-i", str(source_video), "-vf", "fps=1", "-frames:v", str(PER_FOLDER),
               str(root / folder / "frame%02d.jpg"))
    (root / "kitchen" / "notes.txt").write_text("not a photo: ignored")
    return root


@pytest.fixture(autouse=True)
def offline_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in MODEL_SETTINGS.variables.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("REDAG_DEVICE", "cpu")


def backbone_tag() -> str:
    return resolve_rooms(head="none")[-1].backbone_tag


def run_rooms(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["rooms", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def confusion_of(lines: list[str]) -> dict[str, list[int]]:
    header = next(i for i, line in enumerate(lines) if line.startswith("true \\ predicted"))
    assert lines[header].split()[3:] == list(ROOM_TYPES)
    rows = {}
    for line in lines[header + 1:]:
        if not line:
            break
        room, *counts = line.split()
        rows[room] = [int(c) for c in counts]
    return rows


def test_eval_prints_recall_per_class_the_confusion_matrix_and_the_balanced_accuracy_last(
        rooms_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDAG_BATCH_SIZE", "5")  # several batches, the last one short
    code, lines, err = run_rooms(capsys, "eval", str(rooms_dir))
    assert code == 0, err
    assert lines[0] == f"room model {resolve_rooms()[-1].version_tag} on cpu"
    assert re.fullmatch(r"object evidence from yolov4-tiny-coco:opencv-dnn@[0-9a-f]{12} at 320 px, weight 3, "
                        r"confidence 0.2", lines[1])
    assert "classified 5/24 photos" in err and err.rstrip().endswith("classified 24/24 photos")
    confusion = confusion_of(lines)
    classes = list(ROOM_TYPES)  # hallway is counted as other, and every room type has a folder here
    assert list(confusion) == classes
    assert all(len(row) == len(ROOM_TYPES) and sum(row) == PER_FOLDER for row in confusion.values())
    recalls = []
    for room in classes:
        [line] = [line for line in lines if line.split()[:1] == [room] and len(line.split()) == 4]
        _, images, correct, recall = line.split()
        assert (int(images), int(correct)) == (PER_FOLDER, confusion[room][ROOM_TYPES.index(room)])
        assert float(recall) == pytest.approx(int(correct) / PER_FOLDER, abs=5e-4)
        recalls.append(int(correct) / PER_FOLDER)
    last = LAST.match(lines[-1])
    assert last, lines[-1]
    assert (float(last[1]), int(last[2]), int(last[3])) == (pytest.approx(np.mean(recalls), abs=5e-4), 24, 8)


def test_a_head_fitted_on_the_photos_labels_them_all_right_and_is_recorded(
        rooms_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    head_file = tmp_path / "head.safetensors"
    # a small penalty: 3 photos a room are too few to choose one by cross-validation
    code, lines, err = run_rooms(capsys, "fit", str(rooms_dir), "--out", str(head_file), "--l2", "1e-4")
    assert code == 0, err
    assert lines[-1].startswith(f"wrote {head_file} (sha256 {digest_of(head_file)}, 8 classes on {backbone_tag()})")
    assert head_file.stat().st_size < 64 * 1024
    head = load_head(head_file)
    assert head.classes == ROOM_TYPES and head.backbone == backbone_tag() and head.weight.shape == (8, 1280)
    assert head.fit["images"] == dict.fromkeys(ROOM_TYPES, PER_FOLDER)
    assert head.fit["l2"] == 1e-4 and head.fit["train_balanced_accuracy"] == 1.0

    monkeypatch.setenv("REDAG_ROOM_HEAD", str(head_file))
    code, lines, err = run_rooms(capsys, "eval", str(rooms_dir), "--object-weight", "0")  # the head alone
    assert code == 0, err
    assert lines[0] == f"room model {backbone_tag()}+head@{digest_of(head_file)[:12]} on cpu"
    confusion = confusion_of(lines)
    assert all(row[ROOM_TYPES.index(room)] == PER_FOLDER for room, row in confusion.items())
    assert lines[-1] == "balanced accuracy 1.000 over 24 images in 8 classes"


def test_a_head_keeps_the_backbone_on_rooms_it_does_not_know() -> None:
    rng = np.random.default_rng(1)
    head = RoomHead(("kitchen", "bedroom"), rng.normal(size=(2, 16)).astype(np.float32),
                    np.zeros(2, dtype=np.float32), "any")
    backbone = rng.dirichlet(np.ones(len(ROOM_TYPES)), size=4)
    embeddings = rng.normal(size=(4, 16)).astype(np.float32)
    probs = head.apply(backbone, embeddings)
    known = [ROOM_TYPES.index("kitchen"), ROOM_TYPES.index("bedroom")]
    others = [i for i in range(len(ROOM_TYPES)) if i not in known]
    np.testing.assert_allclose(probs[:, others], backbone[:, others])
    np.testing.assert_allclose(probs[:, known].sum(1), backbone[:, known].sum(1), rtol=1e-6)
    np.testing.assert_allclose(probs[:, known] / probs[:, known].sum(1, keepdims=True),
                               head.probabilities(embeddings), rtol=1e-5)


def versions_of(registry: ModelRegistry) -> dict[str, str]:
    return {spec.key.to_user_string(): spec.code_version for a in location_assets(registry) for spec in a.specs}


def test_the_head_file_digest_is_in_exactly_room_labels_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    heads = []
    for seed in (1, 2):
        path = tmp_path / f"head{seed}.safetensors"
        weight = np.random.default_rng(seed).normal(size=(8, 1280)).astype(np.float32)
        RoomHead(ROOM_TYPES, weight, np.zeros(8, dtype=np.float32), backbone_tag()).save(path)
        heads.append(path)
    default = versions_of(ModelRegistry())
    assert default["room_labels"].endswith(f"{backbone_tag()}+head@{PACKAGED_HEAD_SHA256[:12]}")
    for registry in (ModelRegistry(room_head="none"), *(ModelRegistry(room_head=str(h)) for h in heads)):
        changed = versions_of(registry)
        assert {k for k in default if changed[k] != default[k]} == {"room_labels", "photo_analysis"}
    assert versions_of(ModelRegistry(room_head="none"))["room_labels"].endswith(f"+{backbone_tag()}")
    assert versions_of(ModelRegistry(room_head=str(heads[0])))["room_labels"].endswith(
        f"+{backbone_tag()}+head@{digest_of(heads[0])[:12]}")
    # the variable reaches the setting, as a code server reads it
    monkeypatch.setenv("REDAG_ROOM_HEAD", str(heads[1]))
    from_env = MODEL_SETTINGS.from_env().process_config_and_initialize()
    assert from_env.code_versions()["rooms"] == f"{backbone_tag()}+head@{digest_of(heads[1])[:12]}"


def test_the_packaged_head_is_small_pinned_and_fitted_on_places365_train_files() -> None:
    assert PACKAGED_HEAD.stat().st_size < 1024 * 1024
    assert digest_of(PACKAGED_HEAD) == PACKAGED_HEAD_SHA256
    head = load_head(PACKAGED_HEAD)
    assert head.backbone == backbone_tag()
    assert head.fit["source"] == "rooms-dev-places365train"
    assert head.fit["l2"] in [float(k) for k in head.fit["cv_balanced_accuracy"]]  # chosen by cross-validation
    assert "exterior" not in head.classes and "other" in head.classes


def test_a_missing_or_corrupt_head_file_is_a_clear_error_naming_it(
        rooms_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "absent.safetensors"
    with pytest.raises(RoomHeadError, match=f"room head file {missing} does not exist"):
        ModelRegistry(room_head=str(missing)).code_versions()
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(RoomHeadError, match=f"room head file {corrupt} is not a safetensors file"):
        ModelRegistry(room_head=str(corrupt)).code_versions()
    other = tmp_path / "clip-head.safetensors"
    RoomHead(("kitchen", "bedroom"), np.zeros((2, 512), np.float32), np.zeros(2, np.float32),
             "open_clip:ViT-B-32@0123456789ab").save(other)
    with pytest.raises(RoomHeadError, match=f"room head file {other} was fitted on open_clip:ViT-B-32@0123456789ab, "
                                            f"but the room backends here are {re.escape(backbone_tag())}"):
        ModelRegistry(room_head=str(other)).code_versions()

    monkeypatch.setenv("REDAG_ROOM_HEAD", str(corrupt))
    code, _, err = run_rooms(capsys, "eval", str(rooms_dir))
    assert code == 1 and err.startswith(f"real-estate-dag: error: room head file {corrupt} is not a safetensors file")


def test_unknown_room_folders_and_unreadable_photos_are_errors_naming_them(
        rooms_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("garage", "kitchen", "attic"):
        (tmp_path / name).mkdir()
    code, _, err = run_rooms(capsys, "eval", str(tmp_path))
    assert (code, err) == (1, f"real-estate-dag: error: {tmp_path}: unknown room folders attic, garage; expected "
                              f"{', '.join(ROOM_TYPES)} (hallway counts as other)\n")
    (tmp_path / "garage").rmdir()
    (tmp_path / "attic").rmdir()
    broken = tmp_path / "kitchen" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    code, _, err = run_rooms(capsys, "eval", str(tmp_path))
    assert code == 1 and err.startswith(f"real-estate-dag: error: {broken}: not a readable image")
    code, _, err = run_rooms(capsys, "fit", str(tmp_path), "--out", str(tmp_path / "head.safetensors"))
    assert code == 1 and "a head needs photos of at least two rooms, found only kitchen" in err
