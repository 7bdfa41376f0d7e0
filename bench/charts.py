"""Charts of the saved benchmark results: docs/results/*.json in, docs/*.png out.

    python -m bench.charts [--results docs/results] [--docs docs]

Draws (matplotlib, Agg backend, no display needed) whichever of these has its JSON (`make bench`
writes them all):

- query-latency.png (`query_latency.json`): search p50 / p95 and the dense-only and BM25-only parts
  against index size (log x), with the targets; beside it, the time to open the index;
- ingest-throughput.png (`ingest.json`): chunks per second of a full index build and of the raw
  encoder on the same chunks, per embedding backend; beside it, where the build's time goes;
- memory.png (`memory.json`): peak RSS of the served web chat per answerer, when ready and after one
  answer;
- scale.png (`scale.json`): at 10k / 100k / 1M chunks, the times (cold ask, open, no-op rebuild, add,
  remove), search p50 / p95, `qa serve` peak RSS and disk per chunk, with the targets at 1M.

Each chart's footer names the machine and its load while the benchmark ran (the result's `run`
stamp). Prints the files written as one JSON object on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after matplotlib.use: the backend must be chosen first
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.common import RESULTS, ROOT

log = logging.getLogger("bench.charts")

DOCS = ROOT / "docs"
DPI = 110
BLUE, ORANGE, GREEN, GREY, RED, PURPLE = "#1f77b4", "#ff7f0e", "#2ca02c", "#7f7f7f", "#d62728", "#9467bd"


def _load(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        log.warning("no %s: skipping its chart", path)
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _machine(result: dict[str, Any]) -> str:
    run = result.get("run", {})
    load = run.get("load_average", {})
    start, end = load.get("start", ["?"])[0], load.get("end", ["?"])[0]
    return (
        f"{run.get('cpu_model', '?')}, {run.get('cpu_count', '?')} cores, 1-min load average {start} at "
        f"start, {end} at end; {str(run.get('date', '?'))[:10]}, commit {str(run.get('git_commit', '?'))[:9]}"
    )


def _footer(fig: Any, text: str) -> None:
    """A small line under the plots: the machine and its load while the benchmark ran."""
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.text(0.5, 0.012, text, ha="center", va="bottom", fontsize=8, color="#444444")


def _chunks_label(value: float, _: Any = None) -> str:
    return f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"


def query_latency_chart(result: dict[str, Any], out: Path) -> None:
    sizes = result["sizes"]
    chunks = [s["chunks"] for s in sizes]
    names = [f"{_chunks_label(s.get('target_chunks', s['chunks']))}\n({s['chunks']:,})" for s in sizes]
    lat = [s["latency_ms"] for s in sizes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 6), gridspec_kw={"width_ratios": [2.2, 1]})

    series = [
        ("search", "p95", "hybrid search p95", ORANGE, "o", "-"),
        ("search", "p50", "hybrid search p50", BLUE, "o", "-"),
        ("snapshot_check", "p50", "per-call index check p50 (manifest version)", PURPLE, "D", ":"),
        ("dense_only", "p50", "dense only p50 (embed query + Chroma k-NN)", GREEN, "s", "--"),
        ("bm25_only", "p50", "BM25 only p50", GREY, "^", "--"),
    ]
    for part, stat, label, color, marker, style in series:
        if part not in lat[0]:
            continue
        values = [row[part][stat] for row in lat]
        left.plot(chunks, values, marker=marker, linestyle=style, color=color, label=label)
        if part == "search":
            offset, ha, va = ((0, 8), "center", "bottom") if stat == "p95" else ((10, -4), "left", "top")
            for x, y in zip(chunks, values, strict=True):
                left.annotate(f"{y:.0f} ms", (x, y), textcoords="offset points", xytext=offset, ha=ha, va=va,
                              fontsize=9, color=color, fontweight="bold")  # fmt: skip
    targets = [(s["chunks"], s["target_p50_ms"]) for s in sizes if s.get("target_p50_ms")]
    if targets:
        left.scatter(
            [t[0] for t in targets], [t[1] for t in targets], marker="_", s=900, color=RED, linewidths=2.5,
            label="p50 target", zorder=3,
        )  # fmt: skip
        for x, y in targets:
            left.annotate(f"target {y:.0f} ms", (x, y), textcoords="offset points", xytext=(-24, 0),
                          fontsize=8, color=RED, va="center", ha="right")  # fmt: skip
    left.set_xscale("log")
    left.set_yscale("log")
    left.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    left.xaxis.set_minor_formatter(NullFormatter())
    left.set_xticks(chunks, names)
    left.set_xlabel("chunks in the index (log scale)")
    left.set_ylabel("latency per query, ms (log scale)")
    left.margins(x=0.12, y=0.12)
    left.set_title(f"Search latency, {result['call']}, {result['queries']} XQuAD questions")
    left.grid(True, which="major", alpha=0.3)
    left.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2)

    opens = [s["open_seconds"] for s in sizes]
    bars = right.bar(names, opens, color=BLUE)
    right.bar_label(bars, labels=[f"{v:.2f} s" for v in opens], fontsize=9)
    right.set_xlabel("chunks in the index")
    right.set_ylabel("seconds")
    right.set_title("Opening the index\n(read every chunk, build BM25)")
    right.margins(y=0.15)
    right.grid(True, axis="y", alpha=0.3)

    _footer(fig, f"Embedding backend {result.get('embedding_backend', '?')}; {_machine(result)}")
    fig.savefig(out, dpi=DPI)
    plt.close(fig)


def ingest_chart(result: dict[str, Any], out: Path) -> None:
    backends = result["backends"]
    names = [b["backend"] for b in backends]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.2), gridspec_kw={"width_ratios": [1.3, 1]})

    width = 0.38
    xs = list(range(len(backends)))
    ours = [b["build"]["chunks_per_second"] for b in backends]
    raw = [b["raw"]["chunks_per_second"] for b in backends]
    b1 = left.bar([x - width / 2 for x in xs], ours, width, color=BLUE, label="full index build (ours)")
    b2 = left.bar([x + width / 2 for x in xs], raw, width, color=GREY, label="raw encoder, same chunks")
    left.bar_label(b1, labels=[f"{v:.0f}" for v in ours], fontsize=9)
    left.bar_label(b2, labels=[f"{v:.0f}" for v in raw], fontsize=9)
    for x, b in zip(xs, backends, strict=True):
        left.annotate(
            f"build / raw = {b['ratio_build_to_raw']:.0%}", (x, max(b["build"]["chunks_per_second"],
            b["raw"]["chunks_per_second"])), textcoords="offset points", xytext=(0, 22), ha="center",
            fontsize=10, fontweight="bold",
        )  # fmt: skip
    left.set_xticks(xs, [f"{n}\n({b['raw_encoder']})" for n, b in zip(names, backends, strict=True)])
    left.set_ylabel("chunks per second (median of rounds)")
    left.set_title(f"Ingest throughput, {result['corpus']} ({backends[0]['chunks']} chunks)")
    left.margins(y=0.25)
    left.legend(fontsize=9, loc="upper left")
    left.grid(True, axis="y", alpha=0.3)

    target = result.get("target_ratio")
    if target:
        left.hlines(
            [target * r for r in raw], [x - width for x in xs], list(xs), colors=RED, linestyles="--",
            linewidth=2, label=f"target: {target:.0%} of the raw encoder",
        )  # fmt: skip
        left.legend(fontsize=9, loc="upper left")

    parts = [
        ("encode", "encoder", BLUE), ("upsert", "Chroma upsert", ORANGE), ("chunking", "chunking", GREEN),
        ("load_files", "load files", "#9467bd"), ("other", "other (hash, manifest, switch, prune)", GREY),
    ]  # fmt: skip
    lefts = [0.0] * len(backends)
    for key, label, color in parts:
        values = [b["build_parts_seconds"][key] for b in backends]
        bars = right.barh(names, values, left=lefts, color=color, label=label)
        if key == "encode":
            shares = [b["build_parts_share"][key] for b in backends]
            labels = [f"{s:.0%}" for s in shares]
            right.bar_label(bars, labels=labels, label_type="center", fontsize=9, color="white")
        lefts = [a + v for a, v in zip(lefts, values, strict=True)]
    for name, b, end in zip(names, backends, lefts, strict=True):
        rest = sum(v for k, v in b["build_parts_seconds"].items() if k != "encode")
        right.annotate(
            f"rest: {rest:.1f} s\n(upsert {b['build_parts_seconds']['upsert']:.1f} s)", (end, name),
            textcoords="offset points", xytext=(5, 0), va="center", fontsize=9,
        )  # fmt: skip
    right.set_xlim(0, max(lefts) * 1.3)
    right.set_xlabel("seconds per full build (median)")
    right.set_title("Where a full build's time goes (share in the encoder)")
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    right.grid(True, axis="x", alpha=0.3)

    _footer(fig, _machine(result))
    fig.savefig(out, dpi=DPI)
    plt.close(fig)


def _memory_label(answerer: str, figures: dict[str, Any]) -> str:
    anon, file = figures["rss_anon_mb"], figures["rss_file_mb"]
    return (
        f"QA_ANSWERER={answerer}\nRSS after the answer:\n{anon:.0f} MB anonymous + {file:.0f} MB file-backed"
    )


def memory_chart(result: dict[str, Any], out: Path) -> None:
    measured = {k: v for k, v in result["answerers"].items() if "peak_rss_mb" in v}
    skipped = {k: v["skipped"] for k, v in result["answerers"].items() if "skipped" in v}
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    names = list(measured)
    xs = list(range(len(names)))
    width = 0.38
    ready = [measured[n]["ready_peak_rss_mb"] for n in names]
    peak = [measured[n]["peak_rss_mb"] for n in names]
    b1 = ax.bar([x - width / 2 for x in xs], ready, width, color=GREY,
                label="peak when ready (index built, embedding model loaded)")  # fmt: skip
    b2 = ax.bar([x + width / 2 for x in xs], peak, width, color=BLUE, label="peak after one answer")
    ax.bar_label(b1, labels=[f"{v:.0f} MB" for v in ready], fontsize=9)
    ax.bar_label(b2, labels=[f"{v:.0f} MB" for v in peak], fontsize=9)
    ax.set_xticks(xs, [_memory_label(n, measured[n]) for n in names])
    ax.set_ylabel("peak resident memory, VmHWM (MB)")
    ax.set_title("Memory of the served web chat (qa serve), one question asked")
    ax.margins(y=0.2)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=9, loc="upper left")
    ax.grid(True, axis="y", alpha=0.3)
    backends = sorted({r.get("embedding_backend") or "?" for v in measured.values() for r in v["runs"]})
    note = f"Embedding backend {', '.join(backends)}; {_machine(result)}"
    if skipped:
        note += "; not measured: " + ", ".join(f"{k} ({v})" for k, v in skipped.items())
    _footer(fig, note)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)


def _size_label(value: float, _: Any = None) -> str:
    return f"{value / 1e6:g}M" if value >= 1e6 else _chunks_label(value)


def _target_at_1m(ax: Any, x: float, y: float, text: str, color: str) -> None:
    """A short dashed line at the target's height around the 1M point, labelled on its right."""
    ax.hlines(y, x / 2, x * 2, colors=color, linestyles="--", linewidth=1.8, zorder=2)
    ax.annotate(text, (x * 2, y), textcoords="offset points", xytext=(4, 0), va="center", ha="left",
                fontsize=8, color=color)  # fmt: skip


def scale_chart(result: dict[str, Any], out: Path) -> None:
    sizes = result["sizes"]
    targets = result.get("targets_at_1m", {})
    chunks = [s["chunks"] for s in sizes]
    ticks = [_size_label(s.get("target_chunks", s["chunks"])) for s in sizes]
    at_1m = chunks[-1]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    (times, search), (memory, disk) = axes

    series = [
        ("cold_ask_seconds", "cold `qa ask` (fresh process)", ORANGE, "o"),
        ("open_seconds", "open the index (in-process)", BLUE, "s"),
        ("noop_rebuild_seconds", "no-op rebuild (in-process)", GREEN, "D"),
        ("add_one_seconds", "add one document (in-process)", PURPLE, "^"),
        ("remove_one_seconds", "remove one document (in-process)", GREY, "v"),
    ]
    for key, label, color, marker in series:
        times.plot(chunks, [s[key] for s in sizes], marker=marker, color=color, label=label)
        if key in targets:
            _target_at_1m(times, at_1m, targets[key], f"target at 1M: {targets[key]:g} s", color)
    times.set_yscale("log")
    times.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    times.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    times.yaxis.set_minor_formatter(NullFormatter())
    times.set_ylabel("seconds (log scale)")
    times.set_title("Time per operation")
    times.legend(fontsize=8, loc="upper left")

    for stat, color, marker, offset in (("p95", ORANGE, "o", (0, 7)), ("p50", BLUE, "s", (0, -13))):
        values = [s["search_ms"][stat] for s in sizes]
        search.plot(chunks, values, marker=marker, color=color, label=f"search {stat}")
        for x, y in zip(chunks, values, strict=True):
            search.annotate(f"{y:.0f} ms", (x, y), textcoords="offset points", xytext=offset, ha="center",
                            fontsize=8, color=color)  # fmt: skip
        target = targets.get(f"search_{stat}_ms")
        if target:
            _target_at_1m(search, at_1m, target, f"{stat} target\nat 1M: {target:g} ms", color)
    search.set_ylim(0, max(targets.get("search_p95_ms", 0), max(s["search_ms"]["p95"] for s in sizes)) * 1.15)
    search.set_ylabel("ms per query")
    search.set_title(f"Hybrid search, `Assistant.search` (k=5), {result['queries']} XQuAD questions")
    search.legend(fontsize=8, loc="upper left")

    after = [s["serve"]["peak_rss_mb_after_question"] for s in sizes]
    ready = [s["serve"]["peak_rss_mb_ready"] for s in sizes]
    memory.plot(chunks, after, marker="o", color=BLUE, label="peak RSS after one question")
    memory.plot(chunks, ready, marker="s", linestyle=":", color=GREY, label="peak RSS when ready")
    for i, (x, y) in enumerate(zip(chunks, after, strict=True)):  # the first centred, clear of the y axis
        memory.annotate(f"{y:,.0f} MB", (x, y), textcoords="offset points", fontsize=8, color=BLUE,
                        xytext=(0, 8) if i == 0 else (-4, 6), ha="center" if i == 0 else "right")  # fmt: skip
    if targets.get("serve_peak_rss_mb"):
        target = targets["serve_peak_rss_mb"]
        _target_at_1m(memory, at_1m, target, f"target at 1M:\n{target:,.0f} MB", RED)
    memory.set_ylim(0, max(max(after), targets.get("serve_peak_rss_mb", 0)) * 1.15)
    memory.set_ylabel("peak resident memory, VmHWM (MB)")
    memory.set_title("Memory of `qa serve` (extractive answerer)")
    memory.legend(fontsize=8, loc="upper left")

    per_chunk = [s["disk_bytes_per_chunk"] / 1000 for s in sizes]
    disk.plot(chunks, per_chunk, marker="o", color=GREEN, label="index folder size / chunks")
    for x, y, s in zip(chunks, per_chunk, sizes, strict=True):
        disk.annotate(f"{y:.1f} KB\n({s['disk_bytes'] / 1e9:.2f} GB in all)", (x, y), xytext=(0, 8),
                      textcoords="offset points", ha="center", fontsize=8, color=GREEN)  # fmt: skip
    disk.set_ylim(0, max(per_chunk) * 1.4)
    disk.set_ylabel("KB on disk per chunk")
    disk.set_title("Index size on disk per chunk")
    disk.legend(fontsize=8, loc="lower left")

    for ax in (times, search, memory, disk):
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(chunks, ticks)
        ax.set_xlim(chunks[0] / 2, at_1m * 15)
        ax.set_xlabel("chunks in the index (log scale)")
        ax.grid(True, which="major", alpha=0.3)

    method = result.get("method", {})
    real = method.get("embedded_for_real")
    fig.suptitle(
        "How qa scales with the index: `python -m bench.scale`, "
        "XQuAD paragraphs + generated filler documents\n"
        + (f"Only {real:,} chunks embedded for real; " if real else "")
        + "the rest have synthetic vectors (a real chunk's vector + calibrated noise)",
        fontsize=11,
    )
    _footer(
        fig,
        f"Embedding backend {result.get('embedding_backend', '?')}; "
        f"median of {result.get('repeat', '?')} runs; {_machine(result)}",
    )
    fig.savefig(out, dpi=DPI)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="Folder with the results JSON.")
    parser.add_argument("--docs", type=Path, default=DOCS, help="Folder the PNGs are written to.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    written = {}
    for name, chart, png in (
        ("query_latency.json", query_latency_chart, "query-latency.png"),
        ("ingest.json", ingest_chart, "ingest-throughput.png"),
        ("memory.json", memory_chart, "memory.png"),
        ("scale.json", scale_chart, "scale.png"),
    ):
        result = _load(args.results / name)
        if result is not None:
            chart(result, args.docs / png)
            written[name] = str(args.docs / png)
    print(json.dumps({"charts": written}, indent=2))


if __name__ == "__main__":
    main()
