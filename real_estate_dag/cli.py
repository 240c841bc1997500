"""real-estate-dag: submit properties and follow their runs through Dagster's GraphQL API.

Every command is one entry of COMMANDS; expected failures print one line on stderr and exit 1.
"""

import argparse
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from real_estate_dag.client.endpoint import HEADERS_ENV, URL_ENV, ClientError, Endpoint, NotFoundError
from real_estate_dag.client.showcase import (
    FIRST_ASSET,
    UPLOAD_FOLDER_TAG,
    Materialization,
    RunProgress,
    ShowcaseClient,
)
from real_estate_dag.client.upload import configured_store, upload_property
from real_estate_dag.ops.keys import property_key
from real_estate_dag.resources.store import UPLOADS

PROG = "real-estate-dag"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BAR_WIDTH = 24
CELL_WIDTH = 40
RESULT_ASSETS = ("showcase_video", "selected_clips")


def client_for(args: argparse.Namespace) -> ShowcaseClient:
    return ShowcaseClient(Endpoint.from_settings(args.url, args.host, args.port, args.tls, args.header))


def progress_line(run: RunProgress) -> str:
    total = len(run.steps)
    done = len(run.finished)
    filled = round(BAR_WIDTH * done / total) if total else 0
    line = (f"run {run.run_id[:8]} {run.partition or '-'} {run.status:<9} "
            f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} steps")
    if run.running:
        line += f"  now: {', '.join(run.running)}"
    elif run.done and run.start_time and run.end_time:
        line += f"  in {run.end_time - run.start_time:.1f} s"
    return line


def text_table(rows: list[dict[str, Any]], indent: str = "  ") -> list[str]:
    if not rows:
        return [f"{indent}(none)"]
    columns = list(dict.fromkeys(c for row in rows for c in row))
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    return [indent + "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()
            for values in [columns, *cells]]


def _cell(value: Any) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    if "data:image" in text or text.startswith("!["):
        return "(image)"
    if len(text) <= CELL_WIDTH or "://" in text:
        return text
    return text[:CELL_WIDTH - 1] + "…"


def describe(materialization: Materialization) -> list[str]:
    """Scalar metadata as ``label  value`` lines, then each table; markdown prose and images are left to the UI."""
    scalars = {k: v for k, v in materialization.metadata.items()
               if isinstance(v, str | int | float | bool) and not (isinstance(v, str) and ("\n" in v or "data:" in v))}
    width = max((len(k) for k in scalars), default=0)
    lines = [f"  {k.ljust(width)}  {_cell(v) if not isinstance(v, str) else v}" for k, v in scalars.items()]
    for label, value in materialization.metadata.items():
        if isinstance(value, list) and all(isinstance(r, dict) for r in value):
            lines += [f"  {label}:", *text_table(value, "    ")]
    return lines


def resolve_run(client: ShowcaseClient, target: str) -> RunProgress:
    """A run id, or a property id meaning that property's latest run."""
    if UUID.match(target):
        try:
            return client.run(target)
        except NotFoundError:
            if property_key(target) not in client.property_keys():
                raise NotFoundError(f"no run or property {target!r} on {client.endpoint.base_url}") from None
    key = client.require_property(target)
    runs = client.runs_for(key)
    if not runs:
        raise ClientError(f"property {target!r} has no runs yet")
    return runs[0]


def cmd_submit(args: argparse.Namespace) -> int:
    client = None if args.no_launch else client_for(args)
    if client:
        client.repository()  # fail before copying anything when the webserver is unreachable
    upload = upload_property(configured_store(), args.property_id, args.path, music=args.music, listing=args.listing,
                             target_duration_s=args.target_duration, launch="sensor" if args.no_launch else "client")
    print(f"property {upload.property_id}: uploaded {len(upload.files)} files to {upload.folder} "
          f"(partition {upload.key})")
    if client is None:
        print("the upload sensor will add the partition and launch the run")
        return 0
    try:
        client.add_property(upload.key)
        run_id = client.launch(upload.key, tags={UPLOAD_FOLDER_TAG: upload.folder_name,
                                                 "redag/manifest_sha256": upload.manifest_sha256,
                                                 "redag/launched_by": f"{PROG} submit"})
    except ClientError as exc:
        raise ClientError(f"{exc} (the files are uploaded; run submit again to launch)") from exc
    print(f"launched run {run_id}")
    print(client.run_url(run_id))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    client = client_for(args)
    run = resolve_run(client, args.target)
    if not args.watch:
        print(progress_line(run))
        if run.status == "FAILURE":
            print(f"failed: {client.failure_reason(run.run_id)}")
        print(client.run_url(run.run_id))
        return 0
    live = sys.stdout.isatty()
    last = ""
    while True:
        line = progress_line(run)
        if line != last:
            print(f"\r\033[K{line}" if live else line, end="" if live and not run.done else "\n", flush=True)
            last = line
        if run.done:
            break
        time.sleep(args.interval)
        run = client.run(run.run_id)
    if run.status == "SUCCESS":
        return 0
    if run.status == "CANCELED":
        raise ClientError(f"run {run.run_id} was canceled")
    raise ClientError(f"run {run.run_id} failed: {client.failure_reason(run.run_id)}")


def cmd_result(args: argparse.Namespace) -> int:
    client = client_for(args)
    key = client.require_property(args.property_id)
    found = client.latest_materializations(key, RESULT_ASSETS)
    if found["showcase_video"] is None:
        runs = client.runs_for(key)
        latest = f"latest run {runs[0].run_id} {runs[0].status}" if runs else "no runs yet"
        raise ClientError(f"property {args.property_id!r} has no showcase yet ({latest})")
    for asset in RESULT_ASSETS:
        materialization = found[asset]
        if materialization is None:
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(materialization.timestamp_s))
        print(f"{asset} (partition {key}) materialised {when} by run {materialization.run_id}")
        print("\n".join(describe(materialization)))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    client = client_for(args)
    client.terminate(args.run_id)
    print(f"cancel requested for run {args.run_id}; now {client.run(args.run_id).status}")
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    client = client_for(args)
    key = client.require_property(args.property_id)
    assets = client.downstream(args.from_asset)
    tags = {"redag/launched_by": f"{PROG} rerun"}
    manifest = client.latest_materializations(key, [FIRST_ASSET])[FIRST_ASSET]
    folder = manifest.metadata.get("upload_folder") if manifest else None
    if isinstance(folder, str) and folder.startswith(f"{UPLOADS}/"):
        tags[UPLOAD_FOLDER_TAG] = folder.removeprefix(f"{UPLOADS}/")  # the folder the property was last run from
    run_id = client.launch(key, assets=assets, tags=tags)
    print(f"launched run {run_id} for {', '.join(assets)}")
    print(client.run_url(run_id))
    return 0


def add_submit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="folder whose videos (.mp4 .mov .m4v .webm .mkv) make the property")
    parser.add_argument("--property-id", required=True, help="property id; the upload goes to uploads/<id>/")
    parser.add_argument("--music", type=Path, help="music track for the showcase (else the source audio)")
    parser.add_argument("--listing", type=Path, help="JSON file with listing facts (address, price, bedrooms...)")
    parser.add_argument("--target-duration", type=float, metavar="S", help="showcase length in seconds")
    parser.add_argument("--no-launch", action="store_true", help="only upload; the upload sensor launches the run")


def add_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="RUN_ID|PROPERTY_ID", help="a run id, or a property (its latest run)")
    parser.add_argument("--watch", action="store_true", help="follow the run to its end; exit 1 unless it succeeds")
    parser.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between polls (2)")


def add_result(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("property_id")


def add_cancel(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id")


def add_rerun(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("property_id")
    parser.add_argument("--from", dest="from_asset", default=FIRST_ASSET, metavar="ASSET",
                        help=f"re-materialise this asset and everything downstream ({FIRST_ASSET}: all)")


def add_models(parser: argparse.ArgumentParser) -> None:
    parser.usage = f"{PROG} models [--target DIR] [--verify] [--download]"
    parser.add_help = False


def cmd_models(args: argparse.Namespace) -> int:
    from real_estate_dag.gpu_resources import prefetch

    return prefetch.main(args.extra)


def add_rooms(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    layout = "DIR/<room>/*.jpg, rooms named as the pipeline's room types (hallway counts as other)"
    evaluate = actions.add_parser("eval", help="per-class recall, confusion matrix and balanced accuracy of the "
                                  "room model (REDAG_* settings) on labelled photos", description=layout)
    evaluate.add_argument("folder", type=Path, metavar="DIR")
    evaluate.add_argument("--object-weight", type=float, metavar="W",
                          help="weight of the detected objects' evidence (default: the pipeline's object_weight; "
                          "0: the room model alone)")
    evaluate.add_argument("--detector-confidence", type=float, metavar="C",
                          help="lowest confidence of a detection used (default: the pipeline's detector_confidence)")
    fit = actions.add_parser("fit", help="fit a room head on the room model's embeddings of labelled photos",
                             description=f"{layout}; use the head with REDAG_ROOM_HEAD=FILE")
    fit.add_argument("folder", type=Path, metavar="DIR")
    fit.add_argument("--out", type=Path, required=True, metavar="FILE", help="head file to write (.safetensors)")
    fit.add_argument("--l2", type=float, help="L2 penalty (default: chosen by 5-fold cross-validation)")


def photo_progress(done: int, total: int) -> None:
    live = sys.stderr.isatty()
    print(("\r\033[K" if live else "") + f"classified {done}/{total} photos", file=sys.stderr, flush=True,
          end="" if live and done < total else "\n")


def cmd_rooms(args: argparse.Namespace) -> int:
    from real_estate_dag.gpu_resources.backends import MissingWeightsPackageError
    from real_estate_dag.gpu_resources.registry import MODEL_SETTINGS
    from real_estate_dag.gpu_resources.room_head import RoomHeadError, fit_head
    from real_estate_dag.gpu_resources.weights_folder import WeightsMismatchError, sha256_file
    from real_estate_dag.ops import room_eval
    from real_estate_dag.ops.analysis import DetectSettings
    from real_estate_dag.ops.evidence import EvidenceSettings

    try:
        photos = room_eval.labelled_photos(args.folder)
        registry = MODEL_SETTINGS.from_env().process_config_and_initialize()
        model = registry.room_model()
        print(f"room model {model.backend.version_tag} on {model.device}"
              + (f" (fell back from {model.fallback_from})" if model.fallback_from else ""))
        if args.action == "eval":
            weight = EvidenceSettings().object_weight if args.object_weight is None else args.object_weight
            confidence = DetectSettings().confidence if args.detector_confidence is None else args.detector_confidence
            objects = None
            if weight > 0:
                detector = registry.detector_model()
                objects = room_eval.ObjectEvidence(detector, confidence, EvidenceSettings(object_weight=weight))
                print(f"object evidence from {detector.backend.version_tag} at {detector.size} px, weight "
                      f"{weight:g}, confidence {confidence:g}")
            print("\n".join(room_eval.evaluate(model, photos, registry.batch_size, photo_progress, objects).report()))
            return 0
        embeddings, labels, classes = room_eval.embeddings_and_labels(model, photos, registry.batch_size,
                                                                      photo_progress)
        head = fit_head(embeddings, labels, classes, model.backend.backbone_tag, args.l2)
        head.fit.update(source=args.folder.resolve().name,
                        fitted_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        head.save(args.out)
    except (room_eval.LabelledFolderError, RoomHeadError, WeightsMismatchError, MissingWeightsPackageError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    for key, value in head.fit.items():
        print(f"{key}: {value}")
    print(f"wrote {args.out} (sha256 {sha256_file(args.out)}, {len(classes)} classes on {head.backbone}); "
          f"use it with REDAG_ROOM_HEAD={args.out}")
    return 0


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    webserver: bool = True  # takes the connection flags


COMMANDS = [
    Command("submit", "upload a folder of videos as a property and launch its run", add_submit, cmd_submit),
    Command("status", "progress of a run (or a property's latest run)", add_status, cmd_status),
    Command("result", "result files and the edit decision list of a property", add_result, cmd_result),
    Command("cancel", "cancel a queued or running run", add_cancel, cmd_cancel),
    Command("rerun", "re-materialise a property from one asset downstream", add_rerun, cmd_rerun),
    Command("models", "pre-fetch model weights into a folder, or verify their digests", add_models, cmd_models,
            webserver=False),
    Command("rooms", "measure the room model on labelled photos (eval) or fit a head from them (fit)", add_rooms,
            cmd_rooms, webserver=False),
]


def connection_flags() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("webserver", f"default from {URL_ENV} (else http://127.0.0.1:3000); "
                                      f"extra headers also from {HEADERS_ENV} ('Name: value' lines)")
    group.add_argument("--url", help="webserver URL, e.g. https://dagster.example.com/prefix")
    group.add_argument("--host", help="host name (overrides the URL's)")
    group.add_argument("--port", type=int, help="port (overrides the URL's)")
    group.add_argument("--tls", action=argparse.BooleanOptionalAction, default=None, help="use https")
    group.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                       help="extra HTTP header, e.g. for an auth proxy (repeatable)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Submit properties to the real-estate-dag pipeline "
                                     "and follow their runs through Dagster's GraphQL API.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    connection = connection_flags()
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help,
                                  parents=[connection] if command.webserver else [])
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, args.extra = parser.parse_known_args(argv)
    if args.extra and args.command != "models":  # the models command parses its own flags
        parser.error(f"unrecognized arguments: {' '.join(args.extra)}")
    try:
        return args.run(args)
    except ClientError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{PROG}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
