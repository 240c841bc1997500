import numpy as np

from real_estate_dag.ops.select import Candidate, SelectionParams, select_clips, showcase_length

FPS = 25
TIMES = np.arange(20000) / FPS


def candidate(i: int, room: str, start_s: float, end_s: float, score: float, embedding: np.ndarray) -> Candidate:
    sample_times = np.arange(start_s, end_s, 0.5)
    return Candidate(
        video="v.mp4", video_index=0, shot=i, segment=i, room=room,
        first_frame=round(start_s * FPS), last_frame=round(end_s * FPS) - 1, start_s=start_s, end_s=end_s,
        sample_times=sample_times, sample_scores=np.full(len(sample_times), score),
        sample_stability=np.full(len(sample_times), 0.8), embedding=embedding, frame_times=TIMES,
    )


def unit(k: int, dim: int = 16) -> np.ndarray:
    v = np.zeros(dim)
    v[k] = 1
    return v


def candidates() -> list[Candidate]:
    rooms = ["bathroom", "kitchen", "exterior", "bedroom", "living_room", "outdoor", "other", "dining_room"]
    out = [candidate(i, room, i * 20.0, i * 20.0 + 12, 0.5 + 0.03 * i, unit(i)) for i, room in enumerate(rooms)]
    out.append(candidate(8, "kitchen", 170.0, 171.5, 0.99, unit(9)))  # too short to use
    out.append(candidate(9, "kitchen", 200.0, 212.0, 0.9, unit(1)))  # near-duplicate of shot 1
    return out


def test_selection_fits_target_orders_rooms_and_stays_inside_segments() -> None:
    params = SelectionParams()
    selection = select_clips(candidates(), 30.0, params)
    clips = selection.clips
    assert abs(selection.showcase_s - 30.0) <= 3.0
    assert selection.showcase_s == showcase_length([c.duration_s for c in clips], params)
    assert all(params.min_clip_s - 1e-6 <= c.duration_s <= params.max_clip_s + 1e-6 for c in clips)
    source = {c.shot: c for c in candidates()}
    for clip in clips:
        seg = source[clip.shot]
        assert seg.first_frame + params.cut_margin_frames <= clip.in_frame <= clip.out_frame
        assert clip.out_frame <= seg.last_frame - params.cut_margin_frames
        assert seg.start_s <= clip.in_s < clip.out_s <= seg.end_s
    order = ["exterior", "living_room", "kitchen", "dining_room", "bedroom", "bathroom", "other", "outdoor"]
    ranks = [order.index(c.room) for c in clips]
    assert ranks == sorted(ranks)
    assert [c.order for c in clips] == list(range(len(clips)))
    assert 8 not in {c.shot for c in clips}
    assert selection.dropped_duplicates == 1
    assert {c.shot for c in clips} & {1, 9} == {9}  # the better of the two near-duplicates is kept


def test_selection_is_deterministic_and_reports_shortfall() -> None:
    first = select_clips(candidates(), 30.0, SelectionParams())
    assert select_clips(candidates(), 30.0, SelectionParams()) == first
    long = select_clips(candidates(), 120.0, SelectionParams())
    assert long.shortfall_s > 0
    assert all(c.duration_s == SelectionParams().max_clip_s for c in long.clips)
