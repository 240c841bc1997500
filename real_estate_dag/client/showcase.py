"""The showcase pipeline seen through Dagster's GraphQL API: partitions, runs, progress, results."""

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from real_estate_dag.client import queries
from real_estate_dag.client.endpoint import ClientError, Endpoint, NotFoundError
from real_estate_dag.ops.failures import step_failure_text
from real_estate_dag.ops.keys import property_key

JOB = "showcase_job"
PARTITIONS = "property"
PARTITION_TAG = "dagster/partition"
# The upload folder a run is for; the run checks that it maps to the run's partition key.
UPLOAD_FOLDER_TAG = "redag/upload_folder"
FIRST_ASSET = "property_manifest"
TERMINAL = ("SUCCESS", "FAILURE", "CANCELED")
FINISHED_STEP = ("SUCCESS", "FAILURE", "SKIPPED")


@dataclass(frozen=True)
class RunProgress:
    run_id: str
    status: str
    job: str
    partition: str | None
    steps: tuple[str, ...]  # planned steps, in plan order
    finished: tuple[str, ...]
    running: tuple[str, ...]
    failed: tuple[str, ...]
    start_time: float | None
    end_time: float | None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_graphql(cls, run: Mapping[str, Any]) -> "RunProgress":
        tags = {t["key"]: t["value"] for t in run["tags"]}
        plan = [s["key"] for s in (run["executionPlan"] or {}).get("steps", [])]
        selected = run["stepKeysToExecute"]
        steps = [k for k in plan if k in selected] if selected else plan
        stats = {s["stepKey"]: s["status"] for s in run["stepStats"]}
        return cls(
            run_id=run["runId"], status=run["status"], job=run["jobName"], partition=tags.get(PARTITION_TAG),
            steps=tuple(steps),
            finished=tuple(k for k, s in stats.items() if s in FINISHED_STEP),
            running=tuple(k for k, s in stats.items() if s == "IN_PROGRESS"),
            failed=tuple(k for k, s in stats.items() if s == "FAILURE"),
            start_time=run["startTime"], end_time=run["endTime"],
        )


@dataclass(frozen=True)
class Materialization:
    asset: str
    run_id: str
    timestamp_s: float
    # label -> str | int | float | bool | JSON value | table rows (list of dicts in the table's column order;
    # also read from the markdown tables of materializations made before tables were MetadataValue.table)
    metadata: dict[str, Any]


def location_problems(entries: list[dict]) -> list[str]:
    """One line per code location of a ``LOCATIONS`` answer that failed to load or has not loaded."""
    problems = []
    for entry in entries:
        loaded = entry["locationOrLoadError"] or {}
        if loaded.get("__typename") == "PythonError":
            # Dagster wraps the error the import raised; the innermost one says what is wrong.
            innermost = ([loaded] + [link["error"] for link in loaded["errorChain"]])[-1]
            problems.append(f"code location {entry['name']!r} failed to load: {innermost['message'].strip()}")
        elif entry["loadStatus"] != "LOADED":
            problems.append(f"code location {entry['name']!r} is {entry['loadStatus'].lower()}")
    return problems


class ShowcaseClient:
    """Launch and follow showcase runs on one Dagster webserver."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._repository: dict[str, str] | None = None

    def run_url(self, run_id: str) -> str:
        return f"{self.endpoint.base_url}/runs/{run_id}"

    def repository(self) -> dict[str, str]:
        """The RepositorySelector of the code location that holds the showcase job."""
        if self._repository is None:
            result = self.endpoint.graphql(queries.REPOSITORIES)["repositoriesOrError"]
            if result["__typename"] != "RepositoryConnection":
                raise ClientError(f"{self.endpoint.base_url}: cannot list code locations: {result.get('message')}")
            found = [r for r in result["nodes"] if any(j["name"] == JOB for j in r["jobs"])]
            if not found:
                raise ClientError(f"no code location on {self.endpoint.base_url} has a job named {JOB}"
                                  f"{self._location_problems()}")
            self._repository = {"repositoryLocationName": found[0]["location"]["name"],
                                "repositoryName": found[0]["name"]}
        return self._repository

    def _location_problems(self) -> str:
        """Why the job may be missing: the code locations that failed to load or are still loading."""
        result = self.endpoint.graphql(queries.LOCATIONS)["workspaceOrError"]
        if result["__typename"] != "Workspace":
            return f" (cannot list code locations: {result.get('message')})"
        problems = location_problems(result["locationEntries"])
        return f"; {'; '.join(problems)}" if problems else " (is the real_estate_dag location loaded?)"

    def property_keys(self) -> list[str]:
        result = self.endpoint.graphql(queries.PARTITION_KEYS, {"asset": {"path": [FIRST_ASSET]}})["assetNodeOrError"]
        if result["__typename"] != "AssetNode":
            raise ClientError(f"no asset {FIRST_ASSET} on {self.endpoint.base_url}")
        return result["partitionKeys"]

    def require_property(self, property_id: str) -> str:
        """The partition key of ``property_id``; ClientError when that partition does not exist."""
        key = property_key(property_id)
        if key not in self.property_keys():
            shown = f"{property_id!r}" if key == property_id else f"{property_id!r} (partition key {key!r})"
            raise NotFoundError(f"unknown property {shown} on {self.endpoint.base_url}")
        return key

    def add_property(self, key: str) -> bool:
        """Add the partition; False when it already existed."""
        result = self.endpoint.graphql(queries.ADD_PARTITION, {
            "selector": self.repository(), "name": PARTITIONS, "key": key})["addDynamicPartition"]
        kind = result["__typename"]
        if kind == "DuplicateDynamicPartitionError":
            return False
        if kind != "AddDynamicPartitionSuccess":
            raise ClientError(f"adding partition {key!r} failed: {kind}: {result.get('message')}")
        return True

    def launch(self, key: str, assets: Sequence[str] | None = None, tags: Mapping[str, str] | None = None) -> str:
        """Launch the showcase job for partition ``key`` (optionally only ``assets``); returns the run id."""
        selector: dict[str, Any] = {**self.repository(), "pipelineName": JOB}
        if assets:
            selector["assetSelection"] = [{"path": a.split("/")} for a in assets]
        run_tags = {PARTITION_TAG: key, **(tags or {})}
        result = self.endpoint.graphql(queries.LAUNCH_RUN, {"executionParams": {
            "selector": selector, "runConfigData": {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in run_tags.items()]},
        }})["launchRun"]
        kind = result["__typename"]
        if kind == "LaunchRunSuccess":
            return result["run"]["runId"]
        if kind == "RunConfigValidationInvalid":
            reason = "; ".join(e["message"] for e in result["errors"])
        else:
            reason = result.get("message") or result.get("invalidStepKey") or result.get("invalidOutputName")
        raise ClientError(f"launching the run failed: {kind}: {' '.join(str(reason).split())}")

    def run(self, run_id: str) -> RunProgress:
        result = self.endpoint.graphql(queries.RUN, {"runId": run_id})["runOrError"]
        if result["__typename"] == "RunNotFoundError":
            raise NotFoundError(f"no run {run_id!r} on {self.endpoint.base_url}")
        if result["__typename"] != "Run":
            raise ClientError(f"reading run {run_id}: {result.get('message')}")
        return RunProgress.from_graphql(result)

    def runs_for(self, key: str, limit: int = 1) -> list[RunProgress]:
        """The newest runs of the showcase job for partition ``key``, newest first."""
        result = self.endpoint.graphql(queries.RUNS_FOR_PARTITION, {"job": JOB, "key": key, "limit": limit})
        runs = result["runsOrError"]
        if runs["__typename"] != "Runs":
            raise ClientError(f"listing runs of {key!r}: {runs.get('message')}")
        return [RunProgress.from_graphql(r) for r in runs["results"]]

    def failure_reason(self, run_id: str) -> str:
        """Why a run failed, in one line: the failed step and its error, else the run's failure message."""
        step_errors: list[str] = []
        run_errors: list[str] = []
        cursor = None
        while True:
            logs = self.endpoint.graphql(queries.RUN_LOGS, {"runId": run_id, "cursor": cursor})["logsForRun"]
            if logs["__typename"] != "EventConnection":
                raise ClientError(f"reading the logs of run {run_id}: {logs.get('message')}")
            for event in logs["events"]:
                kind = event["__typename"]
                if kind == "ExecutionStepFailureEvent":
                    description = (event["failureMetadata"] or {}).get("description")
                    step_errors.append(f"step {event['stepKey']}: "
                                       f"{step_failure_text(description, _chain(event['error'], event['message']))}")
                elif kind in ("RunFailureEvent", "EngineEvent") and event.get("error"):
                    run_errors.append(step_failure_text(None, _chain(event["error"], event["message"])))
                elif kind == "RunFailureEvent":
                    run_errors.append(event["message"])
            cursor = logs["cursor"]
            if not logs["hasMore"]:
                break
        reasons = step_errors or run_errors[-1:]
        return "; ".join(reasons) if reasons else f"no failure event recorded; see {self.run_url(run_id)}"

    def terminate(self, run_id: str, wait_s: float = 60.0) -> None:
        """Cancel a queued or started run; a run still starting is waited for (up to ``wait_s``)."""
        run = self.run(run_id)
        deadline = time.monotonic() + wait_s
        while run.status in ("NOT_STARTED", "STARTING") and time.monotonic() < deadline:
            time.sleep(0.5)  # Dagster cancels only queued or started runs
            run = self.run(run_id)
        if run.done:
            raise ClientError(f"run {run_id} already ended with status {run.status}; nothing to cancel")
        result = self.endpoint.graphql(queries.TERMINATE_RUN, {"runId": run_id})["terminateRun"]
        if result["__typename"] != "TerminateRunSuccess":
            raise ClientError(f"canceling run {run_id} failed: {result['__typename']}: {result.get('message')}")

    def downstream(self, asset: str) -> list[str]:
        """``asset`` and every asset of the showcase job downstream of it, in the job's order."""
        selector = {**self.repository(), "pipelineName": JOB}
        nodes = self.endpoint.graphql(queries.JOB_ASSETS, {"selector": selector})["assetNodes"]
        children = {"/".join(n["assetKey"]["path"]): ["/".join(k["path"]) for k in n["dependedByKeys"]]
                    for n in nodes}
        if asset not in children:
            raise NotFoundError(f"unknown asset {asset!r}; the {JOB} assets are {', '.join(children)}")
        selected, todo = {asset}, [asset]
        while todo:
            for child in children[todo.pop()]:
                if child in children and child not in selected:
                    selected.add(child)
                    todo.append(child)
        return [a for a in children if a in selected]

    def latest_materializations(self, key: str, assets: Sequence[str]) -> dict[str, Materialization | None]:
        """The newest materialization of each asset for partition ``key`` (None where there is none)."""
        nodes = self.endpoint.graphql(queries.LATEST_MATERIALIZATIONS, {
            "assets": [{"path": a.split("/")} for a in assets], "key": key})["assetNodes"]
        found: dict[str, Materialization | None] = dict.fromkeys(assets)
        for node in nodes:
            asset = "/".join(node["assetKey"]["path"])
            for event in node["assetMaterializations"]:
                found[asset] = Materialization(
                    asset=asset, run_id=event["runId"], timestamp_s=int(event["timestamp"]) / 1000,
                    metadata={e["label"]: metadata_value(e) for e in event["metadataEntries"]},
                )
        return found


def _chain(error: Mapping[str, Any] | None, fallback: str) -> list[tuple[str | None, str]]:
    """``(class name, message)`` of a GraphQL PythonError and its causes, outermost first."""
    if not error:
        return [(None, fallback)]
    links = [error, *(link["error"] for link in error.get("errorChain") or [])]
    return [(e.get("className"), e["message"]) for e in links]


def metadata_value(entry: Mapping[str, Any]) -> Any:
    kind = entry["__typename"]
    if kind == "TableMetadataEntry":
        columns = [c["name"] for c in (entry["table"]["schema"] or {}).get("columns", [])]
        records = [json.loads(r) for r in entry["table"]["records"]]
        return [{**{c: r.get(c) for c in columns if c in r}, **r} for r in records]
    if kind == "MarkdownMetadataEntry":
        rows = markdown_table_rows(entry["mdStr"])
        return rows if rows is not None else entry["mdStr"]
    if kind == "JsonMetadataEntry":
        return json.loads(entry["jsonString"])
    if kind == "IntMetadataEntry":
        return entry["intValue"] if entry["intValue"] is not None else int(entry["intRepr"])
    for field in ("text", "url", "path", "floatValue", "boolValue"):
        if field in entry:
            return entry[field]
    return None


def markdown_table_rows(text: str) -> list[dict[str, str]] | None:
    """Rows of the first markdown table in ``text`` (None when it holds no table)."""
    lines = [line.strip() for line in text.splitlines()]
    start = next((i for i in range(len(lines) - 1)
                  if lines[i].startswith("|") and set(lines[i + 1]) <= set("|-: ") and "-" in lines[i + 1]), None)
    if start is None:
        return None
    header = _cells(lines[start])
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, _cells(line), strict=False)))
    return rows


def _cells(line: str) -> list[str]:
    body = line.strip().removeprefix("|").removesuffix("|")
    cells, current, escaped = [], "", False
    for char in body:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            cells.append(current.strip())
            current = ""
        else:
            current += char
    cells.append(current.strip())
    return cells
