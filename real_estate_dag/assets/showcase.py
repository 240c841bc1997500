"""showcase_video: the rendered showcase per requested aspect ratio, its unbranded twin, the teaser,
chapters and room captions, published as one result set."""

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from PIL import Image

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
    bad_input,
    image_markdown,
    property_partitions,
    table,
)
from real_estate_dag.assets.manifest import verify_inputs
from real_estate_dag.gpu_resources.backends import digest_of
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.audio import audio_problems
from real_estate_dag.ops.captions import youtube_chapters
from real_estate_dag.ops.cards import agent_leaks
from real_estate_dag.ops.ffmpeg import FfmpegDiskFullError, FfmpegError
from real_estate_dag.ops.intro import hex_colour, intro_items
from real_estate_dag.ops.manifest import Manifest, manifest_from_dict
from real_estate_dag.ops.preview import animated_preview, preview_markdown
from real_estate_dag.ops.privacy import protect_clips, protect_photos
from real_estate_dag.ops.progress import Progress
from real_estate_dag.ops.publication import Job, Publication
from real_estate_dag.ops.render import (
    ASPECT_SIZES,
    RenderClip,
    RenderedVideo,
    RenderError,
    burn_in_captions,
    render_area,
    render_edit,
)
from real_estate_dag.ops.render_cache import CACHE_FOLDER, PieceCache, piece_digest
from real_estate_dag.ops.speech import Transcript, agent_names, keeps_voice, mute_spans, narration_files
from real_estate_dag.ops.teaser import TEASER_S
from real_estate_dag.ops.visuals import fit_width, poster_frame
from real_estate_dag.resources.results import ResultSetError, current_key, publish_result_set, staged_tables
from real_estate_dag.resources.store import Store
from real_estate_dag.retries import transient_retries

# The tables the analysis and selection steps stage; published with the videos as one result set.
TABLES = ["shots", "rooms", "quality", "clips", "photos", "narration"]


@dataclass(frozen=True)
class Render:
    job: Job
    rendered: RenderedVideo
    seconds: float


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"ffmpeg", "video"},
    code_version="render-v6",
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
        AssetCheckSpec("unbranded_has_no_agent", asset="showcase_video",
                       description="None of the brand's agent fields (name, phone, e-mail, licence, brokerage, "
                       "listing URL), nor its portrait, logo or QR code, is in the data the unbranded renders' "
                       "and the teaser's cards and overlays are drawn from."),
    ],
    description="The showcase rendered with ffmpeg from pieces (each clip body, card and crossfade encoded "
    "once, cached by content hash under work/<property>/render_cache, joined by stream copy): title card "
    "over the hero frame, the clips, the agent's closing card, music loudness-normalised to -14 LUFS "
    "(or the source audio); the unbranded (MLS) version, a 15 s teaser in 16:9 and 9:16, chapters.vtt and "
    "rooms.srt. Checked before anything is published, then published with the staged tables as one result "
    "set: results/<property>/runs/<run>/, named by results/<property>/current.json.",
)
def showcase_video(
    context: AssetExecutionContext,
    store: Store,
    models: ModelRegistry,
    property_manifest: dict,
    selected_clips: dict,
    narration: dict,
    moderation: dict,
    agent_intro: dict,
) -> Iterator[AssetCheckResult | MaterializeResult]:
    with transient_retries(context):
        verify_inputs(store, property_manifest)
        yield from _render(context, store, models, property_manifest, selected_clips, narration, moderation,
                           agent_intro)


def _render(context: AssetExecutionContext, store: Store, models: ModelRegistry, property_manifest: dict,
            selected_clips: dict, narration: dict, moderation: dict,
            agent_intro: dict) -> Iterator[AssetCheckResult | MaterializeResult]:
    key = context.partition_key
    manifest = manifest_from_dict(property_manifest["manifest"])
    clips_in = selected_clips["clips"]
    if not clips_in:
        raise bad_input("no usable clip was found in the footage (every shot is shorter than "
                        f"{selected_clips['params']['min_clip_s']} s or unreadable)")
    videos = {v["name"]: v for v in property_manifest["videos"]}
    footage = [i for i, c in enumerate(clips_in) if c["source"] == "video"]
    edl = [clips_in[i] for i in footage]
    clips = [footage_clip(store, c, videos[c["video"]], selected_clips["pictures"][c["video"]]) for c in edl]
    sizes = [full_size(videos[c["video"]]["facts"]) for c in edl]
    music = store.local_path(property_manifest["music"]["key"]) if property_manifest["music"] else None
    params = selected_clips["params"]
    clips, mutes, blurred = speech_and_privacy(context, store, models, manifest, edl, clips, sizes, narration,
                                               moderation)
    stills = [i for i, c in enumerate(clips_in) if c["source"] == "photo"]
    settings = moderation["settings"]
    photos, blurred_photos = protect_photos(
        [photo_render_clip(store, clips_in[i]) for i in stills], [clips_in[i] for i in stills],
        moderation["findings"], settings["blur_classes"], settings["blur_score"],
        lambda rgb: models.moderation_model().detect(rgb), store.work_dir(key, "privacy"))
    blurred += blurred_photos
    by_place = dict(zip(footage, clips, strict=True)) | dict(zip(stills, photos, strict=True))
    edit_clips = [by_place[i] for i in range(len(clips_in))]
    hero = selected_clips.get("hero")
    cache_root = store.work_dir(key, CACHE_FOLDER)
    with render_area(store.work_dir(key, "render")) as render_dir:
        brand = manifest.brand
        intro = intro_items(store.local_path(agent_intro["cutout"]) if agent_intro.get("cutout") else None,
                            store.local_path(agent_intro["clip"]) if agent_intro.get("clip") else None,
                            agent_intro.get("intro_s", 0), [t for t in (brand.agent_name, brand.agent_phone,
                                                                        brand.agent_email, brand.brokerage) if t],
                            hex_colour(brand.colors.primary), manifest.options.aspects, render_dir)
        muted = dict(zip(footage, mutes, strict=True))
        plan = Publication(manifest, clips_in, lambda aspect: edit_clips,
                           selected_clips.get("title_s", params["title_s"]), selected_clips.get("closing_s", 0.0),
                           params["crossfade_s"],
                           {f: store.local_path(e["key"]) for f, e in property_manifest.get("brand_files", {}).items()},
                           intro, [muted.get(i, ()) for i in range(len(clips_in))] if any(mutes) else [],
                           store.local_path(hero["key"]) if hero else None)
        if plan.intro_s:
            plan.edl = [{**c, "showcase_in_s": c["showcase_in_s"] + plan.intro_s,
                         "showcase_out_s": c["showcase_out_s"] + plan.intro_s} for c in clips_in]
        showcase_s = round(selected_clips["showcase_s"] + plan.intro_s, 3)
        spoken = narration_files(render_dir, narration["videos"], plan.edl) \
            if any(v["segments"] for v in narration["videos"]) else {}  # captions only where someone speaks
        burn_in = bool(spoken) and narration["settings"]["burn_in_captions"]
        renders: list[Render] = []
        for job in plan.jobs(render_dir):
            started = time.perf_counter()
            try:
                rendered = render_edit(job.edit, render_dir / job.name, job.size, crossfade_s=plan.crossfade_s,
                                       music=music, cache=PieceCache(cache_root / job.aspect.replace(":", "x")),
                                       source_audio=job.variant == "branded",
                                       duck_ratio=narration["settings"]["duck_ratio"],
                                       progress=Progress(context.log.info, f"rendering {job.name}", "s",
                                                         rate_unit="x real time"))
                if burn_in and job.variant != "teaser":
                    rendered = burn_in_captions(rendered, spoken["narration.srt"])
            except RenderError as exc:
                yield AssetCheckResult(check_name=exc.check, passed=False,
                                       metadata={"problems": MetadataValue.text(str(exc))})
                raise Failure(f"check {exc.check} failed, nothing was published: {exc}",
                              allow_retries=False) from exc
            except FfmpegDiskFullError:
                raise  # an OSError naming the file, like any other full disk
            except FfmpegError as exc:
                raise RuntimeError(f"rendering the {job.aspect} {job.title} failed: {exc}") from exc
            renders.append(Render(job, rendered, time.perf_counter() - started))
            context.log.info(f"{job.name}: encoded {len(rendered.encoded)} pieces, reused {len(rendered.reused)} "
                             f"in {renders[-1].seconds:.1f} s")

        # Every check runs on the verified renders before anything is published.
        audio = "music: " + manifest.music if manifest.music else "source audio"
        showcases = [(r.job.aspect, r.rendered, r.seconds) for r in renders if r.job.variant != "teaser"]
        teasers = [(r.job.aspect, r.rendered, r.seconds) for r in renders if r.job.variant == "teaser"]
        checks = output_checks(showcases, showcase_s, manifest.options.target_duration_s + plan.intro_s, music,
                               audio)
        if teasers:
            checks = merge_checks(checks, output_checks(teasers, plan.teaser_s, TEASER_S, music, audio))
        leaks = agent_leaks([c for r in renders if r.job.variant != "branded" for c in r.job.contents],
                            manifest.brand)
        checks.append(AssetCheckResult(
            check_name="unbranded_has_no_agent", passed=not leaks,
            metadata={"problems": MetadataValue.text("; ".join(leaks) or "none"),
                      "checked_files": ", ".join(r.job.name for r in renders if r.job.variant != "branded")}))
        failed = [c for c in checks if not c.passed]
        if failed:
            yield from checks
            raise Failure("nothing was published: " + "; ".join(
                f"check {c.check_name} failed: {c.metadata['problems'].value}" for c in failed), allow_retries=False)
        verify_inputs(store, property_manifest)  # and the footage was not replaced while it rendered
        files = {r.job.name: r.rendered.path for r in renders}
        files |= plan.caption_files(render_dir, showcase_s)
        files |= spoken
        try:
            files |= staged_tables(store, key, TABLES)
        except ResultSetError as exc:
            raise Failure(f"nothing was published: {exc}", allow_retries=False) from exc
        result_set = publish_result_set(store, key, context.run_id, files)
        published = result_set["files"]
        outputs = []
        for r in renders:
            url = published[r.job.name]["url"]
            context.log.info(f"rendered {r.job.name} {r.rendered.width}x{r.rendered.height} "
                             f"{r.rendered.duration_s:.1f} s in {r.seconds:.1f} s -> {url}")
            outputs.append({"file": r.job.name, "variant": r.job.variant, "aspect": r.job.aspect, "url": url,
                            "width": r.rendered.width, "height": r.rendered.height,
                            "duration_s": r.rendered.duration_s, "size_bytes": r.rendered.size_bytes,
                            "video_codec": r.rendered.video_codec, "audio_codec": r.rendered.audio_codec,
                            "render_s": round(r.seconds, 2), "pieces_encoded": len(r.rendered.encoded),
                            "pieces_reused": len(r.rendered.reused)})
        main = outputs[0]
        poster_at = plan.title_s + plan.intro_s + min(1.0, clips_in[0]["duration_s"] / 2)
        poster = fit_width(poster_frame(renders[0].rendered.path, poster_at), 640)
        previews = {f"preview {r.job.name}": MetadataValue.md(preview_markdown(
            animated_preview(r.rendered.path, frames=8, width=240), f"preview of {r.job.name}"))
            for r in renders}
    chapter_list = youtube_chapters(plan.chapters(showcase_s))
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
            "audio": audio,
            "clip_count": len(clips_in),
            "renders": table(outputs),
            "blurred_clips": table(blurred, columns=("clip", "video", "in_s", "sampled_faces", "frames",
                                                    "blurred_frames", "boxes")),
            "voiced_clips": sum(c.voice for c in clips),
            "intro": "talking head (D-ID)" if agent_intro.get("clip") else "card" if plan.intro else "none",
            "pieces": table([{"file": r.job.name, "piece": name, "how": how}
                             for r in renders for how, names in (("encoded", r.rendered.encoded),
                                                                 ("reused", r.rendered.reused)) for name in names],
                            limit=200),
            "chapters": MetadataValue.md("```\n" + chapter_list + "\n```"),
            "poster": image_markdown(poster, "poster frame",
                                     caption=f"{main['aspect']} showcase at {poster_at:.1f} s: {main['url']}"),
            **previews,
        },
        data_version=DataVersion(piece_digest([k for r in renders for k in r.rendered.keys])),
        check_results=checks,
    )


def speech_and_privacy(context: AssetExecutionContext, store: Store, models: ModelRegistry, manifest: Manifest,
                       edl: list[dict], clips: list[RenderClip], sizes: list[tuple[int, int]], narration: dict,
                       moderation: dict) -> tuple[list[RenderClip], list[tuple], list[dict]]:
    """The clips with their narration kept (``voice``), faces blurred where moderation saw any, and per
    clip the spans of narration naming the agent or brokerage, which the unbranded renders drop."""
    transcripts = {v["video"]: Transcript.from_dict(v) for v in narration["videos"] if v["segments"]}
    names = agent_names(manifest.brand.agent_name, manifest.brand.brokerage)
    clips = [replace(c, voice=keeps_voice(transcripts.get(e["video"]), c.in_s, c.in_s + c.duration_s))
             for c, e in zip(clips, edl, strict=True)]
    mutes = [tuple(mute_spans(transcripts[e["video"]], names, c.in_s, c.in_s + c.duration_s))
             if e["video"] in transcripts else () for c, e in zip(clips, edl, strict=True)]
    settings = moderation["settings"]
    protected, blurred = protect_clips(clips, edl, sizes, moderation["findings"], settings["blur_classes"],
                                       settings["blur_score"], lambda rgb: models.moderation_model().detect(rgb),
                                       store.work_dir(context.partition_key, "privacy"))
    if blurred:
        context.log.info(f"blurred {', '.join(settings['blur_classes'])} in {len(blurred)} clip(s)")
    return protected, mutes, blurred


def merge_checks(first: list[AssetCheckResult], second: list[AssetCheckResult]) -> list[AssetCheckResult]:
    """One result per check name: passed when both passed, with both problem lists."""
    by_name = {c.check_name: c for c in second}
    merged = []
    for check in first:
        other = by_name[check.check_name]
        problems = [p for c in (check, other) if (p := c.metadata["problems"].value) != "none"]
        merged.append(AssetCheckResult(check_name=check.check_name, passed=check.passed and other.passed,
                                       metadata={**check.metadata,
                                                 "problems": MetadataValue.text("; ".join(problems) or "none")}))
    return merged


def full_size(facts: dict) -> tuple[int, int]:
    """A video's picture size as displayed (after its rotation)."""
    return (facts["height"], facts["width"]) if facts["rotation"] % 180 else (facts["width"], facts["height"])


def footage_clip(store: Store, clip: dict, video: dict, picture: dict) -> RenderClip:
    """A footage clip of the edit, framed inside any black bars of its video."""
    facts = video["facts"]
    width, height = picture["width"], picture["height"]
    crop = None if (width, height) == full_size(facts) else (picture["x"], picture["y"], width, height)
    return RenderClip(store.local_path(video["key"]), clip["in_s"], clip["duration_s"], facts["has_audio"],
                      width / height, crop, source_id=video["fingerprint"]["sha256"])


def photo_render_clip(store: Store, clip: dict) -> RenderClip:
    """A photo clip of the edit as the renderer reads it: its corrected photo, moved over as its room and
    focus plan (framed for each aspect), identified by its content so that a rerun reuses its pieces."""
    photo = store.local_path(clip["photo_key"])
    with Image.open(photo) as image:
        aspect = image.width / image.height
    return RenderClip(photo, 0.0, clip["duration_s"], False, aspect, kind="photo",
                      source_id=f"photo:{digest_of(photo)}", room=clip["room"],
                      focus=(clip["focus"][0], clip["focus"][1]))


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
