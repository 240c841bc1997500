"""The code location loads the way `dagster dev` loads it, with model provenance in code versions."""

import subprocess
import sys
from pathlib import Path

from dagster._core.system_config.objects import ResolvedRunConfig

from real_estate_dag.definitions import defs
from real_estate_dag.gpu_resources.backends import digest_of, mobilenet_weights, transnet_weights

ROOT = Path(__file__).resolve().parents[1]


def test_workspace_loads_with_the_dagster_cli(tmp_path: Path) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr


def test_asset_graph_partitions_pools_and_code_versions() -> None:
    graph = defs.resolve_asset_graph()
    nodes = {node.key.path[-1]: node for node in graph.asset_nodes}
    assert set(nodes) == {"property_manifest", "video_frames", "shot_boundaries", "detected_objects", "room_labels",
                          "quality_scores", "photo_analysis", "music_beats", "narration", "moderation", "agent_intro",
                          "selected_clips", "showcase_video"}
    assert all(node.partitions_def.name == "property" for node in nodes.values())
    shots_version = nodes["shot_boundaries"].code_version
    assert "+transnetv2" in shots_version and shots_version.endswith(f"@{digest_of(transnet_weights())[:12]}")
    assert digest_of(mobilenet_weights())[:12] in nodes["room_labels"].code_version
    assert "piqe" in nodes["quality_scores"].code_version
    assert nodes["detected_objects"].code_version.startswith("objects-v1+yolov4-tiny-coco:opencv-dnn@")
    analysis = {"video_frames", "shot_boundaries", "detected_objects", "room_labels", "quality_scores"}
    # one step decodes and runs the models at once, so it holds the GPU slot throughout
    assert {k for k, n in nodes.items() if "gpu" in n.pools} == analysis | {"photo_analysis"}
    [analysis_def] = {graph.assets_def_for_key(nodes[k].key) for k in analysis}
    assert analysis_def.node_def.name == "video_analysis" and analysis_def.can_subset
    assert defs.get_job_def("showcase_job").partitions_def.name == "property"


def execution(run_config: dict) -> dict:
    """The executor config a showcase_job run gets from ``run_config``."""
    return ResolvedRunConfig.build(defs.resolve_job_def("showcase_job"), run_config).execution.execution_engine_config


def test_step_processes_fork_from_a_preloaded_server_unless_the_run_config_says_otherwise() -> None:
    preloaded = {"forkserver": {"preload_modules": ["real_estate_dag.definitions"]}}
    assert execution({})["multiprocess"]["start_method"] == preloaded
    limited = execution({"execution": {"config": {"multiprocess": {"max_concurrent": 1}}}})["multiprocess"]
    assert limited["max_concurrent"] == 1 and limited["start_method"] == preloaded
    spawned = {"execution": {"config": {"multiprocess": {"start_method": {"spawn": {}}}}}}
    assert execution(spawned)["multiprocess"]["start_method"] == {"spawn": {}}
    assert "in_process" in execution({"execution": {"config": {"in_process": {}}}})
