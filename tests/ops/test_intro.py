"""The agent intro from a portrait made of the packaged footage's face on a plain backdrop: the face
located by NudeNet, the backdrop removed by GrabCut, an intro card composed."""

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from real_estate_dag.gpu_resources.detector import COCO_CLASSES
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.intro import PortraitError, cut_out, draw_intro_card, hex_colour, locate_person, person_boxes

BACKDROP = (40, 200, 60)


@pytest.fixture(scope="module")
def portrait(narrated_clip: Path) -> Image.Image:
    """A 320x400 portrait: the footage's frame with a face (upscaled) in the middle of a green backdrop."""
    with av.open(str(narrated_clip)) as container:
        frame = next(f for f in container.decode(video=0) if f.time >= 0.5).to_image()
    canvas = Image.new("RGB", (320, 400), BACKDROP)
    canvas.paste(frame.resize((240, 135)).crop((50, 0, 190, 135)).resize((210, 300)), (55, 100))
    return canvas


def test_the_person_is_cut_out_of_the_portrait_and_placed_on_the_intro_card(portrait: Image.Image,
                                                                            tmp_path: Path) -> None:
    registry = ModelRegistry()
    detections = registry.moderation_model().detect(np.asarray(portrait))
    segmenter = registry.segmentation_model()
    assert segmenter.backend.name == "opencv-grabcut"
    rgb = np.asarray(portrait)
    person, face, located_by = locate_person(detections, 320, 400)
    assert located_by == "face box (NudeNet)" and face is not None
    fx, fy, fw, fh = face
    assert fx >= 55 and fx + fw <= 265 and fy >= 100  # the face lies in the pasted picture
    alpha = segmenter.mask(rgb, person, face)
    px, py, pw, ph = person
    inside = np.zeros(alpha.shape, bool)
    inside[py:py + ph, px:px + pw] = True
    green = np.all(np.abs(rgb.astype(int) - BACKDROP) < 30, axis=2)
    assert (green & inside).sum() > 2000  # the box holds backdrop for GrabCut to remove
    assert (alpha[green & inside] < 0.5).mean() > 0.9
    assert (alpha[fy + fh // 4:fy + fh * 3 // 4, fx + fw // 4:fx + fw * 3 // 4] > 0.5).mean() > 0.9
    cutout = cut_out(portrait, detections, segmenter.mask)
    assert cutout.image.mode == "RGBA" and cutout.image.width <= pw and cutout.face == face
    card = draw_intro_card(cutout, ["Mary Brown", "555-0100", "Harbor Realty"], (640, 360), tmp_path / "intro.png",
                           hex_colour("#1d3557"))
    pixels = np.asarray(Image.open(card).convert("RGB"))
    assert pixels.shape == (360, 640, 3)
    assert not np.any(np.all(np.abs(pixels.astype(int) - BACKDROP) < 20, axis=2))  # no green on the card
    assert pixels[:, 420:].max() > 240  # white text beside the agent
    people = person_boxes(registry.detector_model().detect([portrait], 0.3), COCO_CLASSES.index("person"), 320, 400)
    assert people  # the registry's detector finds the person
    by_detector = cut_out(portrait, detections, segmenter.mask, people)
    assert by_detector.located_by.startswith("person detector")
    bx, by, bw, bh = by_detector.person
    assert bx <= fx and by <= fy and fx + fw <= bx + bw and fy + fh <= by + bh  # the box holds the face
    with pytest.raises(PortraitError, match="no face"):
        cut_out(Image.new("RGB", (200, 200), BACKDROP), [], segmenter.mask)
