"""Photo uploads: what is refused and why, how each form is read, and the Ken Burns motion's precision."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from media_helpers import ffmpeg
from photo_helpers import PHOTO_SIZE, footage_frames, write_photo_set
from PIL import Image
from skimage.registration import phase_cross_correlation

from real_estate_dag.ops.inputs import fingerprint
from real_estate_dag.ops.kenburns import Move, View, frames, plan_move, saliency_focus
from real_estate_dag.ops.manifest import ManifestError, folder_photos, parse_manifest
from real_estate_dag.ops.photos import PhotoError, difference_hash, duplicate_groups, load_photo, probe_photo
from real_estate_dag.ops.validate import LimitError, MediaLimits


@pytest.fixture(scope="module")
def frames_of_footage(source_video: Path) -> list[Image.Image]:
    return footage_frames(source_video)


@pytest.fixture(scope="module")
def photo_files(frames_of_footage: list[Image.Image], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    files = write_photo_set(folder, frames_of_footage)
    raw = files["front.jpg"].read_bytes()
    (folder / "truncated.jpg").write_bytes(raw[: len(raw) // 2])
    (folder / "notes.jpg").write_text("not a photo")
    Image.new("1", (12000, 12000)).save(folder / "bomb.png")  # 144 MP declared in a few kB
    frames_of_footage[0].save(folder / "animated.gif")
    frames_of_footage[0].resize((900, 60)).save(folder / "sliver.jpg")
    grey16 = (np.asarray(frames_of_footage[1].convert("L")).astype(np.uint16) * 257)
    Image.fromarray(grey16).save(folder / "grey16.png")
    frames_of_footage[2].quantize(64).save(folder / "palette.png")
    return {**files, **{p.name: p for p in folder.iterdir() if p.name not in files}}


@pytest.mark.parametrize(("name", "error", "reason"), [
    ("truncated.jpg", PhotoError, "is truncated or corrupt"),
    ("notes.jpg", PhotoError, "is not an image (JPEG, PNG, WebP or HEIC/HEIF expected)"),
    ("bomb.png", LimitError, "declares 12000x12000 pixels (144000000); the limit is 100000000 "
                             "(REDAG_MAX_PHOTO_PIXELS), so it is refused as a possible decompression bomb"),
    ("animated.gif", PhotoError, "is a GIF image; photos must be JPEG, PNG, WebP or HEIC/HEIF"),
    ("sliver.jpg", LimitError, "declares 900x60 pixels, more than 8 times as long as it is wide"),
])
def test_bad_photos_are_refused_naming_the_file(photo_files: dict[str, Path], name: str, error: type,
                                                 reason: str) -> None:
    before = fingerprint(photo_files[name])
    with pytest.raises(error) as info:
        probe_photo(photo_files[name], f"uploads/p/photos/{name}", MediaLimits())
    assert str(info.value).startswith(f"uploads/p/photos/{name}: ")
    assert reason in str(info.value)
    assert fingerprint(photo_files[name]) == before  # never modified


def test_every_accepted_form_reads_upright_in_rgb(photo_files: dict[str, Path],
                                                   frames_of_footage: list[Image.Image]) -> None:
    def close(a: Image.Image, b: Image.Image) -> float:
        return float(np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b.convert("RGB"), dtype=np.float32)).mean())

    expected = {"front.jpg": (frames_of_footage[0], "JPEG", 1), "living.heic": (frames_of_footage[1], "HEIF", 1),
                "kitchen_cmyk.jpg": (frames_of_footage[2], "JPEG", 1),
                "bath_exif6.jpg": (frames_of_footage[4], "JPEG", 6),
                "yard_exif3.jpg": (frames_of_footage[5], "JPEG", 3),
                "front_small.webp": (frames_of_footage[0].resize((288, 162)), "WEBP", 1),
                "palette.png": (frames_of_footage[2], "PNG", 1)}
    for name, (original, fmt, orientation) in expected.items():
        before = fingerprint(photo_files[name])
        facts = probe_photo(photo_files[name], name, MediaLimits())
        image = load_photo(photo_files[name], name)
        assert (facts.format, facts.orientation) == (fmt, orientation), name
        assert (facts.width, facts.height) == image.size == original.size, name
        assert image.mode == "RGB"
        assert close(image, original) < 12, name  # upright: a turned picture differs by far more
        assert fingerprint(photo_files[name]) == before
    alpha = load_photo(photo_files["bedroom_alpha.png"], "bedroom_alpha.png")
    original = np.asarray(frames_of_footage[3], dtype=np.float32)
    over_white = (original * 200 + 255 * 55) / 255  # alpha 200 over white
    assert np.abs(np.asarray(alpha, dtype=np.float32) - over_white).mean() < 1.5
    grey = load_photo(photo_files["grey16.png"], "grey16.png")
    assert probe_photo(photo_files["grey16.png"], "grey16.png", MediaLimits()).mode == "I;16"
    assert close(grey, frames_of_footage[1].convert("L")) < 1.5  # 16 bits scaled, not clipped to white


def test_duplicates_are_grouped_not_refused(photo_files: dict[str, Path]) -> None:
    names = ["front.jpg", "front_copy.jpg", "front_small.webp", "living.heic", "kitchen_cmyk.jpg",
             "bath_exif6.jpg", "yard_exif3.jpg"]
    hashes = [difference_hash(load_photo(photo_files[n], n)) for n in names]
    digests = [fingerprint(photo_files[n])["sha256"] for n in names]
    assert duplicate_groups(digests, hashes) == [0, 0, 0, 1, 2, 3, 4]


def test_manifest_photos_list_folder_and_errors() -> None:
    listed = parse_manifest(json.dumps({"photos": ["photos/a.jpg", {"file": "b.heic", "room": "kitchen",
                                                                     "caption": "New\nkitchen"}]}).encode(),
                            default_property_id="p")
    assert listed.videos == () and [p.file for p in listed.photos] == ["photos/a.jpg", "b.heic"]
    assert listed.photos[1].room == "kitchen" and listed.photos[1].caption == "New kitchen"
    names = ["manifest.json", "photos/b.png", "photos/a.JPG", "photos/raw/c.jpg", "photos/notes.txt", "v.mp4"]
    from_folder = parse_manifest(b'{"videos": ["v.mp4"]}', default_property_id="p", folder_photos=folder_photos(names))
    assert [p.file for p in from_folder.photos] == ["photos/a.JPG", "photos/b.png"]
    for body, field, reason in [
        (b"{}", "videos", "must be a non-empty list of file names (or give photos"),
        (b'{"photos": ["a.gif"]}', "photos[0].file", "must end with one of .jpg"),
        (b'{"photos": [{"file": "a.jpg", "room": "garage"}]}', "photos[0].room", "'garage' is not one of exterior"),
        (b'{"photos": ["a.jpg", "A.JPG"]}', "photos", "twice, as 'a.jpg' and 'A.JPG'"),
    ]:
        with pytest.raises(ManifestError) as info:
            parse_manifest(body, file="uploads/p/manifest.json", default_property_id="p")
        assert (info.value.field, reason in str(info.value)) == (field, True), str(info.value)


def _measured_steps(rendered: list[Image.Image]) -> np.ndarray:
    """Frame-to-frame (dy, dx) motion of the picture, by phase correlation of windowed grey frames."""
    rendered = [Image.fromarray(f) if isinstance(f, np.ndarray) else f for f in rendered]
    h, w = rendered[0].height, rendered[0].width
    window = np.outer(np.hanning(h), np.hanning(w))
    grey = [np.asarray(f.convert("L"), dtype=np.float64) for f in rendered]
    grey = [(g - g.mean()) * window for g in grey]
    shifts = [phase_cross_correlation(grey[i + 1], grey[i], upsample_factor=200, normalization=None)[0]
              for i in range(len(grey) - 1)]
    return np.array(shifts)


def test_ken_burns_motion_follows_the_plan_to_a_twentieth_of_a_pixel(frames_of_footage: list[Image.Image],
                                                                      tmp_path: Path) -> None:
    photo = frames_of_footage[1].resize((960, 540), Image.Resampling.LANCZOS)
    output = PHOTO_SIZE
    step = 0.27  # output pixels per frame: slow enough that whole-pixel rounding shows
    window = 600.0
    per_frame = step * window / output[0]
    move = Move(View(300, 270, window), View(300 + per_frame * 19, 270, window), output[0] / output[1], 20)
    measured = _measured_steps(list(frames(photo, move, output)))
    planned_dx = -step  # the picture moves left as the window moves right
    assert np.abs(measured[:, 1] - planned_dx).max() < 0.05
    assert np.abs(measured[:, 0]).max() < 0.05

    # ffmpeg's zoompan on the same move rounds the window to whole source pixels: it shakes
    photo.save(tmp_path / "photo.png")
    x0, y0 = 300 - window / 2, 270 - window / output[0] * output[1] / 2
    ffmpeg("-i", str(tmp_path / "photo.png"), "-vf",
           f"zoompan=z={960 / window:.6f}:x='{x0:.4f}+{per_frame:.6f}*on':y={y0:.4f}"
           f":d=20:s={output[0]}x{output[1]}:fps=30", "-frames:v", "20", str(tmp_path / "zp_%02d.png"))
    zoompan = [Image.open(p).convert("RGB") for p in sorted(tmp_path.glob("zp_*.png"))]
    assert np.abs(_measured_steps(zoompan)[:, 1] - planned_dx).max() > 0.2


def test_moves_by_room_and_aspect() -> None:
    photo = (4000, 3000)
    push = plan_move(photo, (1920, 1080), "exterior", (0.7, 0.4), 120)
    assert push.end.width < push.start.width and push.end.x > push.start.x  # pushes in towards the focus
    pan = plan_move(photo, (1920, 1080), "kitchen", (0.8, 0.5), 120)
    assert pan.start.width == pan.end.width and pan.end.x - pan.start.x > 100 and pan.start.y == pan.end.y
    tall = plan_move(photo, (1080, 1920), "kitchen", (0.8, 0.5), 120)
    for index in (0, 119):
        left, _, right, _ = tall.box(index)
        assert left < 0.8 * photo[0] < right  # the 9:16 frame keeps the focus in view
        assert left >= 0 and right <= photo[0]


def test_saliency_finds_the_bright_object() -> None:
    canvas = Image.new("RGB", (400, 300), (90, 90, 90))
    canvas.paste((250, 240, 40), (300, 40, 360, 100))
    x, y = saliency_focus(canvas)
    assert x > 0.6 and y < 0.45


def test_small_photos_use_a_local_super_resolution_checkpoint(tmp_path: Path,
                                                              frames_of_footage: list[Image.Image]) -> None:
    from spandrel.architectures.Compact import Compact

    from real_estate_dag.gpu_resources.backends import LanczosUpscaler, SuperResModel
    from real_estate_dag.gpu_resources.provenance import provenance
    from real_estate_dag.gpu_resources.registry import ModelRegistry
    from real_estate_dag.ops.enhance import resize_for_render

    checkpoint = tmp_path / "compact_x2.pth"  # a Real-ESRGAN compact network, untrained: only its loading is tested
    torch.manual_seed(0)
    torch.save(Compact(num_feat=8, num_conv=2, upscale=2).state_dict(), checkpoint)
    registry = ModelRegistry(device="cpu", superres_weights=str(checkpoint))
    model = registry.superres_model()
    assert isinstance(model, SuperResModel) and model.scale == 2
    assert registry.code_versions()["superres"] == provenance(model)["backend"]
    assert provenance(model)["backend"].startswith("spandrel@")
    enlarged, how = resize_for_render(frames_of_footage[0], 1440, 2880, model.upscale)
    assert (enlarged.size, how) == ((640, 360), "super-resolution")
    plain = ModelRegistry(device="cpu").superres_model()
    assert isinstance(plain, LanczosUpscaler)
    assert resize_for_render(frames_of_footage[0], 1440, 2880, None) == (frames_of_footage[0], "lanczos")


def test_correction_is_deterministic_conservative_and_fixes_a_cast(frames_of_footage: list[Image.Image]) -> None:
    from real_estate_dag.ops.enhance import GAMMA_RANGE, MAX_GAIN, apply_correction, measure_correction

    original = frames_of_footage[1]
    pixels = np.asarray(original, dtype=np.float32)
    cast = Image.fromarray(np.clip(pixels * [0.75, 0.68, 0.55], 0, 255).astype(np.uint8))  # dark and orange
    correction = measure_correction(cast)
    assert correction == measure_correction(cast)
    assert all(abs(g - 1) <= MAX_GAIN + 1e-9 for g in correction.gains)
    assert GAMMA_RANGE[0] <= correction.gamma <= GAMMA_RANGE[1]
    fixed = np.asarray(apply_correction(cast, correction), dtype=np.float32)

    def channel_spread(a: np.ndarray) -> float:
        means = a.reshape(-1, 3).mean(axis=0)
        return float(means.max() - means.min())

    assert channel_spread(fixed) < channel_spread(np.asarray(cast, dtype=np.float32)) * 0.7
    assert abs(fixed.mean() - pixels.mean()) < abs(np.asarray(cast, dtype=np.float32).mean() - pixels.mean())
    assert np.array_equal(fixed, np.asarray(apply_correction(cast, correction), dtype=np.float32))
