import threading
import time

import numpy as np
import pytest

from real_estate_dag.ops.shots import ShotStream, transition_probabilities
from real_estate_dag.ops.workers import Workers


def test_results_come_back_in_submission_order_from_several_threads() -> None:
    def slow_square(x: int) -> int:
        time.sleep(0.01 * (x % 3))  # later items often finish first
        return x * x

    workers: Workers[int, int] = Workers(slow_square, threads=3, queue_size=2)
    for i in range(20):
        workers.submit(i)
    assert workers.close() == [i * i for i in range(20)]
    assert workers.done == 20


def test_a_worker_error_reaches_the_producer_without_deadlock() -> None:
    def fail_on_five(x: int) -> int:
        if x == 5:
            raise ValueError("bad item 5")
        return x

    workers: Workers[int, int] = Workers(fail_on_five, threads=2, queue_size=1)
    with pytest.raises(ValueError, match="bad item 5"):
        for i in range(1000):  # the queue holds one item: a blocked producer must still see the error
            workers.submit(i)
    assert not any(t.is_alive() for t in workers._pool._threads)


def test_the_initialiser_runs_once_on_each_worker_thread_before_its_items() -> None:
    seen: list[int] = []
    both = threading.Barrier(2, timeout=10)

    def item(x: int) -> int:
        assert threading.get_ident() in seen  # this thread's initialiser ran first
        both.wait()  # items run two at a time, so both threads take part
        return x

    workers: Workers[int, int] = Workers(item, threads=2, init=lambda: seen.append(threading.get_ident()))
    for i in range(6):
        workers.submit(i)
    assert workers.close() == list(range(6))
    assert len(seen) == 2 and len(set(seen)) == 2


def test_cancel_drops_what_is_queued_and_stops_the_threads() -> None:
    ran: list[int] = []
    release = threading.Event()

    def item(x: int) -> int:
        release.wait(10)
        ran.append(x)
        return x

    workers: Workers[int, int] = Workers(item, threads=1, queue_size=4)
    for i in range(5):  # one running, four queued
        workers.submit(i)
    threading.Timer(0.2, release.set).start()
    workers.cancel()
    assert ran == [0]
    assert not any(t.is_alive() for t in workers._pool._threads)


def test_a_full_queue_makes_the_producer_wait() -> None:
    release = threading.Event()
    workers: Workers[int, int] = Workers(lambda x: release.wait(10) and x, threads=1, queue_size=2)
    for i in range(3):  # one running, two queued
        workers.submit(i)
    blocked = threading.Thread(target=workers.submit, args=(3,))
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()  # no room until an item finishes
    release.set()
    blocked.join(10)
    assert workers.close() == [0, 1, 2, 3]


def fake_model(windows: np.ndarray) -> np.ndarray:
    """A deterministic stand-in whose output depends on each frame and its place in the window."""
    means = windows.reshape(*windows.shape[:2], -1).mean(axis=2)
    return means / 255.0 + np.linspace(0, 0.01, windows.shape[1])[None]


@pytest.mark.parametrize("frames", [1, 49, 50, 51, 100, 437])
def test_streamed_windows_on_several_workers_match_one_window_at_a_time(frames: int) -> None:
    rng = np.random.default_rng(frames)
    video = rng.integers(0, 255, size=(frames, 27, 48, 3), dtype=np.uint8)
    expected = transition_probabilities(video, fake_model)
    stream = ShotStream(fake_model, batch_windows=3, workers=3)
    for frame in video:
        stream.add(frame)
    got = stream.finish()
    assert got.shape == (frames,)
    np.testing.assert_array_equal(got, expected)
    # the reference: TransNetV2's windowing (25 copies of the first frame, 50-frame steps, middle 50 kept)
    padded = np.concatenate([video[:1].repeat(25, 0), video, video[-1:].repeat(125, 0)])
    first = fake_model(padded[None, :100])[0, 25:75]
    np.testing.assert_array_equal(got[: min(50, frames)], first[: min(50, frames)])


def test_a_failing_model_surfaces_from_the_stream_and_stops_its_threads() -> None:
    def broken(windows: np.ndarray) -> np.ndarray:
        raise RuntimeError("model exploded")

    stream = ShotStream(broken, workers=2)
    frame = np.zeros((27, 48, 3), dtype=np.uint8)
    with pytest.raises(RuntimeError, match="model exploded"):
        for _ in range(2000):  # the decoder keeps feeding until a submit sees the error
            stream.add(frame)
        stream.finish()
    stream.cancel()
    assert not any(t.is_alive() for t in stream._workers._pool._threads)
