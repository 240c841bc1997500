"""Security basics: argument lists for every subprocess, unsafe keys never reach storage paths."""

import ast
from pathlib import Path

import pytest
from dagster import build_input_context, build_output_context

from real_estate_dag.ops.keys import UnsafePartitionKeyError
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.store import LocalStore, UnsafeKeyError

PACKAGE = Path(__file__).resolve().parent.parent / "real_estate_dag"
SPAWNERS = {"run", "Popen", "call", "check_call", "check_output", "system", "popen", "spawnl", "execl"}


def test_no_shell_strings_anywhere_in_the_package() -> None:
    calls = []
    for file in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in ("subprocess", "os")
                    and node.func.attr in SPAWNERS):
                continue
            calls.append(f"{file.name}:{node.lineno}")
            assert node.func.value.id == "subprocess", f"{file.name}:{node.lineno} uses os.{node.func.attr}"
            assert not any(k.arg == "shell" for k in node.keywords), f"{file.name}:{node.lineno} passes shell="
            assert isinstance(node.args[0], ast.Name | ast.List), f"{file.name}:{node.lineno}: not an argument list"
    assert calls  # run_ffmpeg is found


@pytest.mark.parametrize("key", ["../uploads/x", "a/b", "..", "UPPER", "a,b", "x" * 65, " "])
def test_unsafe_partition_keys_never_become_paths(tmp_path: Path, key: str) -> None:
    store = LocalStore(root=str(tmp_path))
    with pytest.raises(UnsafePartitionKeyError):
        store.work_dir(key, "frames")
    manager = StoreJsonIOManager(store=store)
    with pytest.raises(UnsafePartitionKeyError):
        manager.handle_output(build_output_context(asset_key="property_manifest", partition_key=key), {})
    with pytest.raises(UnsafePartitionKeyError):
        manager.load_input(build_input_context(asset_key="property_manifest", partition_key=key))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", ["/etc/passwd", "../outside", "uploads/../../outside", "a\\b", "a\x00b"])
def test_store_keys_cannot_leave_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(UnsafeKeyError):
        LocalStore(root=str(tmp_path / "store")).path(key)
