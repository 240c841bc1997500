"""The Dagster UI shows each asset's pictures and tables: a property materialised into a real Dagster
home, a real dagster-webserver on loopback, and Debian's Chromium (headless) looking at the asset pages.
The same run's log is checked for progress and summary lines.

Markdown metadata longer than 1000 characters (every embedded image) sits behind a "[Show Markdown]"
link in the metadata table of the asset's Events view; the test opens that dialog, checks that the
images decoded and the tables rendered, and keeps a screenshot per asset under artifacts/ui/.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize
from dagster_server import REPO, DagsterServer, dagster_server
from media_helpers import SHOWCASE_ONLY, ffmpeg, write_upload
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.visuals import MAX_IMAGE_BYTES
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.store import LocalStore

KEY = "oak-st"
ARTIFACTS = REPO / "artifacts" / "ui"


@dataclass(frozen=True)
class Materialised:
    home: Path
    store_root: Path
    logs: dict[str, list[str]]  # step -> messages the step logged


@pytest.fixture(scope="module")
def materialised(tmp_path_factory: pytest.TempPathFactory, source_video: Path) -> Materialised:
    """A Dagster home holding one materialised property (12 s of real footage), its store and run log."""
    base = tmp_path_factory.mktemp("ui")
    home, root = base / "dagster_home", base / "store"
    home.mkdir()
    (home / "dagster.yaml").touch()
    clip = base / "walk.mp4"
    ffmpeg("-i", str(source_video), "-t", "12", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(clip))
    write_upload(root, KEY, {"walk.mp4": clip}, listing={"address": "5 Oak St", "price": 350000},
                 options={"target_duration_s": 10, **SHOWCASE_ONLY})
    store = LocalStore(root=str(root))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(home))
        with DagsterInstance.get() as instance:
            instance.add_dynamic_partitions("property", [KEY])
            result = materialize(list(defs.assets), partition_key=KEY, instance=instance,
                                 resources={"store": store, "models": ModelRegistry(device="cpu"),
                                            "io_manager": StoreJsonIOManager(store=store),
                                            "limits": UploadLimits()})
            logs: dict[str, list[str]] = {}
            for entry in instance.all_logs(result.run_id):
                if not entry.is_dagster_event and entry.step_key:
                    logs.setdefault(entry.step_key, []).append(entry.user_message)
    assert result.success
    return Materialised(home, root, logs)


@pytest.fixture(scope="module")
def server(materialised: Materialised) -> Iterator[DagsterServer]:
    with dagster_server(materialised.home, materialised.store_root) as running:
        # A fresh home would greet the first visitor with a community sign-up dialog; mark it seen.
        assert running.graphql("mutation { setNuxSeen }") == {"data": {"setNuxSeen": True}}
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,2000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_markdown(browser: webdriver.Chrome, server: DagsterServer, asset: str, entry: str) -> WebElement:
    """Open the asset's Events view for the partition, and the dialog of one markdown metadata entry."""
    browser.get(f"{server.url}/assets/{asset}?view=events&partition={KEY}")
    wait = WebDriverWait(browser, 60)
    row = wait.until(ec.presence_of_element_located((By.XPATH, f"//tr[td[normalize-space()='{entry}']]")))
    row.find_element(By.XPATH, ".//a[normalize-space()='[Show Markdown]']").click()
    dialog = wait.until(ec.visibility_of_element_located(
        (By.XPATH, f"//*[@role='dialog'][.//*[normalize-space()='{entry}']]")))
    wait.until(lambda _: dialog.find_elements(By.CSS_SELECTOR, "img[src^='data:image/']") and browser.execute_script(
        "return [...arguments[0].querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)", dialog))
    return dialog


def keep_screenshot(browser: webdriver.Chrome, asset: str, capsys: pytest.CaptureFixture,
                    record_property) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{asset}.png"
    assert browser.save_screenshot(str(path))
    record_property("screenshot", str(path))
    with capsys.disabled():
        print(f"\nUI screenshot of {asset}: {path}")
    return path


def image_bytes(image: WebElement) -> int:
    """Size of the image an img element embeds as a base64 data URI."""
    payload = image.get_attribute("src").split(",", 1)[1]
    return len(payload) * 3 // 4 - payload[-2:].count("=")


@pytest.mark.parametrize(("asset", "entry", "alt"), [
    ("video_frames", "contact_sheet", "contact sheet"),
    ("shot_boundaries", "timeline", "shot timeline"),
    ("quality_scores", "score_plot", "quality scores"),
    ("selected_clips", "score_plot", "chosen clips"),
    ("showcase_video", "poster", "poster frame"),
])
def test_asset_page_shows_its_picture(browser, server, asset: str, entry: str, alt: str, capsys,
                                      record_property) -> None:
    dialog = open_markdown(browser, server, asset, entry)
    [image] = dialog.find_elements(By.CSS_SELECTOR, "img[src^='data:image/']")
    assert image.get_attribute("alt") == alt
    assert 0 < image_bytes(image) <= MAX_IMAGE_BYTES
    assert int(image.get_attribute("naturalWidth")) >= 300 and image.size["width"] >= 300  # shown, not a speck
    keep_screenshot(browser, asset, capsys, record_property)


def test_room_labels_page_shows_the_segment_table_with_thumbnails(browser, server, capsys, record_property) -> None:
    dialog = open_markdown(browser, server, "room_labels", "segments")
    [table] = dialog.find_elements(By.TAG_NAME, "table")
    header = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert header == ["video", "shot", "start_s", "end_s", "room", "confidence", "objects", "frames"]
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) >= 3
    for row in rows:
        cells = row.find_elements(By.TAG_NAME, "td")
        assert cells[0].text == "walk.mp4" and 0 < float(cells[5].text) <= 1
        [strip] = cells[7].find_elements(By.TAG_NAME, "img")
        assert int(strip.get_attribute("naturalHeight")) == 36
    keep_screenshot(browser, "room_labels", capsys, record_property)


def test_a_short_table_renders_inline_on_the_events_view(browser, server, capsys, record_property) -> None:
    browser.get(f"{server.url}/assets/selected_clips?view=events&partition={KEY}")
    row = WebDriverWait(browser, 60).until(ec.presence_of_element_located(
        (By.XPATH, "//tr[td[normalize-space()='edit_decision_list']]")))
    header = [th.text for th in row.find_elements(By.CSS_SELECTOR, "table thead th")]
    assert header == ["order", "video", "room", "in_s", "out_s", "duration_s", "showcase_in_s", "showcase_out_s",
                      "score", "stability", "source", "reason"]
    cells = [td.text for td in row.find_elements(By.CSS_SELECTOR, "table tbody tr:first-child td")]
    assert cells[:3] == ["0", "walk.mp4", cells[2]] and float(cells[5]) >= 2.0
    keep_screenshot(browser, "selected_clips_table", capsys, record_property)


def test_run_log_has_progress_at_a_readable_rate_and_a_summary_per_step(materialised: Materialised) -> None:
    logs = materialised.logs
    summaries = [
        ("video_analysis", r"video_analysis: 1 video, detected_objects, quality_scores, room_labels, shot_boundaries, "
                           r"video_frames "
                           r"in one overlapped pass of [\d.]+ s"),
        ("video_analysis", r"video_frames: 1 video, 300 frames decoded, 24 sampled in [\d.]+ s \(\d+ frames/s\)"),
        ("video_analysis", r"shot_boundaries: 1 video, 300 frames, \d+ shots in [\d.]+ s \(\d+ frames/s\), "
                           r"backend transnetv2(\+bf16)?@[0-9a-f]{12} on cpu; \d+ of the cuts confirmed by the content "
                           r"score"),
        ("video_analysis", r"room_labels: 1 video, 24 sampled frames, \d+ segments in [\d.]+ s \([\d.]+ frames/s\), "
                           r"backend mobilenet_v2_imagenet\+evidence@[0-9a-f]{12}\+head@[0-9a-f]{12} on cpu"),
        ("video_analysis", r"quality_scores: 1 video, 24 sampled frames scored in [\d.]+ s \([\d.]+ frames/s\), "
                           r"mean score [\d.]+, backend pyiqa:piqe\+classical@tag-[0-9a-f]{8} on cpu"),
        ("selected_clips", r"chose \d+ clips? from \d+ segments for a [\d.]+ s showcase \(target 10 s\).*"),
        ("showcase_video", r"rendered showcase.mp4 1920x1080 [\d.]+ s in [\d.]+ s -> file://.*/showcase.mp4"),
    ]
    for step, pattern in summaries:
        assert [m for m in logs[step] if re.fullmatch(pattern, m)], (step, pattern, logs[step])
    # the analysis step reports decoding and each model's progress side by side, as they overlap
    progress = [
        ("video_analysis", r"walk.mp4: decoding: \d+/300 frames \(\d+%\), [\d.]+ frames/s"),
        ("video_analysis", r"walk.mp4: shot model: \d+/300 frames \(\d+%\), [\d.]+ frames/s"),
        ("video_analysis", r"walk.mp4: room and quality models: \d+/24 frames \(\d+%\), [\d.]+ frames/s"),
        ("showcase_video", r"rendering showcase.mp4: [\d.]+/[\d.]+ s \(\d+%\), [\d.]+x real time"),
    ]
    for step, pattern in progress:
        lines = [m for m in logs[step] if re.fullmatch(pattern, m)]
        assert 1 <= len(lines) <= 11, (step, pattern, logs[step])  # at most one per tenth, plus the last
        assert "(100%)" in lines[-1] or step == "showcase_video", lines
