"""One configuration path: the README's settings table is the code's, and a variable that is set
reaches its resource field as an EnvVar."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from real_estate_dag.definitions import CHOICES, SETTINGS

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `(?P<variable>[A-Z0-9_]+)` \| (?P<field>[^|]+) \| (?P<default>[^|]+) \| [^|]+ \|$")


def readme_table() -> dict[str, tuple[str, str]]:
    """variable -> (resource.field, default) from the table under '## Configuration'."""
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if match := ROW.match(line):
            assert match["variable"] not in rows, f"{match['variable']} is listed twice"
            rows[match["variable"]] = (match["field"].strip(), match["default"].strip())
    return rows


def cell(default: object) -> str:
    """How the README writes a default: required, – for empty, else the value in backticks."""
    if default is None:
        return "required"
    return f"`{default}`" if default != "" else "–"


def test_the_readme_table_lists_every_setting_with_its_field_and_default() -> None:
    expected = {variable: (f"`{settings.resource.__name__}.{field}`", cell(settings.default(field)))
                for settings in SETTINGS for field, variable in settings.variables.items()}
    table = readme_table()
    assert {v: row[0] for v, row in table.items() if v not in CHOICES} == {v: e[0] for v, e in expected.items()}
    assert {v: row[1] for v, row in table.items()} == {**{v: e[1] for v, e in expected.items()},
                                                       **{v: cell(d) for v, d in CHOICES.items()}}


PROBE = """
import json
from real_estate_dag.definitions import defs
resources = defs.resources
fields = {"models.iqa_metric": resources["models"].iqa_metric, "models.batch_size": resources["models"].batch_size,
          "retention.work_days": resources["retention"].work_days, "limits.max_fps": resources["limits"].max_fps,
          "models.clip_model": resources["models"].clip_model}
resolved = {key: getattr(resources[key.split(".")[0]].process_config_and_initialize(), key.split(".")[1])
            for key in fields}
print(json.dumps({key: [type(value).__name__, getattr(value, "env_var_name", None), resolved[key]]
                  for key, value in fields.items()}))
"""


def test_a_variable_that_is_set_reaches_its_field_as_an_env_var() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDAG_")}
    env.update(PYTHONPATH=str(ROOT), REDAG_IQA_METRIC="musiq", REDAG_BATCH_SIZE="8", REDAG_RETENTION_DAYS="3",
               REDAG_MAX_FPS="120")
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    fields = json.loads(out.stdout.strip().splitlines()[-1])
    assert fields == {
        "models.iqa_metric": ["EnvVar", "REDAG_IQA_METRIC", "musiq"],
        "models.batch_size": ["IntEnvVar", "REDAG_BATCH_SIZE", 8],
        "retention.work_days": ["IntEnvVar", "REDAG_RETENTION_DAYS", 3],
        "limits.max_fps": ["IntEnvVar", "REDAG_MAX_FPS", 120],
        "models.clip_model": ["str", None, "ViT-B-32"],  # unset: the field's default
    }
