"""The production dagster.yaml against the real PostgreSQL server: a property materialised with it
leaves its run, events, partition and pool limit in Postgres, readable by a new instance."""

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterRunStatus, materialize
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from media_helpers import SHOWCASE_ONLY, ffmpeg, write_upload
from postgres_instance import connect, open_instance, production_home

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.store import LocalStore

ASSETS = ["property_manifest", "video_frames", "shot_boundaries", "detected_objects", "room_labels",
          "quality_scores", "photo_analysis", "music_beats", "narration", "moderation", "agent_intro",
          "selected_clips", "showcase_video"]


@pytest.fixture(scope="module")
def tiny_clip(source_video: Path, media_dir: Path) -> Path:
    """11 s of the real footage (12 s in): three shots longer than 2 s."""
    out = media_dir / "tiny.mp4"
    if not out.exists():
        ffmpeg("-ss", "12", "-i", str(source_video), "-t", "11", "-c:v", "libx264", "-preset", "veryfast",
               "-c:a", "aac", str(out))
    return out


def test_a_property_materialises_on_the_postgres_instance(tmp_path: Path, tiny_clip: Path) -> None:
    write_upload(tmp_path / "store", "pg-house", {"walk.mp4": tiny_clip},
                 options={"target_duration_s": 10, **SHOWCASE_ONLY})
    store = LocalStore(root=str(tmp_path / "store"))
    with production_home(tmp_path / "home") as env, open_instance(tmp_path / "home") as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        instance.add_dynamic_partitions("property", ["pg-house"])
        result = materialize(
            list(defs.assets), partition_key="pg-house", instance=instance,
            resources={"store": store, "models": ModelRegistry(device="cpu"),
                       "io_manager": StoreJsonIOManager(store=store), "limits": UploadLimits()},
        )
        assert result.success

        with open_instance(tmp_path / "home") as reopened:
            run = reopened.get_run_by_id(result.run_id)
            assert run is not None and run.status == DagsterRunStatus.SUCCESS
            assert run.tags["dagster/partition"] == "pg-house"
            for name in ASSETS:
                event = reopened.get_latest_materialization_event(AssetKey(name))
                assert event is not None and event.run_id == result.run_id, name
                assert event.asset_materialization.partition == "pg-house"
            url = reopened.get_latest_materialization_event(AssetKey("showcase_video")).asset_materialization.metadata[
                "url"].value
            assert Path(url.removeprefix("file://")).stat().st_size > 10_000
            assert reopened.get_dynamic_partitions("property") == ["pg-house"]
            # The GPU steps claimed slots of the "gpu" pool, whose limit came from default_limit: 1.
            assert reopened.event_log_storage.get_concurrency_info("gpu").slot_count == 1

        with connect(env, env["DAGSTER_PG_DB"]) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
            assert cursor.fetchone() == ("SUCCESS",)
            cursor.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = "
                           "'ASSET_MATERIALIZATION'", (result.run_id,))
            assert cursor.fetchone() == (len(ASSETS),)
