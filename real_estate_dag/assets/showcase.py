"""showcase_video: the rendered showcase, one file per requested aspect ratio."""

import time

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from real_estate_dag.assets.common import (
    GROUP,
    OWNERS,
    STORAGE_RETRY,
    bad_input,
    image_markdown,
    markdown_table,
    property_partitions,
)
from real_estate_dag.assets.manifest import verify_inputs
from real_estate_dag.ops.audio import audio_problems
from real_estate_dag.ops.ffmpeg import FfmpegError
from real_estate_dag.ops.manifest import manifest_from_dict
from real_estate_dag.ops.progress import Progress
from real_estate_dag.ops.render import ASPECT_SIZES, RenderClip, render_showcase
from real_estate_dag.ops.titlecard import draw_title_card
from real_estate_dag.ops.visuals import fit_width, poster_frame
from real_estate_dag.resources.store import RESULTS, Store


def result_name(aspect: str) -> str:
    return "showcase.mp4" if aspect == "16:9" else f"showcase_{aspect.replace(':', 'x')}.mp4"


@asset(
    partitions_def=property_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"ffmpeg", "video"},
    code_version="render-v1",
    retry_policy=STORAGE_RETRY,
    check_specs=[
        AssetCheckSpec("format", asset="showcase_video",
                       description="H.264 video at the requested frame size with an AAC audio track."),
        AssetCheckSpec("duration_matches_edit", asset="showcase_video",
                       description="Every rendered file is as long as the edit decision list (±0.5 s) and "
                       "no longer than the requested bounds allow (target + 10%); a showcase shorter than "
                       "asked is reported by selected_clips' fits_target_duration."),
        AssetCheckSpec("audio_present", asset="showcase_video",
                       description="Every rendered file has an audio stream; when the manifest gives music, "
                       "that stream is the music."),
    ],
    description="The showcase rendered with ffmpeg: title card from the listing, crossfades, music "
    "faded in and out (or the source audio). Published atomically to results/<property>/.",
)
def showcase_video(
    context: AssetExecutionContext,
    store: Store,
    property_manifest: dict,
    selected_clips: dict,
) -> MaterializeResult:
    verify_inputs(store, property_manifest)
    key = context.partition_key
    manifest = manifest_from_dict(property_manifest["manifest"])
    clips_in = selected_clips["clips"]
    if not clips_in:
        raise bad_input("no usable clip was found in the footage (every shot is shorter than "
                        f"{selected_clips['params']['min_clip_s']} s or unreadable)")
    videos = {v["name"]: v for v in property_manifest["videos"]}
    clips = []
    for clip in clips_in:
        facts = videos[clip["video"]]["facts"]
        width, height = (facts["height"], facts["width"]) if facts["rotation"] % 180 else (
            facts["width"], facts["height"])
        clips.append(RenderClip(store.local_path(videos[clip["video"]]["key"]), clip["in_s"],
                                clip["duration_s"], facts["has_audio"], width / height))
    music = store.local_path(property_manifest["music"]["key"]) if property_manifest["music"] else None
    params = selected_clips["params"]
    render_dir = store.work_dir(key, "render")
    rendered_files = []
    renders = []
    for aspect in manifest.options.aspects:
        size = ASPECT_SIZES[aspect]
        title = draw_title_card(manifest.listing, manifest.property_id, size,
                                render_dir / f"title_{aspect.replace(':', 'x')}.png")
        started = time.perf_counter()
        try:
            rendered = render_showcase(clips, title, render_dir / f"render_{aspect.replace(':', 'x')}.mp4",
                                       size, title_s=params["title_s"], crossfade_s=params["crossfade_s"],
                                       music=music, progress=Progress(context.log.info, f"rendering {aspect}", "s",
                                                                      rate_unit="x real time"))
        except FfmpegError as exc:
            raise RuntimeError(f"rendering the {aspect} showcase failed: {exc}") from exc
        renders.append((aspect, rendered, time.perf_counter() - started))
    # Publish only once every aspect rendered and verified, so a failure leaves the previous set whole.
    outputs = []
    for aspect, rendered, seconds in renders:
        url = store.publish(rendered.path, f"{RESULTS}/{key}/{result_name(aspect)}")
        context.log.info(f"rendered {aspect} {rendered.width}x{rendered.height} "
                         f"{rendered.duration_s:.1f} s in {seconds:.1f} s -> {url}")
        outputs.append({"aspect": aspect, "url": url, "width": rendered.width, "height": rendered.height,
                        "duration_s": rendered.duration_s, "size_bytes": rendered.size_bytes,
                        "video_codec": rendered.video_codec, "audio_codec": rendered.audio_codec,
                        "render_s": round(seconds, 2)})
        rendered_files.append(rendered)
    main = outputs[0]
    expected = selected_clips["showcase_s"]
    longest_s = 1.1 * manifest.options.target_duration_s + 0.5
    sound_problems = audio_problems([(r.path, r.duration_s) for r in rendered_files], music,
                                    property_manifest["music"]["duration_s"] if music else 0.0)
    poster_at = params["title_s"] + min(1.0, clips[0].duration_s / 2)
    poster = fit_width(poster_frame(rendered_files[0].path, poster_at), 640)
    bad_format = [o["aspect"] for o in outputs
                  if o["video_codec"] != "h264" or o["audio_codec"] != "aac"
                  or (o["width"], o["height"]) != ASPECT_SIZES[o["aspect"]]]
    return MaterializeResult(
        metadata={
            "url": MetadataValue.url(main["url"]),
            "path": MetadataValue.path(main["url"].removeprefix("file://")),
            "duration_s": main["duration_s"],
            "size_bytes": main["size_bytes"],
            "resolution": f"{main['width']}x{main['height']}",
            "audio": "music: " + manifest.music if manifest.music else "source audio",
            "clip_count": len(clips),
            "renders": markdown_table(outputs),
            "poster": image_markdown(poster, "poster frame",
                                     caption=f"{main['aspect']} showcase at {poster_at:.1f} s: {main['url']}"),
        },
        check_results=[
            AssetCheckResult(check_name="format", passed=not bad_format,
                             metadata={"wrong": ", ".join(bad_format) or "none"}),
            AssetCheckResult(check_name="duration_matches_edit",
                             passed=all(abs(o["duration_s"] - expected) <= 0.5 and o["duration_s"] <= longest_s
                                        for o in outputs),
                             metadata={"expected_s": expected, "rendered_s": main["duration_s"],
                                       "target_s": manifest.options.target_duration_s,
                                       "longest_allowed_s": round(longest_s, 3)}),
            AssetCheckResult(check_name="audio_present", passed=not sound_problems,
                             metadata={"problems": MetadataValue.text("; ".join(sound_problems) or "none"),
                                       "audio": "music: " + manifest.music if manifest.music else "source audio"}),
        ],
    )
