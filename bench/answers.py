"""What the answerers deliver on the article's development set: how soon checked text appears, how
long an answer takes, whether it holds the expected facts and cites the right passages, who wrote it
(the model, or the extractive fallback), and whether any final sentence lacks gold evidence.

    python -m bench.answers [--answerer extractive local openai] [--limit N] [--answers]
        [--llm-base-url URL --llm-model NAME | --serve] [--out FILE]

Prints one JSON object on stdout (and writes it to `--out`); logs go to stderr. `--serve` starts
llama.cpp's OpenAI-compatible server with the packaged model on a free loopback port for the
`openai` answerer (and stops it).

Targets (printed, never asserted): first checked text within 4 s and a complete
answer within 10 s (medians); at least 85 % of answerable questions with every expected fact, and at
least as many as extractive; most answers written by the model; citation precision >= 0.9; every
unanswerable question declined; zero final sentences failing the judge: each sentence must carry a
citation that overlaps the question's gold evidence (`failing_sentences`, below).

Timing: `first_update` is the time to the first Answer that `Assistant.stream` yields (checked text
on screen, or a refusal); `total` is the time to the final one. The local model is loaded before the
questions are timed (its load time is reported apart), so per-question figures are warm.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import emit, free_port, median, start_run
from qa.answerers import QUOTING, choices
from qa.answerers.local import LocalModel
from qa.answerers.openai import OpenAIServer

LOCAL = LocalModel.name
OPENAI = OpenAIServer.name

log = logging.getLogger("bench.answers")

TARGETS = {
    "first_update_median_seconds": "<= 4",
    "total_median_seconds": "<= 10",
    "facts": ">= 0.85 and >= extractive",
    "written_by_model": "most answerable questions",
    "citation_precision": ">= 0.9",
    "unanswerable_declined": "1.0",
    "failing_sentences": "0",
}
TOKENS_QUESTION = "Where did the second round of the cybercrime dialogue take place?"
_SENTENCE = re.compile(r"\s*(.+?)\s*((?:\[\d+\])+)(?=\s|$)")


class _Dropped(logging.Handler):
    """Collects the sentences the checker drops (qa.generative logs each one)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("dropped a generated sentence"):
            self.messages.append(message)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return round(ordered[index], 3)


def _median(values: list[float]) -> float | None:
    return median(values) if values else None


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def failing_sentences(answer: Any, case: Any) -> list[tuple[str, str]]:
    """(why, sentence) for each sentence of a final answer that the evaluation judge does not find in
    the question's gold evidence: text with no `[n]` marker after it, or only markers that name no
    citation ("uncited"), or a sentence none of whose cited passages overlaps a gold span as
    `qa.evaluation.citation_is_correct` requires ("off the gold evidence"; every sentence of an answer
    to an unanswerable question, which has no gold evidence, is "no gold evidence"). A declined answer
    has no sentences.

    Independent of `qa.generative.SentenceChecker` on purpose: a model-written sentence is shown only
    after that check accepted it, so checking it again with the same check could never fail."""
    from qa.evaluation import citation_is_correct

    if not answer.answerable:
        return []
    failing = []
    uncited = _SENTENCE.sub("", answer.text).strip()
    if uncited:
        failing.append(("uncited", uncited))
    by_number = {c.n: c for c in answer.citations}
    for match in _SENTENCE.finditer(answer.text):
        cited = [by_number[n] for n in map(int, re.findall(r"\d+", match.group(2))) if n in by_number]
        if not cited:
            failing.append(("uncited", match.group(1)))
        elif not case.gold:
            failing.append(("no gold evidence", match.group(1)))
        elif not any(citation_is_correct(c, case.gold) for c in cited):
            failing.append(("off the gold evidence", match.group(1)))
    return failing


def _ask(assistant: Any, question: str) -> tuple[list[Any], float, float]:
    """All the updates of one streamed answer, the seconds to the first and to the last."""
    started = time.perf_counter()
    first = None
    updates = []
    for update in assistant.stream(question):
        if first is None:
            first = time.perf_counter() - started
        updates.append(update)
    return updates, first or 0.0, time.perf_counter() - started


def run_answerer(name: str, assistant: Any, cases: list[Any]) -> dict[str, Any]:
    from qa.evaluation import citation_is_correct, holds_expected_facts

    dropped = _Dropped()
    logging.getLogger("qa.generative").addHandler(dropped)
    logging.getLogger("qa.generative").setLevel(logging.INFO)
    load_seconds = None
    if name != QUOTING:
        started = time.perf_counter()
        model = assistant.chat_model()
        if hasattr(model, "_client"):  # the in-process llama.cpp model: load it now, not in question 1
            model._client()
        load_seconds = round(time.perf_counter() - started, 2)
    rows = []
    try:
        for case in cases:
            before = len(dropped.messages)
            updates, first, total = _ask(assistant, case.question)
            final = updates[-1]
            row: dict[str, Any] = {
                "id": case.id,
                "answerable": case.answerable,
                "declined": not final.answerable,
                "mode": final.mode,
                "updates": len(updates),
                "first_update_seconds": round(first, 3),
                "total_seconds": round(total, 3),
                "dropped": dropped.messages[before:],
                "text": final.text,
            }
            if case.answerable:
                row["facts"] = final.answerable and holds_expected_facts(final.text, case.must)
                row["citations"] = len(final.citations)
                row["correct_citations"] = sum(citation_is_correct(c, case.gold) for c in final.citations)
            row["failing"] = failing_sentences(final, case)
            log.info(
                "%s %s %s %.2fs (first %.2fs): %s",
                name,
                case.id,
                final.mode,
                total,
                first,
                final.text[:100],
            )
            rows.append(row)
    finally:
        logging.getLogger("qa.generative").removeHandler(dropped)
    return _figures(name, rows, load_seconds)


def _figures(name: str, rows: list[dict[str, Any]], load_seconds: float | None) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answered = [r for r in answerable if not r["declined"]]
    citations = sum(r["citations"] for r in answerable)
    first_answered = [r["first_update_seconds"] for r in answered]
    total_answered = [r["total_seconds"] for r in answered]
    model_written = sum(1 for r in answered if r["mode"] == name) if name != QUOTING else 0
    failing = [(r["id"], why, s) for r in rows for why, s in r["failing"]]
    dropped = [(r["id"], m) for r in rows for m in r["dropped"]]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "model_load_seconds": load_seconds,
        "first_update_seconds": {
            "median": _median([r["first_update_seconds"] for r in rows]),
            "p90": _percentile([r["first_update_seconds"] for r in rows], 0.9),
            "answered_median": _median(first_answered),
            "answered_p90": _percentile(first_answered, 0.9),
        },
        "total_seconds": {
            "median": _median([r["total_seconds"] for r in rows]),
            "p90": _percentile([r["total_seconds"] for r in rows], 0.9),
            "answered_median": _median(total_answered),
            "answered_p90": _percentile(total_answered, 0.9),
        },
        "facts": round(sum(1 for r in answerable if r["facts"]) / len(answerable), 4) if answerable else None,
        "facts_count": sum(1 for r in answerable if r["facts"]),
        "written_by_model": model_written,
        "fell_back_to_extractive": len(answered) - model_written if name != QUOTING else 0,
        "modes": dict(
            sorted({m: sum(1 for r in rows if r["mode"] == m) for m in {r["mode"] for r in rows}}.items())
        ),
        "citation_precision": round(sum(r["correct_citations"] for r in answerable) / citations, 4)
        if citations
        else None,
        "citations": citations,
        "unanswerable_declined": round(sum(1 for r in unanswerable if r["declined"]) / len(unanswerable), 4)
        if unanswerable
        else None,
        "answerable_declined": sum(1 for r in answerable if r["declined"]),
        "failing_sentences": len(failing),
        "failing_examples": failing[:5],
        "dropped_sentences": len(dropped),
        "dropped_examples": dropped[:8],
        "peak_rss_mb_so_far": _peak_rss_mb(),
        "answers": [
            {k: r[k] for k in ("id", "mode", "declined", "first_update_seconds", "total_seconds", "text")}
            | ({"facts": r["facts"]} if r["answerable"] else {})
            for r in rows
        ],
    }


def token_rate(assistant: Any) -> dict[str, Any]:
    """Stream the local model directly on one real prompt (the evidence for TOKENS_QUESTION):
    tokens counted with the model's own tokenizer."""
    from qa.answering import asks_about_opening
    from qa.generative import build_messages
    from qa.retrieval import hybrid_search

    model = assistant.chat_model()
    llama = model._client()
    snapshot = assistant.store.open()
    passages = hybrid_search(
        snapshot,
        assistant.embeddings,
        TOKENS_QUESTION,
        assistant.settings.top_k,
        None,
        openings=asks_about_opening(TOKENS_QUESTION),
    )
    decision = assistant.selector.decide(TOKENS_QUESTION, passages, snapshot.keyword)
    messages = build_messages(TOKENS_QUESTION, decision.passages_for_model)
    prompt_text = "\n".join(str(m.content) for m in messages)
    started = time.perf_counter()
    stamps: list[float] = []
    text = ""
    for chunk in model.stream(messages):
        if chunk.content:
            stamps.append(time.perf_counter())
            text += str(chunk.content)
    output_tokens = len(llama.tokenize(text.encode("utf-8"), add_bos=False))
    decode = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    return {
        "prompt_tokens": len(llama.tokenize(prompt_text.encode("utf-8"), add_bos=False)),
        "output_tokens": output_tokens,
        "streamed_pieces": len(stamps),
        "seconds_to_first_token": round(stamps[0] - started, 3) if stamps else None,
        "seconds_total": round(time.perf_counter() - started, 3),
        "tokens_per_second": round((output_tokens - 1) / decode, 2) if decode else None,
        "n_threads": model.n_threads,
    }


@contextmanager
def llama_server(log_dir: Path) -> Iterator[tuple[str, str]]:
    """llama.cpp's OpenAI-compatible server with the packaged model: (base_url, model name)."""
    from qa.llm import local_model_file

    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(local_model_file())]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_threads", "2", "--n_ctx", "2048"]
    command += ["--rope_freq_base", "0"]
    server_log = log_dir / "llama-server.log"
    with open(server_log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"llama.cpp's server did not start; see {server_log}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                    model = json.load(response)["data"][0]["id"]
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        log.info("llama.cpp server on %s serving %s", base_url, model)
        yield base_url, model
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.answers", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--answerer",
        nargs="+",
        choices=choices(auto=False),
        default=[QUOTING, LOCAL],
        help="answerers to measure, in order (default: extractive local)",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--llm-base-url", default=None, help="OpenAI-compatible server for `openai`")
    parser.add_argument("--llm-model", default=None, help="model name on that server")
    parser.add_argument("--serve", action="store_true", help="start llama.cpp's server for `openai`")
    parser.add_argument("--answers", action="store_true", help="also print every answer with its timings")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    begun = start_run()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("httpx", "httpx2", "chromadb", "sentence_transformers", "qa.generative"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from qa import Assistant
    from qa.evaluation import article_dataset

    [dataset] = article_dataset()
    cases = dataset.cases[: args.limit] if args.limit else dataset.cases
    result: dict[str, Any] = {
        "benchmark": "answers",
        "dataset": dataset.name,
        "questions": len(cases),
        "targets": TARGETS,
        "answerers": {},
    }
    with tempfile.TemporaryDirectory(prefix="qa-bench-answers-") as tmp:
        root = Path(tmp)
        corpus = root / "corpus"
        for source, text in dataset.documents.items():
            (corpus / source).parent.mkdir(parents=True, exist_ok=True)
            (corpus / source).write_text(text, encoding="utf-8")
        builder = Assistant(corpus_dir=corpus, index_dir=root / "index", answerer=QUOTING)
        started = time.perf_counter()
        builder.rebuild()
        result["index_build_seconds"] = round(time.perf_counter() - started, 2)
        for name in args.answerer:
            settings: dict[str, Any] = {}
            server = None
            if name == OPENAI:
                if args.serve:
                    server = llama_server(root)
                    settings["llm_base_url"], settings["llm_model"] = server.__enter__()
                else:
                    settings = {"llm_base_url": args.llm_base_url, "llm_model": args.llm_model}
                    settings = {k: v for k, v in settings.items() if v}
            try:
                assistant = Assistant(corpus_dir=corpus, index_dir=root / "index", answerer=name, **settings)
                log.info("answering %d questions with %s", len(cases), assistant.answerer)
                figures = run_answerer(assistant.answerer, assistant, cases)
                if not args.answers:
                    figures.pop("answers")
                if assistant.answerer == LOCAL:
                    figures["generation"] = token_rate(assistant)
                    figures["peak_rss_mb_so_far"] = _peak_rss_mb()
                result["answerers"][name] = figures
            finally:
                if server is not None:
                    server.__exit__(None, None, None)
    extractive = result["answerers"].get(QUOTING)
    for name, figures in result["answerers"].items():
        if name != QUOTING and extractive:
            figures["facts_at_least_extractive"] = figures["facts_count"] >= extractive["facts_count"]
    result["peak_rss_mb"] = _peak_rss_mb()
    emit(result, begun, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
