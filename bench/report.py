"""docs/benchmarks.md and the README's "Measured" table, generated from the saved results.

    python -m bench.report [--results docs/results] [--check]

Every figure in those two places is filled in from a JSON file in `docs/results/` (written by
`make bench`, `make eval` and `make calibrate`); the prose around the figures lives in
`bench/templates/` (`benchmarks.md`, and `readme-measured.md` for the lines between the
`<!-- measured:begin -->` and `<!-- measured:end -->` markers in README.md). Templates use
`string.Template` placeholders (`$name`); a placeholder with no value, or a results file that is
missing, stops the report with the command that produces it. `--check` writes nothing and exits 1
when either file differs from what the results give. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from string import Template
from typing import Any

from bench.common import RESULTS, ROOT
from qa.answerers import QUOTING
from qa.answerers.local import LocalModel

LOCAL = LocalModel.name

log = logging.getLogger("bench.report")

TEMPLATES = Path(__file__).resolve().parent / "templates"
README = ROOT / "README.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- measured:begin"
END = "<!-- measured:end -->"
PRODUCERS = {
    "ingest": "python -m bench.ingest --out docs/results/ingest.json",
    "query_latency": "python -m bench.query_latency --out docs/results/query_latency.json",
    "memory": "python -m bench.memory --out docs/results/memory.json",
    "index_updates": "python -m bench.index_updates --out docs/results/index_updates.json",
    "embedding_backends": "python -m bench.embedding_backends --out docs/results/embedding_backends.json",
    "cold_ask": "python -m bench.cold_ask --out docs/results/cold_ask.json",
    "api_latency": "python -m bench.api_latency --out docs/results/api_latency.json",
    "retrieval": "python -m bench.retrieval --out docs/results/retrieval.json",
    "answers": "python -m bench.answers --out docs/results/answers.json",
    "keyword_index": "python -m bench.keyword_index --out docs/results/keyword_index.json",
    "scale": "python -m bench.scale --out docs/results/scale.json",
    "scale_kept": "python -m bench.scale --measure-kept DIR --out docs/results/scale_kept.json",
    "scale_server": "python -m bench.scale --measure-kept-server DIR --out docs/results/scale_server.json",
    "calibration": "make calibrate",
    "reader_fit": "make calibrate",
    "short_answers": "make calibrate",
    "evidence_choice": "make calibrate",
}
Json = dict[str, Any]
TIMES = {"1": "once", "2": "twice"}


# ---- formatting -------------------------------------------------------------------------------


def num(value: float, digits: int = 0) -> str:
    """1091.4 -> "1,091"; 0.0286 with 4 digits -> "0.0286"."""
    return f"{value:,.{digits}f}"


def pct(share: float, digits: int = 0) -> str:
    """0.954 -> "95 %" (digits=0), "95.4 %" (digits=1)."""
    return f"{share * 100:.{digits}f} %"


def count(share: float, whole: int) -> str:
    """0.7 of 10 -> "7/10"."""
    return f"{round(share * whole)}/{whole}"


def chunks_label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 < 100 else num(n)


def tick(ok: bool | None) -> str:
    return "" if ok is None else (" ✔" if ok else " ✘")


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---- results ----------------------------------------------------------------------------------


class Results:
    """The JSON files of a results folder, each read once; a missing one names its command."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, Json] = {}

    def __getitem__(self, name: str) -> Json:
        if name not in self._cache:
            path = self.folder / f"{name}.json"
            if not path.is_file():
                producer = PRODUCERS.get(name, "make eval" if name.startswith("eval-") else "?")
                raise SystemExit(f"{path} is missing: run `{producer}` (or `make bench`) first")
            self._cache[name] = json.loads(path.read_text(encoding="utf-8"))
        return self._cache[name]

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.json"))


def figures(result: Json, answerer: str = QUOTING) -> Json:
    """One answerer's figures in an eval-*.json file."""
    found = [f for f in result["figures"] if f["answerer"] == answerer]
    if not found:
        raise SystemExit(f"no {answerer} figures in eval-{result['dataset']}.json: run `make eval`")
    return found[0]


def backend(result: Json, name: str) -> Json:
    return next(b for b in result["backends"] if b["backend"] == name)


# ---- values -----------------------------------------------------------------------------------


def eval_values(r: Results) -> dict[str, str]:
    v: dict[str, str] = {}
    article = r["eval-article"]
    ex, lo = figures(article), figures(article, LOCAL)
    v |= {
        "a_questions": num(ex["questions"]),
        "a_ex_facts": count(ex["facts"], ex["answerable"]),
        "a_ex_declined": count(ex["has_declined"], ex["answerable"]),
        "a_ex_noans": count(ex["noans_declined"], ex["unanswerable"]),
        "a_ex_cp": num(ex["citation_precision"], 1),
        "a_lo_facts": count(lo["facts"], lo["answerable"]),
        "a_lo_declined": count(lo["has_declined"], lo["answerable"]),
        "a_lo_noans": count(lo["noans_declined"], lo["unanswerable"]),
        "a_lo_cp": num(lo["citation_precision"], 1),
        "a_lo_by_model": num(lo["written_by"].get(LOCAL, 0)),
        "a_lo_by_extractive": num(lo["written_by"].get(QUOTING, 0)),
        "a_lo_median": num(lo["median_seconds"], 1),
    }
    p = figures(r["eval-article-paraphrased"])
    v |= {
        "p_questions": num(p["questions"]),
        "p_declined": count(p["has_declined"], p["answerable"]),
        "p_noans": count(p["noans_declined"], p["unanswerable"]),
        "p_accuracy": num(p["accuracy"], 2),
    }
    xn = figures(r["eval-xquad-noans"])
    v |= {
        "xn_questions": num(xn["questions"]),
        "xn_accuracy": num(xn["accuracy"], 2),
        "xn_declined": pct(xn["has_declined"], 1),
        "xn_noans": pct(xn["noans_declined"]),
    }
    s = figures(r["eval-squad2"])
    v |= {
        "s_questions": num(s["questions"]),
        "s_unanswerable": num(s["unanswerable"]),
        "s_accuracy": num(s["accuracy"], 2),
        "s_declined": pct(s["has_declined"], 1),
        "s_noans": pct(s["noans_declined"]),
    }
    x = figures(r["eval-xquad"])
    v |= {
        "x_questions": num(x["questions"]),
        "x_documents": num(x["documents"]),
        "x_src1": pct(x["source_hit_at_1"], 1),
        "x_src5": pct(x["source_hit_at_5"], 1),
        "x_hit5": pct(x["hit_at_5"], 1),
        "x_correct": pct(x["has_correct"], 1),
        "x_wrong": num(x["wrong_refusals"]),
        "x_median": num(x["median_seconds"], 2),
    }
    c = r["calibration"]
    bucket = {row["support"]: row for row in c["reliability"]}
    v |= {
        "c_questions": num(c["all"]["questions"]),
        "c_07": pct(bucket["0.7-0.8"]["right"]),
        "c_08": pct(bucket["0.8-0.9"]["right"]),
        "c_04": pct(bucket["0.4-0.5"]["right"]),
    }
    return v


def short_answer_values(r: Results) -> dict[str, str]:
    fit = r["reader_fit"]["held_out"]
    ends = r["short_answers"]
    x, s = ends["xquad"], ends["squad2-dev"]
    return {
        "sa_fit_x": num(fit["xquad"]["fact_f1"], 2),
        "sa_fit_s": num(fit["squad2_dev"]["fact_f1"], 2),
        "sa_x_f1": num(x["reader"]["squad_f1"], 2),
        "sa_s_f1": num(s["reader"]["squad_f1"], 2),
        "sa_local_n": num(x["local"]["answered"]),
        "sa_local_x": num(x["local"]["answered_f1"], 2),
        "sa_local_s": num(s["local"]["answered_f1"], 2),
        "sa_local_span_x": num(x["reader_on_local_sample"]["answered_f1"], 2),
        "sa_local_span_s": num(s["reader_on_local_sample"]["answered_f1"], 2),
        "sa_local_both_x": num(x["local_else_reader"]["answered_f1"], 2),
        "sa_local_both_s": num(s["local_else_reader"]["answered_f1"], 2),
    }


def ingest_values(r: Results) -> dict[str, str]:
    result = r["ingest"]
    torch, onnx = backend(result, "torch"), backend(result, "onnx-int8")
    copies = result["corpus"].rsplit("x", 1)[-1]  # "XQuAD en dev paragraphs x2"
    v = {
        "in_documents": num(result["documents"]),
        "in_copies": {"1": "once", "2": "twice"}.get(
            copies := result["corpus"].rsplit("x", 1)[-1], f"{copies} times"
        ),
        "in_repeat": num(result["repeat"]),
        "in_chunks": num(onnx["chunks"]),
        "in_target": pct(result["target_ratio"]),
        "in_write_batch": num(onnx["write_batch"]),
        "in_batch": num(onnx["encoder_batch_size"]),
    }
    for key, b in (("torch", torch), ("onnx", onnx)):
        v |= {
            f"in_{key}_build_cps": num(b["build"]["chunks_per_second"], 1),
            f"in_{key}_raw_cps": num(b["raw"]["chunks_per_second"], 1),
            f"in_{key}_ratio": pct(b["ratio_build_to_raw"]),
            f"in_{key}_share": pct(b["encode_share_of_build"]),
            f"in_{key}_rest": pct(1 - b["encode_share_of_build"]),
            f"in_{key}_meets": tick(b["meets_target"]),
            f"in_{key}_non_encode": num(b["non_encode_seconds_per_1000_chunks"], 1),
            f"in_{key}_upsert_per_1000": num(b["build_parts_seconds"]["upsert"] / b["chunks"] * 1000, 1),
            f"in_{key}_build_s": num(b["build"]["seconds"], 1),
        }
    return v


def latency_values(r: Results) -> dict[str, str]:
    result = r["query_latency"]
    sizes = result["sizes"]
    method = result["method"]
    big = sizes[-1]
    rows, parts = [], []
    for s in sizes:
        lat = s["latency_ms"]
        label = f"{chunks_label(s['target_chunks'])} chunks ({num(s['documents'])} documents)"
        target = s.get("target_p50_ms")
        rows.append(
            [
                f"search p50 / p95, {label}",
                f"**{num(lat['search']['p50'], 1)} / {num(lat['search']['p95'], 1)} ms**",
                f"p50 < {num(target)} ms{tick(s['meets_target'])}" if target else "",
            ]
        )
        parts.append(
            [
                num(s["chunks"]),
                num(lat["search"]["p50"], 1),
                num(lat["snapshot_check"]["p50"], 2),
                num(lat["dense_only"]["p50"], 2),
                num(lat["chroma_knn"]["p50"], 2),
                num(lat["bm25_only"]["p50"], 2),
                num(lat["keyword_vector_fetch"]["p50"], 2),
                num(s["gc_during_search"]["gen2"]["collections_per_100_searches"], 1),
            ]
        )
    readme = ", ".join(
        f"{num(s['latency_ms']['search']['p50'], 1)} / {num(s['latency_ms']['search']['p95'], 1)} ms at "
        f"{chunks_label(s['target_chunks'])}{' chunks' if i == 0 else ''}"
        for i, s in enumerate(sizes)
    )
    opens = " / ".join(num(s["open_seconds"], 2) for s in sizes)
    return {
        "ql_summary_rows": "\n".join("| " + " | ".join(row) + " |" for row in rows),
        "ql_parts_table": table(
            [
                "chunks",
                "hybrid search",
                "index check per call",
                "dense only (embed + k-NN)",
                "k-NN alone",
                "BM25 only",
                "keyword-only vectors fetched",
                "GC gen-2 per 100 searches",
            ],
            parts,
        ),
        "ql_readme": readme,
        "ql_sizes": " / ".join(chunks_label(s["target_chunks"]) for s in sizes),
        "ql_opens": opens,
        "ql_big": chunks_label(big["target_chunks"]),
        "ql_big_open": num(big["open_seconds"], 1),
        "ql_big_bm25": num(big["open_parts_seconds"]["bm25_build"], 1),
        "ql_big_build": num(big["build_seconds"]),
        "ql_big_p50": num(big["latency_ms"]["search"]["p50"], 1),
        "ql_big_dense": num(big["latency_ms"]["dense_only"]["p50"], 1),
        "ql_big_bm25_ms": num(big["latency_ms"]["bm25_only"]["p50"], 2),
        "ql_small_p50": num(sizes[0]["latency_ms"]["search"]["p50"], 1),
        "ql_queries": num(result["queries"]),
        "ql_repeat": num(result["repeat"]),
        "ql_xquad_chunks": num(method["xquad_chunks"]),
        "ql_pool_chunks": num(method["pool_chunks"]),
        "ql_pool_seconds": num(method["pool_embed_seconds"]),
        "ql_sigma": num(method["sigma"], 4),
        "ql_real_cosine": num(method["real_variant_cosine"]["mean"], 3),
        "ql_synthetic_cosine": num(method["synthetic_variant_cosine_mean"], 3),
        "ql_mismatches": num(method["variant_chunking_mismatches"]),
        "ql_missed": num(sum(s["embedded_during_build"] for s in sizes)),
        "ql_hits": ", ".join(f"{pct(s['hit_at_5'], 1)}" for s in sizes),
        "ql_backend": result["embedding_backend"],
    }


def memory_values(r: Results) -> dict[str, str]:
    result = r["memory"]
    ex, lo = result["answerers"][QUOTING], result["answerers"][LOCAL]
    if "skipped" in lo:
        raise SystemExit(f"memory.json skipped the local answerer ({lo['skipped']}): rerun it with the model")
    modes = {name: ", ".join(f["modes"]) for name, f in result["answerers"].items()}
    return {
        "m_ex": num(ex["peak_rss_mb"]),
        "m_ex_ready": num(ex["ready_peak_rss_mb"]),
        "m_lo": num(lo["peak_rss_mb"]),
        "m_lo_ready": num(lo["ready_peak_rss_mb"]),
        "m_lo_anon": num(lo["rss_anon_mb"]),
        "m_lo_file": num(lo["rss_file_mb"]),
        "m_ex_modes": modes[QUOTING],
        "m_lo_modes": modes[LOCAL],
        "m_repeat": num(result["repeat"]),
        "m_lo_answer_seconds": ", ".join(num(run["answer_seconds"], 1) for run in lo["runs"]),
        "m_lo_citations": ", ".join(num(run["citations"]) for run in lo["runs"]),
        "m_ex_citations": ", ".join(num(run["citations"]) for run in ex["runs"]),
    }


def index_update_values(r: Results) -> dict[str, str]:
    result = r["index_updates"]
    noop, add = result["no_op_rebuild"], result["add_one_document"]
    return {
        "iu_docs": num(result["documents"]),
        "iu_chunks": num(result["chunks"]),
        "iu_repeat": num(result["repeat"]),
        "iu_build": num(result["full_build"]["seconds"], 1),
        "iu_noop": num(noop["in_process_seconds"], 2),
        "iu_model": "loaded" if noop["in_process_loaded_model"] else "not loaded",
        "iu_cli": num(noop["cli_seconds"], 1),
        "iu_status": num(noop["cli_index_status_seconds"], 1),
        "iu_cli_model": "loaded" if noop["cli_loaded_model"] else "not loaded",
        "iu_target": num(noop["target_seconds"]),
        "iu_to_index": num(add["to_index_seconds"], 2),
        "iu_alone": num(add["alone_seconds"], 2),
        "iu_ratio": num(add["ratio"], 1),
        "iu_cli_to_index": num(add["cli_to_index_seconds"], 1),
        "iu_cli_alone": num(add["cli_alone_seconds"], 1),
        "iu_cli_ratio": num(add["cli_ratio"], 1),
        "iu_reopen": num(result["reader_reopen_after_update_seconds"], 2),
    }


def embedding_values(r: Results) -> dict[str, str]:
    result = r["embedding_backends"]
    speed = result["speedup_vs_torch_median_of_rounds"]
    rate = result["throughput_texts_per_s"]
    latency = result["query_latency_p50_ms"]
    retrieval = result["retrieval_xquad_dense"]
    cosine = result["cosine_vs_torch"]
    work = result["workloads"]
    names = {"torch": "PyTorch fp32", "onnx_fp32": "ONNX fp32", "onnx_int8": "ONNX int8"}
    rows = []
    for key, name in names.items():
        rows.append(
            [
                name,
                num(rate["article_chunks"][key], 1),
                num(rate["xquad"][key], 1),
                "1" if key == "torch" else num(speed["article_chunks"][key], 1) + "x",
                "1" if key == "torch" else num(speed["xquad"][key], 1) + "x",
                num(latency[key], 1),
                "1" if key == "torch" else num(cosine[key]["mean"], 4),
                "1" if key == "torch" else num(cosine[key]["min"], 4),
                num(retrieval[key]["hit@1"], 1) + " %",
                num(retrieval[key]["hit@5"], 1) + " %",
            ]
        )
    decision = result["decision"]
    return {
        "e_article": num(speed["article_chunks"]["onnx_int8"], 1),
        "e_xquad": num(speed["xquad"]["onnx_int8"], 1),
        "e_q_int8": num(latency["onnx_int8"], 1),
        "e_q_torch": num(latency["torch"], 1),
        "e_hit_int8": num(retrieval["onnx_int8"]["hit@5"], 1) + " %",
        "e_hit_torch": num(retrieval["torch"]["hit@5"], 1) + " %",
        "e_table": table(
            [
                "backend",
                f"article chunks/s ({work['article_chunks']})",
                f"XQuAD texts/s ({num(work['xquad_texts'])})",
                "speed vs torch, article",
                "speed vs torch, XQuAD",
                "query p50 (ms)",
                "cosine with torch, mean",
                "min",
                "XQuAD dense hit@1",
                "hit@5",
            ],
            rows,
        ),
        "e_questions": num(work["xquad_questions"]),
        "e_paragraphs": num(work["xquad_paragraphs"]),
        "e_auto": decision["auto"],
        "e_rule": decision["rule"],
    }


def cold_ask_values(r: Results) -> dict[str, str]:
    result = r["cold_ask"]
    imports = result["import_seconds"]
    return {
        "ca_wall": num(result["wall_seconds"]["median"], 1),
        "ca_min": num(result["wall_seconds"]["min"], 1),
        "ca_max": num(result["wall_seconds"]["max"], 1),
        "ca_repeat": num(result["repeat"]),
        "ca_chroma": num(imports.get("chromadb", 0.0), 1),
        "ca_traced": num(result["importtime_run_seconds"], 1),
        "ca_imports": ", ".join(f"{name} {num(s, 2)} s" for name, s in list(imports.items())[:6]),
    }


def api_latency_values(r: Results) -> dict[str, str]:
    result = r["api_latency"]
    added = result["added_dependencies"]
    return {
        "al_direct": num(result["assistant_ask_ms"]["p50"], 1),
        "al_http": num(result["http_ask_ms"]["p50"], 1),
        "al_adds": num(result["http_adds_ms"]["p50"], 1),
        "al_adds_p95": num(result["http_adds_ms"]["p95"], 1),
        "al_questions": num(result["questions"]),
        "al_repeat": num(result["repeat"]),
        "al_offline_mb": num(added["fastapi-offline"]["installed_mb"], 1),
        "al_openai_mb": num(added["openai"]["installed_mb"], 1),
    }


def retrieval_values(r: Results) -> dict[str, str]:
    result = r["retrieval"]
    methods = result["methods"]
    labels = {
        "hybrid": f"hybrid, z-score fusion (`qa`, dense weight {result['dense_weight']})",
        "dense": "dense only (MiniLM + Chroma)",
        "bm25": "BM25 only",
        "rank_fusion": f"reciprocal rank fusion of the two (k = {result['rrf_k']})",
    }
    rows = [
        [label, pct(methods[m]["hit_at_1"], 1), pct(methods[m]["hit_at_5"], 1)] for m, label in labels.items()
    ]
    rows += [
        [f"hybrid, dense weight {m.rsplit('_', 1)[-1]}", pct(f["hit_at_1"], 1), pct(f["hit_at_5"], 1)]
        for m, f in methods.items()
        if m.startswith("hybrid_dense_weight_")
    ]
    return {
        "rt_table": table(["retrieval", "right paragraph first", "in the top five"], rows),
        "rt_questions": num(result["questions"]),
        "rt_paragraphs": num(result["paragraphs"]),
        "rt_hybrid": pct(methods["hybrid"]["hit_at_1"], 1),
        "rt_dense": pct(methods["dense"]["hit_at_1"], 1),
        "rt_bm25": pct(methods["bm25"]["hit_at_1"], 1),
        "rt_rrf": pct(methods["rank_fusion"]["hit_at_1"], 1),
    }


def answers_values(r: Results) -> dict[str, str]:
    result = r["answers"]
    rows = []
    for name, f in result["answerers"].items():
        generation = f.get("generation") or {}
        answered = f["answerable"] - f["answerable_declined"]
        rows.append(
            [
                name,
                num(f["first_update_seconds"]["answered_median"] or 0.0, 2),
                num(f["total_seconds"]["answered_median"] or 0.0, 2),
                f"{f['facts_count']}/{f['answerable']}",
                f"{f['written_by_model']}/{answered}" if name != QUOTING else "–",
                num(f["citation_precision"], 2) if f["citation_precision"] is not None else "–",
                count(f["unanswerable_declined"], f["unanswerable"]),
                num(f["dropped_sentences"]),
                num(generation["tokens_per_second"], 1) if generation.get("tokens_per_second") else "–",
            ]
        )
    return {
        "an_table": table(
            [
                "answerer",
                "first checked text, median (s)",
                "whole answer, median (s)",
                "every expected fact",
                "written by the model",
                "citation precision",
                "unanswerable declined",
                "generated sentences dropped",
                "tokens/s",
            ],
            rows,
        ),
        "an_questions": num(result["questions"]),
    }


def scale_values(r: Results) -> dict[str, str]:
    sizes = r["scale"]["sizes"]

    def each(figure: Callable[[Json], str]) -> str:
        return ", ".join(f"{figure(s)} at {size_name(s['target_chunks'])}" for s in sizes)

    def size_name(n: int) -> str:
        return f"{n // 1_000_000:,}M" if n >= 1_000_000 else f"{n // 1000:,}k"

    return {
        "sc_open": each(lambda s: f"{num(s['open_seconds'], 2)} s"),
        "sc_cold": each(lambda s: f"{num(s['cold_ask_seconds'], 1)} s"),
        "sc_search": each(lambda s: f"{num(s['search_ms']['p50'], 1)} / {num(s['search_ms']['p95'], 1)} ms"),
        "sc_add": each(lambda s: f"{num(s['add_one_seconds'], 2)} s"),
        "sc_remove": each(lambda s: f"{num(s['remove_one_seconds'], 2)} s"),
        "sc_noop": each(lambda s: f"{num(s['noop_rebuild_seconds'], 2)} s"),
        "sc_rss": each(lambda s: f"{num(s['serve']['peak_rss_mb_after_question'])} MB"),
        "sc_disk": each(lambda s: f"{num(s['disk_bytes_per_chunk'])} bytes"),
    }


def kept_values(s: Json, prefix: str) -> dict[str, str]:
    """One kept index's figures (`bench.scale --measure-kept` or `--measure-kept-server`)."""
    figures = {
        "chunks": num(s["chunks"]),
        "open": f"{num(s['open_seconds'], 2)} s",
        "cold": f"{num(s['cold_ask_seconds'], 1)} s",
        "search": f"{num(s['search_ms']['p50'], 1)} / {num(s['search_ms']['p95'], 1)} ms",
        "add": f"{num(s['add_one_seconds'], 2)} s",
        "remove": f"{num(s['remove_one_seconds'], 2)} s",
        "add_cli": f"{num(s['add_one_cli_seconds'], 1)} s",
        "remove_cli": f"{num(s['remove_one_cli_seconds'], 1)} s",
        "noop": f"{num(s['noop_rebuild_seconds'], 2)} s",
        "noop_cli": f"{num(s['noop_rebuild_cli_seconds'], 1)} s",
        "noop_cli_again": f"{num(s['noop_rebuild_cli_again_seconds'], 1)} s",
        "noop_each": " / ".join(num(x, 2) for x in s["noop_rebuild_each_seconds"]),
        "rss": f"{num(s['serve']['peak_rss_mb_after_question'])} MB",
    }
    return {f"{prefix}_{key}": value for key, value in figures.items()}


def scale_kept_values(r: Results) -> dict[str, str]:
    """The largest index of a `--keep` run, measured again by later code (`--measure-kept`), and
    served by a Chroma server (`--measure-kept-server`)."""
    server = r["scale_server"]["sizes"][0]
    return (
        kept_values(r["scale_kept"]["sizes"][0], "sk")
        | kept_values(server, "sv")
        | {
            "sv_server_first": f"{num(server['server_first_search_seconds'], 1)} s",
            "sv_server_rss": f"{num(server['chroma_server_rss_mb']['VmHWM'])} MB",
        }
    )


def ocr_values(r: Results) -> dict[str, str]:
    result = r["ocr"]
    scanned, answers = result["scanned"], result["answers"]
    furnished = result["furnished"]
    return {
        "ocr_pages": num(result["pages"]),
        "ocr_dpi": num(result["dpi"]),
        "ocr_cer": pct(scanned["cer"], 1),
        "ocr_pps": num(scanned["pages_per_second"], 3),
        "ocr_seconds_per_page": num(1 / scanned["pages_per_second"], 0),
        "ocr_right_scan": num(answers["scanned_ocr"]["right"]),
        "ocr_right_plain": num(answers["plain"]["right"]),
        "ocr_questions": num(answers["plain"]["questions"]),
        "pdf_right_before": num(answers["furnished_before_cleaning"]["right"]),
        "pdf_right_after": num(answers["furnished_after_cleaning"]["right"]),
        "pdf_furniture_before": num(answers["furnished_before_cleaning"]["furniture_in_top5"]),
        "pdf_furniture_after": num(answers["furnished_after_cleaning"]["furniture_in_top5"]),
        "pdf_split_before": num(answers["furnished_before_cleaning"]["split_words_in_citations"]),
        "pdf_split_after": num(answers["furnished_after_cleaning"]["split_words_in_citations"]),
        "pdf_hyphens_before": num(furnished["hyphen_breaks_before"]),
        "pdf_hyphens_after": num(furnished["hyphen_breaks_after"]),
    }


def runs_table(r: Results) -> str:
    rows = []
    for name in r.names():
        result = r[name]
        run = result.get("run") if isinstance(result, dict) else None
        if run is None:
            rows.append([f"`{name}.json`", "–", "no stamp", "", "", "", ""])
            continue
        load = run["load_average"]
        commit = str(run["git_commit"])[:9] + (" + changes" if run["git_dirty"] else "")
        rows.append(
            [
                f"`{name}.json`",
                f"`{run['command']}`",
                run["date"][:10],
                f"`{commit}`",
                f"{run['cpu_model']}, {run['cpu_count']} cores",
                f"{load['start'][0]} → {load['end'][0]}",
                num(run["seconds"] / 60, 1),
            ]
        )
    return table(["file", "command", "date", "commit", "CPU", "load (1 min, start → end)", "minutes"], rows)


VALUES: tuple[Callable[[Results], dict[str, str]], ...] = (
    eval_values,
    short_answer_values,
    ingest_values,
    latency_values,
    memory_values,
    index_update_values,
    embedding_values,
    cold_ask_values,
    api_latency_values,
    scale_values,
    scale_kept_values,
    retrieval_values,
    answers_values,
    ocr_values,
)


BENCH = (  # what `make bench` runs
    "ingest",
    "query_latency",
    "memory",
    "index_updates",
    "embedding_backends",
    "cold_ask",
    "api_latency",
    "retrieval",
    "answers",
    "ocr",
    "garbage_text",
    "keyword_index",
    "scale",
)


def bench_minutes(r: Results) -> str:
    """The wall time of the benchmarks `make bench` runs, added up from their stamps."""
    return num(sum(r[name]["run"]["seconds"] for name in BENCH) / 60)


def values(results: Results) -> dict[str, str]:
    out: dict[str, str] = {"runs_table": runs_table(results), "bench_minutes": bench_minutes(results)}
    for fill in VALUES:
        out |= fill(results)
    return out


# ---- rendering --------------------------------------------------------------------------------


def render(template: str, fields: dict[str, str]) -> str:
    try:
        return Template(template).substitute(fields)
    except KeyError as exc:
        raise SystemExit(f"template placeholder ${exc.args[0]} has no value in bench/report.py") from None


def with_measured(readme: str, block: str) -> str:
    """README.md with the lines between the measured markers replaced by `block`."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no {BEGIN} ... {END} markers")
    return pattern.sub(lambda _: block.rstrip("\n"), readme, count=1)


def outputs(results: Results) -> dict[Path, str]:
    fields = values(results)
    benchmarks = render((TEMPLATES / "benchmarks.md").read_text(encoding="utf-8"), fields)
    measured = render((TEMPLATES / "readme-measured.md").read_text(encoding="utf-8"), fields)
    return {BENCHMARKS: benchmarks, README: with_measured(README.read_text(encoding="utf-8"), measured)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="Folder with the results JSON.")
    parser.add_argument("--check", action="store_true", help="Write nothing; exit 1 if a file is stale.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    stale = []
    for path, text in outputs(Results(args.results)).items():
        if path.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            log.info("wrote %s", path)
    if stale:
        log.error("not what the results give: %s (run `python -m bench.report`)", ", ".join(map(str, stale)))
        sys.exit(1)


if __name__ == "__main__":
    main()
