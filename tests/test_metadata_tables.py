"""Tables in asset metadata: typed tables where cells are plain values, escaped markdown where a cell
holds an image."""

import re

import numpy as np
from dagster import TableMetadataValue
from markdown_it import MarkdownIt
from PIL import Image

from real_estate_dag.assets.common import markdown_table, table


def rendered(markdown: str) -> str:
    """The HTML a CommonMark renderer with tables and raw HTML enabled makes of ``markdown``."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def test_plain_rows_become_a_typed_table() -> None:
    rows = [{"order": 0, "video": "a.mp4", "score": 0.5, "ok": True, "note": None},
            {"order": 1, "video": "b.mp4", "score": np.float64(0.25), "ok": False, "note": "x"}]
    value = table(rows)
    assert isinstance(value, TableMetadataValue)
    assert [(c.name, c.type) for c in value.schema.columns] == [
        ("order", "int"), ("video", "string"), ("score", "float"), ("ok", "bool"), ("note", "string")]
    assert [r.data for r in value.records] == [
        {"order": 0, "video": "a.mp4", "score": 0.5, "ok": True, "note": None},
        {"order": 1, "video": "b.mp4", "score": 0.25, "ok": False, "note": "x"}]


def test_a_long_table_shows_its_first_rows_and_says_so() -> None:
    value = table([{"i": i} for i in range(120)], limit=50)
    assert [r.data["i"] for r in value.records] == list(range(50))
    assert value.schema.constraints.other == ["the first 50 of 120 rows"]
    empty = table([], columns=("order", "video"))
    assert [c.name for c in empty.schema.columns] == ["order", "video"] and empty.records == []


def test_markdown_cells_show_their_text_as_written() -> None:
    names = ["<img src=x onerror=alert(1)>", "**a**|b", "[link](http://evil)", "back\\slash `code` _x_ &amp;"]
    strip = Image.new("RGB", (60, 20), (200, 30, 30))
    value = table([{"video": name, "frames": strip} for name in names])
    html = rendered(value.value)
    cells = re.findall(r"<td>(.*?)</td>", html)
    assert cells[0::2] == ["&lt;img src=x onerror=alert(1)&gt;", "**a**|b", "[link](http://evil)",
                           "back\\slash `code` _x_ &amp;amp;"]
    assert all(cell.startswith('<img src="data:image/jpeg;base64,') and 'alt="frames"' in cell
               for cell in cells[1::2])
    assert "<strong>" not in html and "<a " not in html and "<code>" not in html and "<em>" not in html


def test_a_cell_with_a_line_break_stays_in_its_row() -> None:
    html = rendered(markdown_table([{"video": "two\nlines", "n": 1}]).value)
    assert re.findall(r"<td>(.*?)</td>", html) == ["two lines", "1"]
