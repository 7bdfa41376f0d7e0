"""`qa eval`: run a question set through the real pipeline and measure it, offline and repeatably.

Datasets ship in the repository's `eval/` folder (rules in `eval/README.md`):

- `article`: 22 questions about the bundled article, 12 answerable and 10 not;
- `xquad`: the development half of XQuAD (English), every paragraph indexed as its own document;
- a JSON-lines FILE in the article format, judged against the documents of a corpus folder.

Judging:

- an answer holds the expected facts when it contains an alternative of every `must` group
  (case-insensitive, at a word boundary; alternatives of three characters or fewer as whole words;
  `[n]` markers ignored);
- a citation is correct when its span overlaps a gold span of the same document by at least 20
  characters, or covers a shorter gold span whole;
- a retrieved passage is a hit when it overlaps a gold span of the same document.

Each run builds its own index in a temporary folder; the user's `index/` is never touched.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .errors import QAError

log = logging.getLogger(__name__)

EVAL_DIR = Path(__file__).resolve().parent.parent / "eval"
ARTICLE_CASES = EVAL_DIR / "article_dev.jsonl"
ARTICLE_CORPUS = EVAL_DIR / "article"
XQUAD_FILE = EVAL_DIR / "xquad" / "xquad.en.dev.json"
MIN_OVERLAP = 20
SHORT_ALTERNATIVE = 3
SEARCH_DEPTH = 10  # passages read for hit@k and MRR
_MARKER = re.compile(r"\[\d+\]")

GoldSpan = tuple[str, int, int]  # (source, start, end)


class Spanned(Protocol):
    source: str
    start: int
    end: int


@dataclass(frozen=True)
class Case:
    """One question and what a correct answer to it looks like."""

    id: str
    question: str
    answerable: bool
    must: list[list[str]] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # as written in the dataset
    gold: list[GoldSpan] = field(default_factory=list)  # where the evidence is in the documents


@dataclass(frozen=True)
class Dataset:
    """Documents to index (source -> text) and questions about them."""

    name: str
    documents: dict[str, str]
    cases: list[Case]


# ---- judging ---------------------------------------------------------------------------------


def _alternative_pattern(alternative: str) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(part) for part in alternative.split())
    if len(alternative) <= SHORT_ALTERNATIVE:
        return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
    return re.compile(rf"(?<!\w){body}", re.IGNORECASE)


def holds_expected_facts(answer_text: str, must: list[list[str]]) -> bool:
    """True when the answer contains an alternative of every `must` group (`[n]` markers ignored)."""
    text = _MARKER.sub(" ", answer_text)
    return all(any(_alternative_pattern(alt).search(text) for alt in group) for group in must)


def evidence_spans(document_text: str, evidence: list[str]) -> list[tuple[int, int]]:
    """Every occurrence of each evidence passage in the document (any whitespace run matches any
    other). Raises ValueError when a passage does not occur: a stale dataset must fail loudly."""
    spans: list[tuple[int, int]] = []
    for passage in evidence:
        pattern = r"\s+".join(re.escape(part) for part in passage.split())
        found = [(m.start(), m.end()) for m in re.finditer(pattern, document_text)]
        if not found:
            raise ValueError(f"evidence not found in the document: {passage!r}")
        spans.extend(found)
    return spans


def citation_is_correct(citation: Spanned, gold: Iterable[GoldSpan]) -> bool:
    """True when the citation overlaps a gold span by >= 20 characters or covers a shorter one whole."""
    for source, start, end in gold:
        if source != citation.source:
            continue
        if min(citation.end, end) - max(citation.start, start) >= MIN_OVERLAP:
            return True
        if end - start < MIN_OVERLAP and citation.start <= start and end <= citation.end:
            return True
    return False


def overlaps(passage: Spanned, gold: Iterable[GoldSpan]) -> bool:
    return any(s == passage.source and passage.start < e and b < passage.end for s, b, e in gold)


# ---- datasets --------------------------------------------------------------------------------


def _cases_from_jsonl(path: Path, documents: dict[str, str]) -> list[Case]:
    cases = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                evidence = list(raw.get("evidence", []))
                gold: list[GoldSpan] = []
                for source, text in documents.items():
                    for passage in evidence:
                        try:
                            gold.extend((source, a, b) for a, b in evidence_spans(text, [passage]))
                        except ValueError:
                            continue
                if raw["answerable"] and evidence and not gold:
                    raise ValueError(f"none of its evidence occurs in the documents: {evidence[0]!r}")
                cases.append(
                    Case(
                        id=str(raw.get("id", f"line-{line_no}")),
                        question=raw["question"],
                        answerable=bool(raw["answerable"]),
                        must=[list(g) for g in raw.get("must", [])],
                        evidence=evidence,
                        gold=gold,
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise QAError(f"{path}:{line_no}: not a valid case ({exc}); see eval/README.md") from exc
    return cases


def _read_corpus_texts(corpus_dir: Path) -> dict[str, str]:
    from .loaders import list_corpus, load_file

    files, _ = list_corpus(corpus_dir)
    documents = {}
    for path in files:
        try:
            doc = load_file(path, corpus_dir, max_bytes=10**9)
        except (ValueError, OSError):
            continue
        documents[doc.source] = doc.text
    return documents


def article_dataset() -> Dataset:
    documents = _read_corpus_texts(ARTICLE_CORPUS)
    return Dataset("article", documents, _cases_from_jsonl(ARTICLE_CASES, documents))


def xquad_dataset(path: Path = XQUAD_FILE) -> Dataset:
    """Every XQuAD paragraph as its own document; every question answerable, its gold span the answer."""
    data = json.loads(path.read_text(encoding="utf-8"))
    documents: dict[str, str] = {}
    cases: list[Case] = []
    for article in data["data"]:
        title = re.sub(r"[^A-Za-z0-9_-]+", "_", article["title"])
        for i, paragraph in enumerate(article["paragraphs"]):
            source = f"{title}/{i:02d}.txt"
            documents[source] = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = qa["answers"]
                gold = [(source, a["answer_start"], a["answer_start"] + len(a["text"])) for a in answers]
                must = [list(dict.fromkeys(a["text"] for a in answers))]
                cases.append(Case(qa["id"], qa["question"], True, must, [a["text"] for a in answers], gold))
    return Dataset("xquad", documents, cases)


def file_dataset(path: Path, corpus_dir: Path) -> Dataset:
    documents = _read_corpus_texts(corpus_dir)
    if not documents:
        raise QAError(f"no readable documents in {corpus_dir} to judge {path} against; pass --corpus")
    return Dataset(path.name, documents, _cases_from_jsonl(path, documents))


def load_dataset(name: str, corpus_dir: Path | None = None) -> Dataset:
    if name == "article":
        return article_dataset()
    if name == "xquad":
        return xquad_dataset()
    path = Path(name)
    if not path.is_file():
        raise QAError(f"no dataset {name!r}: use article, xquad, or the path of a JSON-lines file")
    return file_dataset(path, corpus_dir or Path("corpus"))


# ---- running ---------------------------------------------------------------------------------


def evaluate(
    dataset: Dataset,
    answerer: str = "extractive",
    limit: int | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Index the dataset's documents in a temporary folder, ask every question, return the figures."""
    from .assistant import Assistant

    cases = dataset.cases[:limit] if limit else dataset.cases
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
        corpus = Path(tmp) / "corpus"
        for source, text in dataset.documents.items():
            target = corpus / source
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        assistant = Assistant(corpus_dir=corpus, index_dir=Path(tmp) / "index", answerer=answerer, **settings)  # type: ignore[arg-type]
        started = time.perf_counter()
        report = assistant.rebuild()
        build_seconds = time.perf_counter() - started
        if report.skipped:
            log.warning("eval: %d documents skipped", len(report.skipped))
        rows = [_judge(assistant, case) for case in cases]
    return _figures(dataset, answerer, rows, build_seconds)


def _judge(assistant: Any, case: Case) -> dict[str, Any]:
    started = time.perf_counter()
    answer = assistant.ask(case.question)
    seconds = time.perf_counter() - started
    row: dict[str, Any] = {
        "id": case.id,
        "answerable": case.answerable,
        "declined": not answer.answerable,
        "seconds": seconds,
        "mode": answer.mode,
    }
    if case.answerable:
        passages = assistant.search(case.question, k=SEARCH_DEPTH)
        ranks = [i for i, p in enumerate(passages, start=1) if overlaps(p, case.gold)]
        gold_sources = {s for s, _, _ in case.gold}
        source_ranks = [i for i, p in enumerate(passages, start=1) if p.source in gold_sources]
        row.update(
            rank=ranks[0] if ranks else None,
            source_rank=source_ranks[0] if source_ranks else None,
            facts=answer.answerable and holds_expected_facts(answer.text, case.must),
            citations=len(answer.citations),
            correct_citations=sum(citation_is_correct(c, case.gold) for c in answer.citations),
        )
    return row


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _figures(
    dataset: Dataset, answerer: str, rows: list[dict[str, Any]], build_seconds: float
) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    n = len(answerable)

    def hit(k: int, key: str = "rank") -> float | None:
        return _share(sum(1 for r in answerable if r[key] is not None and r[key] <= k), n)

    citations = sum(r["citations"] for r in answerable)
    return {
        "dataset": dataset.name,
        "answerer": answerer,
        "questions": len(rows),
        "answerable": n,
        "unanswerable": len(unanswerable),
        "documents": len(dataset.documents),
        "hit_at_1": hit(1),
        "hit_at_4": hit(4),
        "hit_at_5": hit(5),
        "mrr": round(sum(1 / r["rank"] for r in answerable if r["rank"]) / n, 4) if n else None,
        "source_hit_at_1": hit(1, "source_rank"),
        "source_hit_at_5": hit(5, "source_rank"),
        "facts": _share(sum(1 for r in answerable if r["facts"]), n),
        "citation_precision": _share(sum(r["correct_citations"] for r in answerable), citations),
        "citation_recall": _share(sum(1 for r in answerable if r["correct_citations"]), n),
        "refusals": _share(sum(1 for r in unanswerable if r["declined"]), len(unanswerable)),
        "wrong_refusals": sum(1 for r in answerable if r["declined"]),
        "written_by": dict(
            sorted({m: sum(1 for r in rows if r["mode"] == m) for m in {r["mode"] for r in rows}}.items())
        ),
        "median_seconds": round(statistics.median(r["seconds"] for r in rows), 3) if rows else None,
        "build_seconds": round(build_seconds, 2),
    }


FIGURE_LABELS = {
    "hit_at_1": "retrieval hit@1",
    "hit_at_4": "retrieval hit@4",
    "hit_at_5": "retrieval hit@5",
    "mrr": "retrieval MRR",
    "source_hit_at_1": "right document first",
    "source_hit_at_5": "right document in top 5",
    "facts": "answers with every expected fact",
    "citation_precision": "citation precision",
    "citation_recall": "citation recall",
    "refusals": "unanswerable questions declined",
    "wrong_refusals": "answerable questions declined",
    "median_seconds": "median seconds per answer",
    "build_seconds": "index build seconds",
}
