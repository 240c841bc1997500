from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from real_estate_dag.gpu_resources.backends import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    IqaModel,
    MobileNetRoomModel,
    center_tensor,
    resolve_quality,
    resolve_rooms,
)
from real_estate_dag.ops import quality
from real_estate_dag.ops.decode import decode_video
from real_estate_dag.ops.rooms import ROOM_TYPES, label_segments


@pytest.fixture(scope="module")
def sampled(short_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Image.Image]:
    decoded = decode_video(short_clip, "short.mp4", tmp_path_factory.mktemp("rq"))
    return [decoded.sampled_image(s) for s in decoded.sampled[:24]]


def test_offline_room_model_labels_real_frames(sampled: list[Image.Image]) -> None:
    backend = resolve_rooms()[-1]
    assert backend.name == "mobilenet_v2_imagenet+evidence" and len(backend.digest) == 64
    probs, embeddings = MobileNetRoomModel(backend, "cpu").classify(sampled)
    assert probs.shape == (24, len(ROOM_TYPES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-3)
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] > similarity[0, 20]  # neighbouring frames look alike, distant ones less


def test_folding_batch_norms_keeps_the_imagenet_model_the_same(sampled: list[Image.Image]) -> None:
    from torchvision.models import mobilenet_v2

    model = MobileNetRoomModel(resolve_rooms()[-1], "cpu")
    assert not [m for m in model.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    reference = mobilenet_v2()
    reference.load_state_dict(torch.load(model.backend.weights_file(), weights_only=True))
    x = center_tensor(sampled[:8], 224, IMAGENET_MEAN, IMAGENET_STD)
    with torch.inference_mode():
        ours = model.model(x.contiguous(memory_format=torch.channels_last)).softmax(1)
        theirs = reference.eval()(x).softmax(1)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-5)
    assert (ours.argmax(1) == theirs.argmax(1)).all()


def test_piqe_scores_a_blurred_frame_lower(sampled: list[Image.Image]) -> None:
    model = IqaModel(resolve_quality()[-1], "cpu")
    sharp = sampled[5]
    blurred = sharp.filter(ImageFilter.GaussianBlur(3))
    scores = model.normalise(model.score([sharp, blurred]))
    assert scores.min() >= 0 and scores.max() <= 1
    assert scores[0] > scores[1]
    luma_sharp, luma_blur = (quality.grey(np.asarray(i)) for i in (sharp, blurred))
    assert quality.sharpness(luma_sharp) > quality.sharpness(luma_blur)


def test_a_blank_frame_gets_the_lowest_iqa_score_not_nan(sampled: list[Image.Image]) -> None:
    model = IqaModel(resolve_quality()[-1], "cpu")
    black = Image.new("RGB", sampled[5].size)
    raw = model.score([sampled[5], black])
    assert np.isnan(raw[1])  # PIQE has no active blocks to judge in a uniform frame
    scores = model.normalise(raw)
    assert scores[1] == 0.0 and 0 < scores[0] <= 1


def test_exposure_prefers_mid_grey() -> None:
    mid = np.full((50, 50), 120.0)
    assert quality.exposure(mid) > quality.exposure(np.full((50, 50), 250.0))
    assert quality.exposure(mid) > quality.exposure(np.full((50, 50), 5.0))


def test_stability_separates_shake_from_a_smooth_pan() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (27, 200, 3), dtype=np.uint8)
    pan = np.stack([base[:, i : i + 48] for i in range(100)])
    shaky = np.stack([base[:, 50 + s : 98 + s] for s in rng.integers(-3, 4, 100)])
    centres = np.array([50])
    steady = quality.stability(quality.frame_motion(pan), 25.0, centres, [(0, 99)])
    shaken = quality.stability(quality.frame_motion(shaky), 25.0, centres, [(0, 99)])
    assert steady[0] > 0.9 > 0.3 > shaken[0]


def test_segments_split_a_long_take_where_the_room_changes() -> None:
    times = np.arange(500) / 25
    sample_frames = np.arange(0, 500, 12)  # ~2 fps
    probs = np.zeros((len(sample_frames), len(ROOM_TYPES)))
    kitchen, bedroom = ROOM_TYPES.index("kitchen"), ROOM_TYPES.index("bedroom")
    probs[sample_frames < 250, kitchen] = 0.9
    probs[sample_frames >= 250, bedroom] = 0.9
    probs[probs.sum(axis=1) == 0, kitchen] = 0.9
    probs[5, bedroom], probs[5, kitchen] = 0.95, 0.0  # a single-sample flicker is smoothed away
    probs += 0.01
    probs /= probs.sum(axis=1, keepdims=True)
    segments = label_segments("v.mp4", [(0, 399), (400, 499)], times, sample_frames, probs).segments
    assert [s.room for s in segments] == ["kitchen", "bedroom", "bedroom"]
    assert segments[0].start_frame == 0 and segments[0].end_frame + 1 == segments[1].start_frame
    assert 240 <= segments[1].start_frame <= 264
    assert segments[1].end_frame == 399 and segments[2].start_frame == 400
    assert all(s.shot == (0 if s.end_frame < 400 else 1) for s in segments)
    assert segments[0].top3[0][0] == "kitchen" and segments[0].confidence > 0.5
