"""Every figure in the README's "Measured" table is backed by the results file its row names.

Each row must name at least one `docs/results/*.json`; every number in the row (after normalising
"1,091" -> 1091, "95.4 %" -> 0.954 or 95.4, "1k" -> 1000, "12/12" -> the share 1.0 out of 12) must
appear in one of those files, allowing for rounding to the precision shown. The `run` stamp (date,
machine, load) does not count, so a figure cannot be backed by a load average. Numbers that are
part of a name ("SQuAD 2.0", "p50", "int8", "hit@5") and code spans are not figures.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results"

NAMED_FILE = re.compile(r"docs/results/([\w.-]+\.json)")
NAMES = re.compile(r"`[^`]*`|\[[^\]]*\]\([^)]*\)|SQuAD 2\.0")  # code, links and names are not figures
FRACTION = re.compile(r"(?<![\w.@/])(\d+)/(\d+)(?![\w/]|\.\d)")
NUMBER = re.compile(r"(?<![\w.@/])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:\s?(%|x|k)(?!\w))?(?!\w|\.\d)")


def measured_rows(readme: str) -> list[str]:
    section = readme.split("\n## Measured\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [row for row in rows[2:] if not set(row) <= set("|-: ")]  # without header and separator


def json_numbers(value: Any) -> Iterator[float]:
    """Every number in a results file, the `run` stamp left out; numbers inside strings count
    (the calibration buckets are labelled "0.7-0.8")."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, str):
        for whole, fraction, _ in NUMBER.findall(value):
            yield float(whole.replace(",", "") + (f".{fraction}" if fraction else ""))
    elif isinstance(value, list):
        for item in value:
            yield from json_numbers(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "run":
                yield from json_numbers(item)


def shown(value: float, digits: int, candidates: list[float]) -> bool:
    """Whether some candidate rounds to `value` at `digits` decimals."""
    tolerance = 0.5 * 10**-digits + 1e-9
    return any(abs(c - value) <= tolerance for c in candidates)


def unbacked(row: str, results: Path) -> list[str]:
    """The figures of one table row that its results files do not hold (or why it cannot be checked)."""
    files = sorted(set(NAMED_FILE.findall(row)))
    if not files:
        return ["the row names no docs/results/*.json file"]
    missing = [f for f in files if not (results / f).is_file()]
    if missing:
        return [f"{f} does not exist" for f in missing]
    numbers = [n for f in files for n in json_numbers(json.loads((results / f).read_text(encoding="utf-8")))]
    text = NAMES.sub(" ", row)
    problems = []
    for numerator, denominator in FRACTION.findall(text):
        share = int(numerator) / int(denominator)
        if not (shown(share, 3, numbers) and shown(float(denominator), 0, numbers)):
            problems.append(f"{numerator}/{denominator}")
    text = FRACTION.sub(" ", text)
    for match in NUMBER.finditer(text):
        whole, fraction, unit = match.groups()
        value = float(whole.replace(",", "") + (f".{fraction}" if fraction else ""))
        digits = len(fraction or "")
        if unit == "%":
            ok = shown(value, digits, numbers) or shown(value, digits, [n * 100 for n in numbers])
        elif unit == "k":
            ok = shown(value, digits, [n / 1000 for n in numbers])
        else:
            ok = shown(value, digits, numbers)
        if not ok:
            problems.append(match.group(0).strip())
    return problems


ROWS = measured_rows(README.read_text(encoding="utf-8"))


def test_the_measured_table_is_found() -> None:
    assert len(ROWS) >= 10


@pytest.mark.parametrize("row", ROWS, ids=[r.split("|")[1].strip()[:40] for r in ROWS])
def test_every_figure_is_in_the_results_file_its_row_names(row: str) -> None:
    assert unbacked(row, RESULTS) == []


def test_a_made_up_figure_is_caught(tmp_path: Path) -> None:
    (tmp_path / "bench.json").write_text(
        json.dumps(
            {
                "run": {"load_average": {"start": [29.0]}},  # the stamp backs nothing
                "build_seconds": 25.3,
                "share": 0.954,
                "peak_mb": 1090.7,
                "declined": 0.0909,
                "answerable": 11,
                "size": 1003,
                "bucket": "0.7-0.8",
            }
        )
    )
    row = "| build, 1k chunks (`docs/results/bench.json`) | {} |"
    for backed in ("25.3 s", "25 s", "95.4 %", "95 %", "0.954", "1,091 MB", "1/11", "0.7-0.8"):
        assert unbacked(row.format(backed), tmp_path) == [], backed
    assert unbacked(row.format("29 s"), tmp_path) == ["29"]
    assert unbacked(row.format("100 %"), tmp_path) == ["100 %"]
    assert unbacked(row.format("2/11"), tmp_path) == ["2/11"]
    assert unbacked(row.format("8.1 ms"), tmp_path) == ["8.1"]
    assert unbacked("| build | 25.3 s |", tmp_path) == ["the row names no docs/results/*.json file"]


def test_the_benchmark_page_and_the_readme_table_are_what_the_results_give() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.report", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
