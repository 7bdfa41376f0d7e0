"""`qa eval`: run a question set through the real pipeline and measure it, offline and repeatably.

Datasets ship in the repository's `eval/` folder, installed as the package `qa.eval` (rules in
`eval/README.md`):

- `article`: 22 questions about the bundled article, 12 answerable and 10 not;
- `article-paraphrased`: 20 more about it, phrased the way users ask, written after the rules of the
  first set had been tuned and before the decision was fitted;
- `xquad`: the development half of XQuAD (English), every paragraph indexed as its own document;
- `xquad-noans`: the same half with one paragraph of each article left out (at index
  `int(sha1(title), 16) % paragraphs`), one document per article; the left-out paragraph's questions
  become unanswerable;
- `squad2`: the SQuAD 2.0 articles that have unanswerable questions (the development article and two
  training articles), each its own corpus of one document, paragraphs joined by a blank line;
- a JSON-lines FILE in the article format, judged against the documents of a corpus folder, or a
  SQuAD 2.0 JSON FILE, judged like `squad2`.

Each article is measured with the support model fitted without it, when the packaged model holds
such a fold (`python -m bench.calibrate`): every figure is then one the fit did not see.

Judging:

- an answer holds the expected facts when it contains an alternative of every `must` group
  (case-insensitive, at a word boundary; alternatives of three characters or fewer as whole words;
  `[n]` markers ignored);
- a citation is correct when its span overlaps a gold span of the same document by at least 20
  characters, or covers a shorter gold span whole;
- a retrieved passage is a hit when it overlaps a gold span of the same document;
- a SQuAD-style answer is correct when it is not declined and holds a gold answer after SQuAD's
  normalisation (lower case, punctuation and a/an/the removed, whitespace collapsed).

Each run builds its own index in a temporary folder; the user's `index/` is never touched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import statistics
import string
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .answerers import QUOTING
from .errors import QAError
from .models import JSONObject

if TYPE_CHECKING:
    from .assistant import Assistant

log = logging.getLogger(__name__)


def _datasets_dir() -> Path:
    """The eval/ folder wherever qa is installed: pyproject maps it to the package `qa.eval`, so a wheel
    carries it and an editable install points at the checkout's."""
    try:
        return Path(str(resources.files("qa.eval")))
    except ModuleNotFoundError as exc:  # a checkout put on sys.path by hand, never installed
        raise QAError(
            "the evaluation datasets (qa.eval) are not installed; install qa with `pip install -e .`"
        ) from exc


EVAL_DIR = _datasets_dir()
ARTICLE_CASES = EVAL_DIR / "article_dev.jsonl"
ARTICLE_PARAPHRASED = EVAL_DIR / "article_paraphrased.jsonl"
ARTICLE_CONVERSATIONS = EVAL_DIR / "article_conversations.jsonl"
ARTICLE_CORPUS = EVAL_DIR / "article"
XQUAD_FILE = EVAL_DIR / "xquad" / "xquad.en.dev.json"
SQUAD2_DEV = EVAL_DIR / "squad2" / "squad2-dev-computational-complexity.json"
SQUAD2_TRAIN = EVAL_DIR / "squad2" / "squad2-train-first-10-articles.json"
MIN_OVERLAP = 20
SHORT_ALTERNATIVE = 3
SEARCH_DEPTH = 10  # passages read for hit@k and MRR
_MARKER = re.compile(r"\[\d+\]")

GoldSpan = tuple[str, int, int]  # (source, start, end)


class Spanned(Protocol):
    """A span of a document: a passage or a citation."""

    @property
    def source(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


@dataclass(frozen=True)
class Case:
    """One question and what a correct answer to it looks like."""

    id: str
    question: str
    answerable: bool
    must: list[list[str]] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # as written in the dataset
    gold: list[GoldSpan] = field(default_factory=list)  # where the evidence is in the documents
    answers: list[str] = field(default_factory=list)  # SQuAD-style gold answers, judged by containment
    article: str = ""  # the article it is about: the fold a cross-validated fit left it out of


@dataclass(frozen=True)
class Dataset:
    """Documents to index together (source -> text) and questions about them."""

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


def squad_normalise(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no a/an/the, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def holds_gold_answer(answer_text: str, answers: list[str]) -> bool:
    """True when the answer contains one of the gold answers, both SQuAD-normalised."""
    text = f" {squad_normalise(_MARKER.sub(' ', answer_text))} "
    return any(f" {squad_normalise(a)} " in text for a in answers if squad_normalise(a))


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token F1 between two answers, after SQuAD normalisation."""
    p, g = squad_normalise(prediction).split(), squad_normalise(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def short_scores(prediction: str | None, gold: list[str]) -> tuple[float, float]:
    """(exact match, F1) of a short answer against the best gold answer; 0 for no short answer."""
    if prediction is None or not gold:
        return 0.0, 0.0
    em = max(float(squad_normalise(prediction) == squad_normalise(g)) for g in gold)
    return em, max(token_f1(prediction, g) for g in gold)


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


def _case(raw: dict[str, Any], case_id: str, documents: dict[str, str], strict: bool = True) -> Case:
    """One case of the article format; ValueError, KeyError or TypeError when it is not one.
    `strict`: an answerable case whose evidence occurs nowhere is an error (a stale dataset); without
    it the case keeps no gold span (for text that differs from the original, such as OCR output)."""
    evidence = list(raw.get("evidence", []))
    gold: list[GoldSpan] = []
    for source, text in documents.items():
        for passage in evidence:
            try:
                gold.extend((source, a, b) for a, b in evidence_spans(text, [passage]))
            except ValueError:
                continue
    if strict and raw["answerable"] and evidence and not gold:
        raise ValueError(f"none of its evidence occurs in the documents: {evidence[0]!r}")
    return Case(
        id=case_id,
        question=raw["question"],
        answerable=bool(raw["answerable"]),
        must=[list(g) for g in raw.get("must", [])],
        evidence=evidence,
        gold=gold,
    )


def cases_from_jsonl(path: Path, documents: dict[str, str], strict: bool = True) -> list[Case]:
    """The cases in a JSON-lines file, with gold spans where their evidence occurs in `documents`."""
    cases = []
    for line_no, line in _lines(path):
        try:
            raw = json.loads(line)
            cases.append(_case(raw, str(raw.get("id", f"line-{line_no}")), documents, strict))
        except (KeyError, ValueError, TypeError) as exc:
            raise QAError(f"{path}:{line_no}: not a valid case ({exc}); see eval/README.md") from exc
    return cases


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a JSON-lines file, with their line numbers (for the error messages)."""
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if line.strip():
                yield line_no, line


@dataclass(frozen=True)
class Conversation:
    """Turns asked one after another, each with the earlier turns and their answers as history."""

    id: str
    turns: list[Case]


def conversations_from_jsonl(path: Path, documents: dict[str, str]) -> list[Conversation]:
    """Conversations in the format of `eval/article_conversations.jsonl`."""
    conversations = []
    for line_no, line in _lines(path):
        try:
            raw = json.loads(line)
            cid = str(raw["id"])
            turns = [_case(t, f"{cid}.{i}", documents) for i, t in enumerate(raw["turns"], start=1)]
        except (KeyError, ValueError, TypeError) as exc:
            raise QAError(f"{path}:{line_no}: not a valid conversation ({exc}); see eval/README.md") from exc
        if len(turns) < 2:
            raise QAError(f"{path}:{line_no}: a conversation needs at least two turns")
        conversations.append(Conversation(cid, turns))
    return conversations


@dataclass(frozen=True)
class TurnResult:
    """One turn of a conversation as asked: what was searched and whether the answer was right."""

    id: str
    question: str
    query: str
    follow_up: bool
    answerable: bool
    declined: bool
    correct: bool
    answer: str


def ask_conversation(assistant: Assistant, conversation: Conversation) -> list[TurnResult]:
    """Ask each turn with the earlier questions and the assistant's own answers as history. A turn is
    correct when it holds its expected facts, or, for an unanswerable one, when it is declined."""
    history: list[tuple[str, str]] = []
    results = []
    for i, case in enumerate(conversation.turns):
        answer = assistant.ask(case.question, history=list(history))
        if case.answerable:
            correct = answer.answerable and holds_expected_facts(answer.text, case.must)
        else:
            correct = not answer.answerable
        results.append(
            TurnResult(
                case.id,
                case.question,
                answer.query,
                i > 0,
                case.answerable,
                not answer.answerable,
                correct,
                answer.text,
            )
        )
        log.info("%s %s: %s", case.id, "ok" if results[-1].correct else "WRONG", answer.query)
        history.append((case.question, answer.text))
    return results


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


def article_dataset(cases: Path = ARTICLE_CASES, name: str = "article") -> list[Dataset]:
    documents = _read_corpus_texts(ARTICLE_CORPUS)
    return [Dataset(name, documents, cases_from_jsonl(cases, documents))]


def _safe_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", title)


def xquad_dataset(path: Path = XQUAD_FILE) -> list[Dataset]:
    """Every XQuAD paragraph as its own document; every question answerable, its gold span the answer."""
    data = json.loads(path.read_text(encoding="utf-8"))
    documents: dict[str, str] = {}
    cases: list[Case] = []
    for article in data["data"]:
        title = _safe_name(article["title"])
        for i, paragraph in enumerate(article["paragraphs"]):
            source = f"{title}/{i:02d}.txt"
            documents[source] = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = qa["answers"]
                gold = [(source, a["answer_start"], a["answer_start"] + len(a["text"])) for a in answers]
                texts = list(dict.fromkeys(a["text"] for a in answers))
                cases.append(
                    Case(qa["id"], qa["question"], True, [texts], texts, gold, texts, article["title"])
                )
    return [Dataset("xquad", documents, cases)]


def left_out_paragraph(title: str, paragraphs: int) -> int:
    """The paragraph of an article that `xquad-noans` leaves out: fixed by its title's SHA-1."""
    return int(hashlib.sha1(title.encode("utf-8")).hexdigest(), 16) % paragraphs


def xquad_noans_dataset(path: Path = XQUAD_FILE) -> list[Dataset]:
    """One document per XQuAD article without one of its paragraphs, whose questions then have no
    answer in the corpus (a few are also answered elsewhere in the article, so 1.0 is out of reach)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    documents: dict[str, str] = {}
    cases: list[Case] = []
    for article in data["data"]:
        title = article["title"]
        source = f"{_safe_name(title)}.txt"
        skip = left_out_paragraph(title, len(article["paragraphs"]))
        kept = [p for i, p in enumerate(article["paragraphs"]) if i != skip]
        documents[source] = "\n\n".join(p["context"] for p in kept)
        offset = 0
        for i, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                texts = list(dict.fromkeys(a["text"] for a in qa["answers"]))
                if i == skip:
                    cases.append(Case(qa["id"], qa["question"], False, article=title))
                    continue
                gold = [
                    (source, offset + a["answer_start"], offset + a["answer_start"] + len(a["text"]))
                    for a in qa["answers"]
                ]
                cases.append(Case(qa["id"], qa["question"], True, [texts], texts, gold, texts, title))
            if i != skip:
                offset += len(paragraph["context"]) + 2
    return [Dataset("xquad-noans", documents, cases)]


def squad2_datasets(path: Path, titles: set[str] | None = None, name: str = "squad2") -> list[Dataset]:
    """Each article of a SQuAD 2.0 file as its own corpus: one document, paragraphs joined by a blank
    line. `titles` picks articles; None takes them all."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        articles = [a for a in data["data"] if titles is None or a["title"] in titles]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QAError(f"{path} is not a SQuAD 2.0 JSON file ({exc}); see eval/squad2/README.md") from exc
    parts = []
    for article in articles:
        title = article["title"]
        source = f"{_safe_name(title)}.txt"
        offset = 0
        texts: list[str] = []
        cases: list[Case] = []
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            texts.append(context)
            for qa in paragraph["qas"]:
                answers = qa.get("answers") or []
                if qa.get("is_impossible") or not answers:
                    cases.append(Case(qa["id"], qa["question"], False, article=title))
                    continue
                gold = [
                    (source, offset + a["answer_start"], offset + a["answer_start"] + len(a["text"]))
                    for a in answers
                ]
                alternatives = list(dict.fromkeys(a["text"] for a in answers))
                cases.append(
                    Case(
                        qa["id"],
                        qa["question"],
                        True,
                        [alternatives],
                        alternatives,
                        gold,
                        alternatives,
                        title,
                    )
                )
            offset += len(context) + 2
        parts.append(Dataset(f"{name}:{title}", {source: "\n\n".join(texts)}, cases))
    return parts


def squad2_left_out_datasets(path: Path, every: int = 4) -> list[Dataset]:
    """Each SQuAD 2.0 article without about one paragraph in `every` (chosen by SHA-1, like
    `xquad-noans`), asked the answerable questions of the paragraphs left out: the kind of
    unanswerable question users ask, about something their documents do not cover. A question whose
    gold answer still occurs in the kept text is dropped, since the kept text may well answer it."""
    parts = []
    for full in squad2_datasets(path, name="squad2-left-out"):
        (source, text), title = next(iter(full.documents.items())), full.cases[0].article
        paragraphs = text.split("\n\n")
        left_out = {
            i
            for i in range(len(paragraphs))
            if int(hashlib.sha1(f"{title}#{i}".encode()).hexdigest(), 16) % every == 0
        }
        kept = "\n\n".join(p for i, p in enumerate(paragraphs) if i not in left_out)
        starts, offset = [], 0
        for paragraph in paragraphs:
            starts.append(offset)
            offset += len(paragraph) + 2
        cases = [
            Case(f"{case.id}-left-out", case.question, False, article=title)
            for case in full.cases
            if case.answerable
            and case.gold
            and max(i for i, start in enumerate(starts) if start <= case.gold[0][1]) in left_out
            and not holds_gold_answer(kept, case.answers)
        ]
        parts.append(Dataset(full.name, {source: kept}, cases))
    return parts


# The shared SQuAD 2.0 articles that hold unanswerable questions (the other training articles hold none).
SQUAD2_WITH_UNANSWERABLE = {"The_Legend_of_Zelda:_Twilight_Princess", "Spectre_(2015_film)"}


def squad2_default() -> list[Dataset]:
    return squad2_datasets(SQUAD2_DEV) + squad2_datasets(SQUAD2_TRAIN, SQUAD2_WITH_UNANSWERABLE)


def file_dataset(path: Path, corpus_dir: Path) -> list[Dataset]:
    if path.suffix == ".json":
        return squad2_datasets(path, name=path.stem)
    documents = _read_corpus_texts(corpus_dir)
    if not documents:
        raise QAError(f"no readable documents in {corpus_dir} to judge {path} against; pass --corpus")
    return [Dataset(path.name, documents, cases_from_jsonl(path, documents))]


DATASETS = ("article", "article-paraphrased", "xquad", "xquad-noans", "squad2")


def load_dataset(name: str, corpus_dir: Path | None = None) -> list[Dataset]:
    """The named dataset (see DATASETS) or a FILE, as one or more corpora with their questions."""
    if name == "article":
        return article_dataset()
    if name == "article-paraphrased":
        return article_dataset(ARTICLE_PARAPHRASED, name)
    if name == "xquad":
        return xquad_dataset()
    if name == "xquad-noans":
        return xquad_noans_dataset()
    if name == "squad2":
        return squad2_default()
    path = Path(name)
    if not path.is_file():
        raise QAError(
            f"no dataset {name!r}: use {', '.join(DATASETS)}, or the path of a JSON-lines or SQuAD 2.0 file"
        )
    return file_dataset(path, corpus_dir or Path("corpus"))


# ---- running ---------------------------------------------------------------------------------


@contextmanager
def indexed(dataset: Dataset, answerer: str = QUOTING, **settings: Any) -> Iterator[tuple[Assistant, float]]:
    """An Assistant over the dataset's documents, indexed in a temporary folder (removed afterwards),
    and the seconds the build took. The user's own corpus and index are never touched."""
    from .assistant import Assistant

    with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
        corpus = Path(tmp) / "corpus"
        for source, text in dataset.documents.items():
            target = corpus / source
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        assistant = Assistant(corpus_dir=corpus, index_dir=Path(tmp) / "index", answerer=answerer, **settings)
        started = time.perf_counter()
        report = assistant.rebuild()
        if report.skipped:
            log.warning("eval: %d documents skipped", len(report.skipped))
        yield assistant, time.perf_counter() - started


@dataclass(frozen=True)
class Judged:
    """One question asked and judged. The retrieval and answer fields are None for an unanswerable one."""

    id: str
    answerable: bool  # whether the documents answer it (the gold label)
    declined: bool
    support: float
    seconds: float
    mode: str  # the answerer that wrote the answer
    words: int  # answer length, citation markers left out
    rank: int | None = None  # first retrieved passage overlapping a gold span
    source_rank: int | None = None  # first retrieved passage from a gold document
    facts: bool = False
    correct: bool = False
    citations: int = 0
    correct_citations: int = 0
    # SQuAD's exact match and F1 of `Answer.short`: None for questions without SQuAD gold answers;
    # an unanswerable question scores 1 only when declined, a declined answerable one 0.
    short_em: float | None = None
    short_f1: float | None = None


@dataclass(frozen=True)
class Figures:
    """What `qa eval` reports for one answerer on one dataset; shares are None when nothing was counted.
    `to_dict` is the JSON shape of `qa eval --json` and of `docs/results/eval-*.json`."""

    dataset: str
    answerer: str
    questions: int
    answerable: int
    unanswerable: int
    documents: int
    accuracy: float | None
    has_correct: float | None
    has_declined: float | None
    noans_declined: float | None
    hit_at_1: float | None
    hit_at_4: float | None
    hit_at_5: float | None
    mrr: float | None
    source_hit_at_1: float | None
    source_hit_at_5: float | None
    facts: float | None
    citation_precision: float | None
    citation_recall: float | None
    refusals: float | None
    wrong_refusals: int
    written_by: dict[str, int]
    median_answer_words: float | None
    median_seconds: float | None
    build_seconds: float
    short_exact_match: float | None = None
    short_f1: float | None = None

    def to_dict(self) -> JSONObject:
        return asdict(self)

    def figure(self, key: str) -> float | None:
        """A figure by its name in `FIGURE_LABELS`, for gates and tables."""
        value = getattr(self, key)
        return None if value is None else float(value)


def evaluate(
    datasets: Dataset | list[Dataset],
    answerer: str = QUOTING,
    limit: int | None = None,
    cross_validate: bool = True,
    **settings: Any,
) -> Figures:
    """Index each corpus in a temporary folder, ask every question, return the figures.

    With `cross_validate`, each question is decided by the support model fitted without its article,
    when the packaged model holds that fold."""
    parts = [datasets] if isinstance(datasets, Dataset) else datasets
    rows: list[Judged] = []
    build_seconds = 0.0
    remaining = limit
    for dataset in parts:
        cases = dataset.cases[:remaining] if remaining is not None else dataset.cases
        if not cases:
            break
        with indexed(dataset, answerer, **settings) as (assistant, seconds):
            build_seconds += seconds
            packaged = assistant.selector.model
            for case in cases:
                assistant.selector.model = packaged.fold(case.article) if cross_validate else packaged
                rows.append(judge(assistant, case))
        if remaining is not None:
            remaining -= len(cases)
    name = parts[0].name.split(":")[0] if parts else ""
    documents = sum(len(d.documents) for d in parts)
    return figures(name, documents, answerer, rows, build_seconds)


def judge(assistant: Assistant, case: Case) -> Judged:
    """Ask `case`'s question and judge the answer (and, for an answerable one, the retrieval)."""
    started = time.perf_counter()
    answer = assistant.ask(case.question)
    seconds = time.perf_counter() - started
    asked = Judged(
        id=case.id,
        answerable=case.answerable,
        declined=not answer.answerable,
        support=answer.support,
        seconds=seconds,
        mode=answer.mode,
        words=len(_MARKER.sub(" ", answer.text).split()),
    )
    if not case.answerable:
        declined = float(not answer.answerable)
        return replace(asked, short_em=declined, short_f1=declined)
    passages = assistant.search(case.question, k=SEARCH_DEPTH)
    ranks = [i for i, p in enumerate(passages, start=1) if overlaps(p, case.gold)]
    gold_sources = {s for s, _, _ in case.gold}
    source_ranks = [i for i, p in enumerate(passages, start=1) if p.source in gold_sources]
    facts = answer.answerable and holds_expected_facts(answer.text, case.must)
    correct = answer.answerable and holds_gold_answer(answer.text, case.answers) if case.answers else facts
    stated = answer.short.text if answer.answerable and answer.short else None
    short = short_scores(stated, case.answers) if case.answers else None
    return replace(
        asked,
        rank=ranks[0] if ranks else None,
        source_rank=source_ranks[0] if source_ranks else None,
        facts=facts,
        correct=correct,
        citations=len(answer.citations),
        correct_citations=sum(citation_is_correct(c, case.gold) for c in answer.citations),
        short_em=short[0] if short else None,
        short_f1=short[1] if short else None,
    )


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(name: str, documents: int, answerer: str, rows: list[Judged], build_seconds: float) -> Figures:
    """The dataset's figures from its judged questions."""
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    n = len(answerable)

    def hit(k: int, ranks: list[int | None]) -> float | None:
        return _share(sum(1 for rank in ranks if rank is not None and rank <= k), n)

    ranks = [r.rank for r in answerable]
    source_ranks = [r.source_rank for r in answerable]
    citations = sum(r.citations for r in answerable)
    right = sum(1 for r in answerable if r.correct) + sum(1 for r in unanswerable if r.declined)
    answered = [r for r in rows if not r.declined]
    modes = sorted({r.mode for r in rows})
    # SQuAD's protocol needs gold answers: only sets that have them (not the article's own sets).
    with_gold = any(r.answerable and r.short_em is not None for r in rows)
    scored = [r for r in rows if r.short_em is not None] if with_gold else []
    return Figures(
        dataset=name,
        answerer=answerer,
        questions=len(rows),
        answerable=n,
        unanswerable=len(unanswerable),
        documents=documents,
        accuracy=_share(right, len(rows)),
        has_correct=_share(sum(1 for r in answerable if r.correct), n),
        has_declined=_share(sum(1 for r in answerable if r.declined), n),
        noans_declined=_share(sum(1 for r in unanswerable if r.declined), len(unanswerable)),
        hit_at_1=hit(1, ranks),
        hit_at_4=hit(4, ranks),
        hit_at_5=hit(5, ranks),
        mrr=round(sum(1 / rank for rank in ranks if rank) / n, 4) if n else None,
        source_hit_at_1=hit(1, source_ranks),
        source_hit_at_5=hit(5, source_ranks),
        facts=_share(sum(1 for r in answerable if r.facts), n),
        citation_precision=_share(sum(r.correct_citations for r in answerable), citations),
        citation_recall=_share(sum(1 for r in answerable if r.correct_citations), n),
        refusals=_share(sum(1 for r in unanswerable if r.declined), len(unanswerable)),
        wrong_refusals=sum(1 for r in answerable if r.declined),
        written_by={m: sum(1 for r in rows if r.mode == m) for m in modes},
        median_answer_words=statistics.median(r.words for r in answered) if answered else None,
        median_seconds=round(statistics.median(r.seconds for r in rows), 3) if rows else None,
        build_seconds=round(build_seconds, 2),
        short_exact_match=_mean([r.short_em for r in scored]) if scored else None,
        short_f1=_mean([r.short_f1 for r in scored]) if scored else None,
    )


def _mean(values: list[float | None]) -> float:
    return round(statistics.fmean(v for v in values if v is not None), 4)


FIGURE_LABELS = {
    "accuracy": "correct or rightly declined",
    "has_correct": "answerable answered correctly",
    "has_declined": "answerable declined",
    "noans_declined": "unanswerable declined",
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
    "median_answer_words": "median answer length (words)",
    "median_seconds": "median seconds per answer",
    "build_seconds": "index build seconds",
    "short_exact_match": "short answer exact match (SQuAD)",
    "short_f1": "short answer F1 (SQuAD)",
}
