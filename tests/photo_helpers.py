"""Photos made from frames of the packaged footage, in the forms uploads arrive in."""

from pathlib import Path

import av
from PIL import Image

from real_estate_dag.ops.photos import register_heif

PHOTO_SIZE = (320, 180)
# frame indexes of distinct shots of the 160x90 test footage
FRAMES = (40, 180, 330, 480, 640, 800)


def footage_frames(video: Path, indexes: tuple[int, ...] = FRAMES) -> list[Image.Image]:
    wanted, found = set(indexes), {}
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                found[i] = frame.to_image().resize(PHOTO_SIZE, Image.Resampling.LANCZOS)
            if i >= max(indexes):
                break
    return [found[i] for i in indexes]


def write_photo_set(folder: Path, frames: list[Image.Image]) -> dict[str, Path]:
    """The frames as JPEG, HEIC, CMYK JPEG, PNG with alpha and with EXIF orientations, plus an exact and a
    near duplicate of the first: name -> file."""
    register_heif()
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def keep(name: str) -> Path:
        files[name] = folder / name
        return files[name]

    frames[0].save(keep("front.jpg"), quality=92)
    keep("front_copy.jpg").write_bytes(files["front.jpg"].read_bytes())
    frames[0].resize((288, 162), Image.Resampling.LANCZOS).save(keep("front_small.webp"), quality=90)
    frames[1].save(keep("living.heic"), quality=90)
    frames[2].convert("CMYK").save(keep("kitchen_cmyk.jpg"), quality=92)
    with_alpha = frames[3].convert("RGBA")
    with_alpha.putalpha(200)
    with_alpha.save(keep("bedroom_alpha.png"))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: to be shown rotated 90 degrees clockwise
    frames[4].transpose(Image.Transpose.ROTATE_90).save(keep("bath_exif6.jpg"), exif=exif, quality=92)
    exif[0x0112] = 3
    frames[5].transpose(Image.Transpose.ROTATE_180).save(keep("yard_exif3.jpg"), exif=exif, quality=92)
    return files
