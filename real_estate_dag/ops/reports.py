"""What the analysis assets record: each one's value, the rows of its published table, the metadata the
UI shows (numbers, tables, pictures) and a summary line, built from the analysis pass's outputs.

Everything here is plain data; the asset layer turns a ``Report`` into a Dagster materialization.
A metadata entry is a number or string, a ``Picture``, or a table as a list of rows (dicts); a table
cell may hold an image, shown inline.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from real_estate_dag.gpu_resources.backends import IqaModel
from real_estate_dag.ops import quality
from real_estate_dag.ops.analysis import VideoPass
from real_estate_dag.ops.decode import DecodedVideo
from real_estate_dag.ops.evidence import EvidenceSettings, Exemplars, frame_objects, fused_probabilities
from real_estate_dag.ops.progress import counted
from real_estate_dag.ops.rooms import ROOM_TYPES, SequenceSettings, label_segments
from real_estate_dag.ops.shots import (
    CutSettings,
    adaptive_content,
    content_change,
    fused_shots,
    probabilities_to_shots,
)
from real_estate_dag.ops.timecode import frame_end_time, frame_start_time, video_end_time
from real_estate_dag.ops.visuals import (
    ClipMark,
    RoomSequenceRow,
    ScoreSeries,
    TimelineRow,
    contact_sheet,
    pick_evenly,
    room_sequence_plot,
    score_plot,
    shot_timeline,
    thumbnail_strip,
)

SEGMENT_ROWS = 50  # segments shown with their frames in the UI; rooms.parquet holds every one


@dataclass(frozen=True)
class Picture:
    image: Image.Image
    alt: str
    fmt: str = "JPEG"
    caption: str = ""


@dataclass
class Report:
    value: dict[str, Any]
    summary: str
    metadata: dict[str, Any] = field(default_factory=dict)
    table: list[dict[str, Any]] | None = None  # published as a parquet file, linked as table_url


def frames_report(passes: Sequence[VideoPass], entries: list[dict[str, Any]], seconds: float) -> Report:
    """video_frames: ``entries`` are the value's per-video entries (name, store key, decoded streams)."""
    rows = [{"video": p.name, "frames": p.decoded.frame_count, "fps": p.decoded.fps,
             "sampled": len(p.decoded.sampled), "decode_s": round(p.decode_s, 2)} for p in passes]
    frames, sampled = sum(r["frames"] for r in rows), sum(r["sampled"] for r in rows)
    return Report(
        value={"videos": entries},
        summary=f"video_frames: {counted(len(rows), 'video')}, {frames} frames decoded, {sampled} sampled "
                f"in {seconds:.1f} s ({frames / seconds:.0f} frames/s)",
        metadata={"frame_count": frames, "sampled_count": sampled, "videos": rows,
                  "contact_sheet": sampled_contact_sheet([(p.name, p.decoded) for p in passes])},
    )


def sampled_contact_sheet(videos: list[tuple[str, DecodedVideo]], count: int = 24) -> Picture:
    """Sampled frames spread evenly over all the footage, captioned with video and time."""
    samples = [(name, decoded, sample) for name, decoded in videos for sample in decoded.sampled]
    picked = pick_evenly(samples, count)
    sheet = contact_sheet([(decoded.sampled_image(sample), f"{name} · {sample.time_s:.1f} s")
                           for name, decoded, sample in picked])
    return Picture(sheet, "contact sheet", caption=f"{len(picked)} of {len(samples)} sampled frames, evenly spread")


def shots_report(passes: Sequence[VideoPass], cuts: CutSettings, backend: str, device: str, seconds: float,
                 out_dir: Path) -> Report:
    """shot_boundaries from each pass's transition probabilities fused with the content-change score of
    its stored 48x27 stream (``ops.shots``); both are saved in ``out_dir``."""
    videos = []
    rows = []
    timeline = []
    for index, p in enumerate(passes):
        assert p.probs is not None, "the shot model ran in this pass"
        content = content_change(p.decoded.shot_stream())
        np.save(out_dir / f"{index:02d}-probs.npy", p.probs)
        np.save(out_dir / f"{index:02d}-content.npy", content)
        shots = fused_shots(p.probs, content, cuts)
        model_only = len(probabilities_to_shots(p.probs, cuts.threshold))
        times = p.decoded.times()
        seconds_of = [(round(frame_start_time(times, s), 3), round(frame_end_time(times, e), 3)) for s, e in shots]
        videos.append({
            "name": p.name,
            "frame_count": p.decoded.frame_count,
            "fps": p.decoded.fps,
            "shots": [[s, e] for s, e in shots],
            "shot_seconds": [list(pair) for pair in seconds_of],
            "peak_probability": [round(float(p.probs[s : e + 1].max()), 4) for s, e in shots],
            "content_cuts": len(shots) - model_only,
        })
        curve = np.clip(adaptive_content(content, cuts.window) / (2 * cuts.content_ratio), 0.0, 1.0)
        timeline.append(TimelineRow(p.name, video_end_time(times), seconds_of, p.probs, curve))
        for i, ((s, e), (ts, te)) in enumerate(zip(shots, seconds_of, strict=True)):
            rows.append({"video": p.name, "shot": i, "start_frame": s, "end_frame": e,
                         "start_s": ts, "end_s": te, "seconds": round(te - ts, 3)})
    frame_total = sum(v["frame_count"] for v in videos)
    content_cuts = sum(v["content_cuts"] for v in videos)
    return Report(
        value={"backend": backend, "cuts": asdict(cuts), "videos": videos},
        summary=f"shot_boundaries: {counted(len(videos), 'video')}, {frame_total} frames, "
                f"{counted(len(rows), 'shot')} in {seconds:.1f} s ({frame_total / seconds:.0f} frames/s), "
                f"backend {backend} on {device}; {content_cuts} of the cuts confirmed by the content score",
        metadata={
            "shot_count": len(rows),
            "content_cuts": content_cuts,
            "timeline": Picture(shot_timeline(timeline), "shot timeline", "PNG",
                                caption="Shots per video (alternating colours; gaps are transitions); under "
                                "them the TransNetV2 transition probability (red) and the content-change "
                                f"score (green; half height = {cuts.content_ratio:g}x the change around it)."),
            "shots": rows,
        },
        table=rows,
    )


def segment_strip(decoded: DecodedVideo, samples: Sequence[int], count: int = 3) -> Image.Image:
    """A few of the segment's sampled frames side by side."""
    return thumbnail_strip([decoded.sampled_image(decoded.sampled[i]) for i in pick_evenly(samples, count)],
                           height=36)


def objects_text(objects: Sequence[dict[str, float]]) -> str:
    """The objects seen in some frames, each with its highest confidence, most confident first."""
    best: dict[str, float] = {}
    for seen in objects:
        for name, confidence in seen.items():
            best[name] = max(best.get(name, 0.0), confidence)
    return ", ".join(f"{n} {c:.2f}" for n, c in sorted(best.items(), key=lambda item: -item[1]))


def rooms_report(passes: Sequence[VideoPass], shots: Sequence[list[list[int]]], backend: str, device: str,
                 settings: SequenceSettings, seconds: float, out_dir: Path, prefix: str, evidence: EvidenceSettings,
                 detections: Sequence[np.ndarray] | None = None, exemplars: Exemplars | None = None) -> Report:
    """room_labels from each pass's sample probabilities, fused with the detector's object evidence
    (``detections``, per video) and the property's photos (``exemplars``), and its video's shots; the
    embeddings are saved in ``out_dir``, which the store keeps under ``prefix``."""
    segments = []
    videos = []
    plot_rows = []
    decoded_by_name = {}
    objects_by_name = {}
    for index, (p, video_shots) in enumerate(zip(passes, shots, strict=True)):
        model_probs, embeddings = p.samples["room_probs"], p.samples["embeddings"]
        objects = None if detections is None else frame_objects(detections[index], len(model_probs))
        probs, object_evidence = fused_probabilities(model_probs, embeddings, objects, exemplars, evidence)
        objects_by_name[p.name] = objects or [{} for _ in range(len(probs))]
        embeddings_file = f"{index:02d}-embeddings.npy"
        np.save(out_dir / embeddings_file, embeddings.astype(np.float16))
        times = p.decoded.times()
        sequence = label_segments(p.name, [tuple(s) for s in video_shots], times,
                                  np.array([s.index for s in p.decoded.sampled]), probs, ROOM_TYPES, settings)
        segments.extend(s.to_dict() for s in sequence.segments)
        decoded_by_name[p.name] = p.decoded
        videos.append({"name": p.name, "embeddings": f"{prefix}/{embeddings_file}",
                       "sample_probs": np.round(probs, 4).tolist(),
                       "model_probs": np.round(model_probs, 4).tolist(),
                       "object_evidence": np.round(object_evidence, 4).tolist(),
                       "path": [ROOM_TYPES[i] if i >= 0 else None for i in sequence.path]})
        top = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
        plot_rows.append(RoomSequenceRow(
            p.name, video_end_time(times), np.array([s.time_s for s in p.decoded.sampled]), top,
            probs[np.arange(len(probs)), top], sequence.path,
            [frame_start_time(times, start) for start, _ in video_shots[1:]]))
    rows = [{"video": s["video"], "shot": s["shot"], "start_s": s["start_s"], "end_s": s["end_s"],
             "room": s["room"], "confidence": s["confidence"],
             "top3": ", ".join(f"{r} {p:.2f}" for r, p in s["top3"]),
             "objects": objects_text([objects_by_name[s["video"]][i] for i in s["samples"]])} for s in segments]
    counts = {room: sum(1 for s in segments if s["room"] == room) for room in ROOM_TYPES}
    frames = sum(len(v["sample_probs"]) for v in videos)
    return Report(
        value={"backend": backend, "rooms": list(ROOM_TYPES), "sequence": asdict(settings),
               "evidence": asdict(evidence), "exemplars": exemplars.rows() if exemplars else [],
               "segments": segments, "videos": videos},
        summary=f"room_labels: {counted(len(videos), 'video')}, {frames} sampled frames, "
                f"{counted(len(segments), 'segment')} in {seconds:.1f} s ({frames / seconds:.1f} frames/s), "
                f"backend {backend} on {device}",
        metadata={
            "segment_count": len(segments),
            **({"exemplar_photos": exemplars.rows()} if exemplars else {}),
            "rooms_found": ", ".join(f"{r}: {n}" for r, n in counts.items() if n) or "(none)",
            "room_sequence": Picture(
                room_sequence_plot(plot_rows, ROOM_TYPES), "room sequence", "PNG",
                caption=f"Per video: each sampled frame's top room and its probability (bar height; the room "
                f"model's, blended with the property's photos at weight {evidence.exemplar_weight:g} and with "
                f"detected objects' evidence at weight {evidence.object_weight:g}), the chosen path under it, cuts "
                f"as dark lines (switch penalty {settings.switch_penalty:g}, at a cut "
                f"{settings.cut_switch_penalty:g}, minimum dwell {settings.min_dwell_s:g} s)."),
            "segments": [
                {"video": s["video"], "shot": s["shot"], "start_s": s["start_s"], "end_s": s["end_s"],
                 "room": s["room"], "confidence": s["confidence"], "objects": row["objects"],
                 "frames": segment_strip(decoded_by_name[s["video"]], s["samples"]) if i < SEGMENT_ROWS else None}
                for i, (s, row) in enumerate(zip(segments, rows, strict=True))
            ],
        },
        table=rows,
    )


def score_series(videos: Sequence[tuple[str, np.ndarray]], frame_rows: list[dict[str, Any]]) -> list[ScoreSeries]:
    """Per video (name, frame times): the time and combined score of each sampled frame, for plotting."""
    series = []
    for name, times in videos:
        rows = [r for r in frame_rows if r["video"] == name]
        series.append(ScoreSeries(name, video_end_time(times), np.array([r["time_s"] for r in rows]),
                                  np.array([r["score"] for r in rows])))
    return series


def quality_report(passes: Sequence[VideoPass], shots: Sequence[list[list[int]]], model: IqaModel, device: str,
                   seconds: float) -> Report:
    """quality_scores from each pass's sample measures (iqa_raw, sharpness, exposure) and its video's shots."""
    frames_out = []
    shots_out = []
    for p, video_shots in zip(passes, shots, strict=True):
        decoded, outputs = p.decoded, p.samples
        motion = quality.frame_motion(decoded.shot_stream())
        centres = np.array([s.index for s in decoded.sampled])
        stability = quality.stability(motion, decoded.fps, centres, [tuple(s) for s in video_shots])
        raw = outputs["iqa_raw"]
        iqa = model.normalise(raw)
        video_rows = []
        for i, sample in enumerate(decoded.sampled):
            sharp, expo = float(outputs["sharpness"][i]), float(outputs["exposure"][i])
            video_rows.append({
                "video": p.name, "sample": i, "frame": sample.index, "time_s": sample.time_s,
                "sharpness": round(sharp, 4), "exposure": round(expo, 4),
                "stability": round(float(stability[i]), 4),
                "iqa_raw": None if np.isnan(raw[i]) else round(float(raw[i]), 4), "iqa": round(float(iqa[i]), 4),
                "score": round(quality.combine(float(iqa[i]), sharp, expo, float(stability[i])), 4),
            })
        frames_out.extend(video_rows)
        for shot_index, (start, end) in enumerate(video_shots):
            inside = [r for r in video_rows if start <= r["frame"] <= end]
            if inside:
                shots_out.append({
                    "video": p.name, "shot": shot_index,
                    "score": round(float(np.mean([r["score"] for r in inside])), 4),
                    "stability": round(float(np.mean([r["stability"] for r in inside])), 4),
                    "samples": len(inside),
                })
    backend = model.backend.version_tag
    scores = [r["score"] for r in frames_out]
    plot = score_plot(score_series([(p.name, p.decoded.times()) for p in passes], frames_out))
    return Report(
        value={"backend": backend, "frames": frames_out, "shots": shots_out},
        summary=f"quality_scores: {counted(len(passes), 'video')}, {len(frames_out)} sampled frames "
                f"scored in {seconds:.1f} s ({len(frames_out) / seconds:.1f} frames/s), "
                f"mean score {np.mean(scores):.3f}, backend {backend} on {device}",
        metadata={
            "frames_scored": len(frames_out),
            "mean_score": round(float(np.mean(scores)), 4),
            "score_plot": Picture(plot, "quality scores", "PNG", caption="Combined quality score (0..1) of each "
                                  "sampled frame over time; the chosen clips are marked on selected_clips."),
            "shots": shots_out,
        },
        table=frames_out,
    )


def clip_pictures(clips: list[dict[str, Any]], videos: Sequence[tuple[str, DecodedVideo, np.ndarray]],
                  quality_frames: list[dict[str, Any]]) -> dict[str, Picture]:
    """selected_clips: the score plot with the chosen clips marked, and the sampled frame nearest each
    clip's middle; ``videos`` are (name, decoded streams in a local folder, frame times)."""
    marks = [ClipMark(c["video"], c["in_s"], c["out_s"], f"#{c['order']}") for c in clips]
    plot = score_plot(score_series([(name, times) for name, _, times in videos], quality_frames), marks)
    pictures = {"score_plot": Picture(plot, "chosen clips", "PNG", caption="Quality score over time; the shaded "
                                      "spans are the chosen clips, numbered in showcase order.")}
    if clips:
        decoded = {name: video for name, video, _ in videos}
        frames = []
        for c in clips:
            video = decoded[c["video"]]
            middle = (c["in_s"] + c["out_s"]) / 2
            sample = min(video.sampled, key=lambda s: abs(s.time_s - middle))
            frames.append((video.sampled_image(sample), f"#{c['order']} · {c['room']} · {c['duration_s']:.1f} s"))
        pictures["clip_frames"] = Picture(contact_sheet(frames), "chosen clips",
                                          caption="The middle of each chosen clip, in showcase order.")
    return pictures
