"""showcase_video: the rendered showcase, one file per requested aspect ratio."""

import time
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
    bad_input,
    image_markdown,
    property_partitions,
    table,
)
from real_estate_dag.assets.manifest import verify_inputs
from real_estate_dag.ops.audio import audio_problems
from real_estate_dag.ops.ffmpeg import FfmpegDiskFullError, FfmpegError
from real_estate_dag.ops.kenburns import photo_segment
from real_estate_dag.ops.manifest import manifest_from_dict
from real_estate_dag.ops.progress import Progress
from real_estate_dag.ops.render import (
    ASPECT_SIZES,
    FPS,
    RenderClip,
    RenderedVideo,
    RenderError,
    render_area,
    render_showcase,
)
from real_estate_dag.ops.titlecard import draw_title_card
from real_estate_dag.ops.visuals import fit_width, poster_frame
from real_estate_dag.resources.results import ResultSetError, current_key, publish_result_set, staged_tables
from real_estate_dag.resources.store import Store
from real_estate_dag.retries import transient_retries

# The tables the analysis and selection steps stage; published with the videos as one result set.
TABLES = ["shots", "rooms", "quality", "clips", "photos"]


def result_name(aspect: str) -> str:
    return "showcase.mp4" if aspect == "16:9" else f"showcase_{aspect.replace(':', 'x')}.mp4"


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"ffmpeg", "video"},
    code_version="render-v3",
    check_specs=[
        AssetCheckSpec("format", asset="showcase_video",
                       description="H.264 video at the requested frame size with an AAC audio track."),
        AssetCheckSpec("duration_matches_edit", asset="showcase_video",
                       description="Every rendered file is as long as the edit decision list (±0.5 s) and "
                       "no longer than the requested bounds allow (target + 10%); a showcase shorter than "
                       "asked is reported by selected_clips' fits_target_duration."),
        AssetCheckSpec("audio_present", asset="showcase_video",
                       description="Every rendered file has an audio stream; when the manifest gives music, "
                       "that stream is the music as mixed (looped when shorter; silence judged by level)."),
    ],
    description="The showcase rendered with ffmpeg: title card from the listing, crossfades, music "
    "faded in and out (or the source audio). Checked before anything is published, then published "
    "with the staged tables as one result set: results/<property>/runs/<run>/, named by "
    "results/<property>/current.json.",
)
def showcase_video(
    context: AssetExecutionContext,
    store: Store,
    property_manifest: dict,
    selected_clips: dict,
) -> Iterator[AssetCheckResult | MaterializeResult]:
    with transient_retries(context):
        verify_inputs(store, property_manifest)
        yield from _render(context, store, property_manifest, selected_clips)


def _render(context: AssetExecutionContext, store: Store, property_manifest: dict,
            selected_clips: dict) -> Iterator[AssetCheckResult | MaterializeResult]:
    key = context.partition_key
    manifest = manifest_from_dict(property_manifest["manifest"])
    clips_in = selected_clips["clips"]
    if not clips_in:
        raise bad_input("no usable clip was found in the footage (every shot is shorter than "
                        f"{selected_clips['params']['min_clip_s']} s or unreadable)")
    videos = {v["name"]: v for v in property_manifest["videos"]}
    clips: list[RenderClip | dict] = []
    for clip in clips_in:
        if clip.get("source", "video") == "photo":
            clips.append(clip)  # rendered per aspect, below
            continue
        facts = videos[clip["video"]]["facts"]
        picture = selected_clips["pictures"][clip["video"]]
        width, height = picture["width"], picture["height"]
        full = (facts["height"], facts["width"]) if facts["rotation"] % 180 else (facts["width"], facts["height"])
        crop = None if (width, height) == full else (picture["x"], picture["y"], width, height)
        clips.append(RenderClip(store.local_path(videos[clip["video"]]["key"]), clip["in_s"],
                                clip["duration_s"], facts["has_audio"], width / height, crop))
    music = store.local_path(property_manifest["music"]["key"]) if property_manifest["music"] else None
    params = selected_clips["params"]
    hero = selected_clips.get("hero")
    with render_area(store.work_dir(key, "render")) as render_dir:
        renders: list[tuple[str, RenderedVideo, float]] = []
        for aspect in manifest.options.aspects:
            size = ASPECT_SIZES[aspect]
            name = aspect.replace(":", "x")
            title = draw_title_card(manifest.listing, manifest.property_id, size, render_dir / f"title_{name}.png",
                                    background=store.local_path(hero["key"]) if hero else None)
            started = time.perf_counter()
            try:
                sources = [c if isinstance(c, RenderClip) else photo_render_clip(store, c, size, render_dir / name)
                           for c in clips]
                rendered = render_showcase(sources, title, render_dir / result_name(aspect), size,
                                           title_s=params["title_s"], crossfade_s=params["crossfade_s"],
                                           music=music, progress=Progress(context.log.info, f"rendering {aspect}",
                                                                          "s", rate_unit="x real time"))
            except RenderError as exc:
                yield AssetCheckResult(check_name=exc.check, passed=False,
                                       metadata={"problems": MetadataValue.text(str(exc))})
                raise Failure(f"check {exc.check} failed, nothing was published: {exc}",
                              allow_retries=False) from exc
            except FfmpegDiskFullError:
                raise  # an OSError naming the file, like any other full disk
            except FfmpegError as exc:
                raise RuntimeError(f"rendering the {aspect} showcase failed: {exc}") from exc
            renders.append((aspect, rendered, time.perf_counter() - started))

        # Every check runs on the verified renders before anything is published.
        checks = output_checks(renders, selected_clips["showcase_s"], manifest.options.target_duration_s, music,
                               "music: " + manifest.music if manifest.music else "source audio")
        failed = [c for c in checks if not c.passed]
        if failed:
            yield from checks
            raise Failure("nothing was published: " + "; ".join(
                f"check {c.check_name} failed: {c.metadata['problems'].value}" for c in failed), allow_retries=False)
        verify_inputs(store, property_manifest)  # and the footage was not replaced while it rendered
        files = {result_name(aspect): rendered.path for aspect, rendered, _ in renders}
        try:
            files |= staged_tables(store, key, TABLES)
        except ResultSetError as exc:
            raise Failure(f"nothing was published: {exc}", allow_retries=False) from exc
        result_set = publish_result_set(store, key, context.run_id, files)
        published = result_set["files"]
        outputs = []
        for aspect, rendered, seconds in renders:
            url = published[result_name(aspect)]["url"]
            context.log.info(f"rendered {aspect} {rendered.width}x{rendered.height} "
                             f"{rendered.duration_s:.1f} s in {seconds:.1f} s -> {url}")
            outputs.append({"aspect": aspect, "url": url, "width": rendered.width, "height": rendered.height,
                            "duration_s": rendered.duration_s, "size_bytes": rendered.size_bytes,
                            "video_codec": rendered.video_codec, "audio_codec": rendered.audio_codec,
                            "render_s": round(seconds, 2)})
        main = outputs[0]
        poster_at = params["title_s"] + min(1.0, clips_in[0]["duration_s"] / 2)
        poster = fit_width(poster_frame(renders[0][1].path, poster_at), 640)
    context.log.info(f"published result set {result_set['set_id']} ({len(published)} files) -> "
                     f"{store.url(current_key(key))}")
    yield MaterializeResult(
        metadata={
            "result_set": MetadataValue.url(store.url(current_key(key))),
            "result_set_id": result_set["set_id"],
            "result_files": table([{"file": name, "size_bytes": f["size"], "sha256": f["sha256"][:16]}
                                            for name, f in published.items()]),
            "url": MetadataValue.url(main["url"]),
            "path": MetadataValue.path(main["url"].removeprefix("file://")),
            "duration_s": main["duration_s"],
            "size_bytes": main["size_bytes"],
            "resolution": f"{main['width']}x{main['height']}",
            "audio": "music: " + manifest.music if manifest.music else "source audio",
            "clip_count": len(clips),
            "renders": table(outputs),
            "poster": image_markdown(poster, "poster frame",
                                     caption=f"{main['aspect']} showcase at {poster_at:.1f} s: {main['url']}"),
        },
        check_results=checks,
    )


def photo_render_clip(store: Store, clip: dict, size: tuple[int, int], folder: Path) -> RenderClip:
    """A photo clip of the edit as a source the renderer reads: its Ken Burns segment at ``size``."""
    out = folder / f"photo_{clip['order']:03d}.mp4"
    segment = photo_segment(store.local_path(clip["photo_key"]), clip["room"], (clip["focus_x"], clip["focus_y"]),
                            clip["duration_s"], size, FPS, out)
    return RenderClip(segment, 0.0, clip["duration_s"], False, size[0] / size[1], kind="photo")


def output_checks(renders: list[tuple[str, RenderedVideo, float]], expected_s: float, target_s: float,
                  music: Path | None, audio: str) -> list[AssetCheckResult]:
    """The showcase checks, computed on the rendered files; a check that cannot be computed fails."""
    longest_s = 1.1 * target_s + 0.5
    bad_format = [f"{r.path.name}: {r.video_codec} {r.width}x{r.height}, audio {r.audio_codec or 'none'}"
                  for aspect, r, _ in renders
                  if r.video_codec != "h264" or r.audio_codec != "aac" or (r.width, r.height) != ASPECT_SIZES[aspect]]
    bad_duration = [f"{r.path.name}: {r.duration_s:.2f} s" for _, r, _ in renders
                    if abs(r.duration_s - expected_s) > 0.5 or r.duration_s > longest_s]
    try:
        sound_problems = audio_problems([(r.path, r.duration_s) for _, r, _ in renders], music)
    except Exception as exc:  # a check that cannot read the sound must not let the showcase through
        sound_problems = [f"the sound could not be checked ({type(exc).__name__}: {exc})"]
    return [
        AssetCheckResult(check_name="format", passed=not bad_format,
                         metadata={"problems": MetadataValue.text("; ".join(bad_format) or "none")}),
        AssetCheckResult(check_name="duration_matches_edit", passed=not bad_duration,
                         metadata={"problems": MetadataValue.text("; ".join(bad_duration) or "none"),
                                   "expected_s": expected_s, "rendered_s": renders[0][1].duration_s,
                                   "target_s": target_s, "longest_allowed_s": round(longest_s, 3)}),
        AssetCheckResult(check_name="audio_present", passed=not sound_problems,
                         metadata={"problems": MetadataValue.text("; ".join(sound_problems) or "none"),
                                   "audio": audio}),
    ]
