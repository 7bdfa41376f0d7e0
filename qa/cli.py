"""The `qa` command line: a thin layer over `Assistant`.

`--json` prints exactly one JSON value on stdout; logs and progress go to stderr. Exit codes:
0 success, 1 a QAError (one line on stderr saying what to do), 2 a usage error, 3 an index build
that finished but skipped some files.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .answerers import QUOTING, choices
from .errors import QAError
from .models import OCR_NOTE, place

if TYPE_CHECKING:
    from .assistant import Assistant
    from .index import BuildReport
    from .models import Answer
    from .settings import Settings

EXIT_QA_ERROR = 1
EXIT_SKIPPED = 3

F = TypeVar("F", bound=Callable[..., Any])


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "chromadb", "sentence_transformers", "bm25s", "transformers", "pypdf"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _errors_to_exit(func: F) -> F:
    """Turn a QAError into one clean line on stderr and exit code 1: no traceback for users."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QAError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_QA_ERROR)

    return wrapper  # type: ignore[return-value]


def _emit(value: object) -> None:
    """Print one JSON value on stdout: a `qa.schemas` shape (the one the HTTP API also sends), a list of
    them, or plain dicts and lists."""
    from pydantic import BaseModel

    def plain(item: object) -> object:
        return item.model_dump(mode="json") if isinstance(item, BaseModel) else item

    value = [plain(item) for item in value] if isinstance(value, list) else plain(value)
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _assistant(ctx: click.Context, **overrides: Any) -> Assistant:
    from .assistant import Assistant

    options = {**ctx.obj, **{k: v for k, v in overrides.items() if v is not None}}
    return Assistant(**options)


def _set_collection(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_root().ensure_object(dict)["collection"] = value


def collection_option(func: F) -> F:
    """`--collection NAME`, accepted before the subcommand and after it (QA_COLLECTION)."""
    return click.option(
        "--collection",
        metavar="NAME",
        expose_value=False,
        is_eager=True,
        callback=_set_collection,
        help="The collection to use (QA_COLLECTION; default: the default collection).",
    )(func)


class ProgressBar:
    """Build progress on stderr: files read (pages recognised, when a file needs OCR), then chunks
    embedded, with a rate. Redrawn in place on
    a terminal; on a pipe or log, one line per stage and at most one line every few seconds.

    Not tqdm or rich (docs/results/libraries.json): in a log, tqdm leaves carriage returns, rich only the end.
    """

    WIDTH = 24
    LOG_EVERY = 5.0  # seconds between lines when stderr is not a terminal

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.started: dict[str, float] = {}
        self.last_line = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        began = self.started.setdefault(stage, now)
        unit = {"read": "files", "ocr": "pages"}.get(stage, "chunks")
        rate = done / (now - began) if now > began else 0.0
        filled = int(self.WIDTH * done / total) if total else self.WIDTH
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = f"{stage:>5} [{bar}] {done}/{total} {unit}" + (f" ({rate:.0f} {unit}/s)" if rate else "")
        if self.tty:
            click.echo(f"\r{line}", err=True, nl=done >= total)
        elif done >= total or done == 1 or now - self.last_line >= self.LOG_EVERY:
            self.last_line = now
            click.echo(line, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--corpus", "corpus_dir", type=click.Path(path_type=Path), help="Corpus folder (QA_CORPUS_DIR)."
)
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index folder (QA_INDEX_DIR).")
@click.option(
    "--answerer",
    type=click.Choice(choices()),
    help="Who writes answers (QA_ANSWERER).",
)
@collection_option
@click.option("-v", "--verbose", is_flag=True, help="Log what happens, to stderr.")
@click.pass_context
def main(
    ctx: click.Context, corpus_dir: Path | None, index_dir: Path | None, answerer: str | None, verbose: bool
) -> None:
    """Ask questions about your documents; every answer cites the exact passages it rests on."""
    _setup_logging(verbose)
    ctx.ensure_object(dict).update(
        {
            k: v
            for k, v in {"corpus_dir": corpus_dir, "index_dir": index_dir, "answerer": answerer}.items()
            if v
        }
    )


@main.group()
def index() -> None:
    """Build and inspect the index."""


def _report_build(report: BuildReport, as_json: bool) -> None:
    if as_json:
        from .schemas import BuildReportJSON

        _emit(BuildReportJSON.of(report))
    else:
        click.echo(
            f"{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
            f"{len(report.unchanged)} unchanged; {report.chunks} chunks ({report.embedded} embedded) "
            f"in {report.seconds:.1f}s",
            err=True,
        )
    for item in report.skipped:
        click.echo(f"skipped {item.source}: {item.reason}", err=True)
    if report.skipped:
        sys.exit(EXIT_SKIPPED)


@index.command("build")
@click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path), help="Corpus folder.")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index folder.")
@click.option("--full", is_flag=True, help="Re-embed every document, not only new or changed ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@collection_option
@click.pass_context
@_errors_to_exit
def index_build(
    ctx: click.Context, corpus_dir: Path | None, index_dir: Path | None, full: bool, as_json: bool
) -> None:
    """Index the corpus folder (only new or changed documents unless --full)."""
    assistant = _assistant(ctx, corpus_dir=corpus_dir, index_dir=index_dir)
    _report_build(assistant.rebuild(full=full, progress=ProgressBar()), as_json)


@index.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@collection_option
@click.pass_context
@_errors_to_exit
def index_add(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Copy files into the corpus folder and index them."""
    _report_build(_assistant(ctx).add(list(paths), progress=ProgressBar()), as_json)


@index.command("remove")
@click.argument("sources", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@collection_option
@click.pass_context
@_errors_to_exit
def index_remove(ctx: click.Context, sources: tuple[str, ...], as_json: bool) -> None:
    """Remove documents (by source name) from the corpus folder and the index."""
    _report_build(_assistant(ctx).remove(list(sources)), as_json)


@index.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@collection_option
@click.pass_context
@_errors_to_exit
def index_status(ctx: click.Context, as_json: bool) -> None:
    """What is indexed: documents, chunks, embedding model, build time."""
    assistant = _assistant(ctx)
    status = assistant.status()
    documents = assistant.documents()
    if as_json:
        from .schemas import StatusJSON

        _emit(StatusJSON.of(status, documents))
        return
    if not status.built_at:
        click.echo(f"no index in {status.index_dir}; build it with `qa index build`")
        return
    click.echo(
        f"{status.documents} documents, {status.chunks} chunks; {status.embedding_model} "
        f"({status.embedding_backend}); built {status.built_at}"
    )
    for doc in documents:
        click.echo(f"  {doc.source}  {doc.chunks} chunks  {doc.bytes} bytes  added {doc.added}")


@main.command()
@click.argument("query")
@click.option("-k", default=5, show_default=True, type=click.IntRange(1, 100), help="How many passages.")
@click.option("--source", "sources", multiple=True, help="Only search this document (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the passages as JSON.")
@collection_option
@click.pass_context
@_errors_to_exit
def search(ctx: click.Context, query: str, k: int, sources: tuple[str, ...], as_json: bool) -> None:
    """The passages that best match QUERY."""
    passages = _assistant(ctx).search(query, k=k, sources=list(sources) or None)
    if as_json:
        from .schemas import PassageJSON

        _emit([PassageJSON.of(p) for p in passages])
        return
    for i, p in enumerate(passages, start=1):
        click.echo(f"[{i}] {p.source} {p.start}-{p.end} (score {p.score:.2f})")
        click.echo(f"    {p.text.strip()}\n")


def _print_answer(answer: Answer) -> None:
    click.echo(answer.text)
    click.echo(f"({answer.support_note()})")
    if answer.citations:
        click.echo("")
        for c in answer.citations:
            part = place(c.page, c.section)
            where = f"{c.source}" + (f", {part}" if part else "") + f", chars {c.start}-{c.end}"
            where += f" ({OCR_NOTE})" if c.ocr else ""
            click.echo(f"[{c.n}] {where}\n    “{c.text}”")
    elif answer.nearest:
        click.echo("\nClosest passages (they do not answer the question):")
        for p in answer.nearest:
            snippet = " ".join(p.text.split())
            click.echo(f"  - {p.source}, chars {p.start}-{p.end}: {snippet[:160]}…")


@main.command()
@click.argument("question")
@click.option("--source", "sources", multiple=True, help="Only answer from this document (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@collection_option
@click.pass_context
@_errors_to_exit
def ask(ctx: click.Context, question: str, sources: tuple[str, ...], as_json: bool) -> None:
    """Answer QUESTION from the documents, with citations, or say the documents don't say."""
    answer = _assistant(ctx).ask(question, sources=list(sources) or None)
    if as_json:
        from .schemas import AnswerJSON

        _emit(AnswerJSON.of(answer))
    else:
        _print_answer(answer)


@main.command()
@collection_option
@click.pass_context
@_errors_to_exit
def chat(ctx: click.Context) -> None:
    """A conversation in the terminal; follow-up questions understand what came before."""
    assistant = _assistant(ctx)
    history: list[tuple[str, str]] = []
    click.echo("Ask about the documents (empty line or Ctrl-D to leave).", err=True)
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            break
        if not question:
            break
        try:
            answer = assistant.ask(question, history=history)
        except QAError as exc:
            click.echo(f"error: {exc}", err=True)
            continue
        if answer.query != question:
            click.echo(f"(searched for: {answer.query})")
        _print_answer(answer)
        history.append((question, answer.text))


@main.group()
def collections() -> None:
    """Named, separate document sets, each with its own corpus folder and index."""


def _settings(ctx: click.Context) -> Settings:
    """The QA_* settings with the command line's folders: where the collections are."""
    from .settings import Settings, get_settings

    options = {k: v for k, v in ctx.obj.items() if k in Settings.model_fields}
    return get_settings().model_copy(update=options)


@collections.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the collections as JSON.")
@click.pass_context
@_errors_to_exit
def collections_list(ctx: click.Context, as_json: bool) -> None:
    """Every collection, the default one first, with its corpus and index folders."""
    from .collections import collection_names

    settings = _settings(ctx)
    rows = []
    for name in collection_names(settings):
        corpus_dir, index_dir = settings.model_copy(update={"collection": name}).collection_dirs()
        rows.append({"name": name, "corpus_dir": str(corpus_dir), "index_dir": str(index_dir)})
    if as_json:
        _emit(rows)
        return
    for row in rows:
        click.echo(f"{row['name']}  (corpus {row['corpus_dir']}, index {row['index_dir']})")


@collections.command("create")
@click.argument("name")
@click.pass_context
@_errors_to_exit
def collections_create(ctx: click.Context, name: str) -> None:
    """Create an empty collection NAME; add documents with `qa --collection NAME index add FILE`."""
    from .collections import create_collection

    home = create_collection(_settings(ctx), name)
    click.echo(
        f"created collection {name} in {home}; add documents with `qa --collection {name} index add FILE`",
        err=True,
    )


@collections.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@_errors_to_exit
def collections_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete collection NAME with its documents and index (refused while it is being written)."""
    from .collections import delete_collection
    from .settings import collection_name

    collection_name(name)  # a bad name is refused before anything is asked
    if not yes:
        click.confirm(f"delete collection {name} and every document in it?", abort=True, err=True)
    delete_collection(_settings(ctx), name)
    click.echo(f"deleted collection {name}", err=True)


@main.command("mcp")
@click.option("--http", "over_http", is_flag=True, help="Serve streamable HTTP at /mcp instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface for --http.")
@click.option(
    "--port", default=7861, show_default=True, type=click.IntRange(1, 65535), help="Port for --http."
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    default=None,
    help="Allow a non-loopback --host without QA_API_KEY: anyone who reaches it can read the documents "
    "(QA_API_INSECURE_NO_AUTH).",
)
@collection_option
@click.pass_context
@_errors_to_exit
def mcp_command(
    ctx: click.Context, over_http: bool, host: str, port: int, insecure_no_auth: bool | None
) -> None:
    """An MCP server with the tools search, ask and list_documents (stdio unless --http)."""
    from .collections import Collections
    from .mcp_server import check_exposure, serve_http, serve_stdio

    assistant = _assistant(ctx, api_insecure_no_auth=insecure_no_auth)
    settings = assistant.settings
    if over_http:  # refuse an unsafe host before any slow work
        check_exposure(host, settings.api_key, settings.api_insecure_no_auth)
    report = assistant.rebuild()  # as `qa serve`: bring the index up to date before the first question
    for item in report.skipped:
        click.echo(f"skipped {item.source}: {item.reason}", err=True)
    collections = Collections(assistant=assistant)
    if over_http:
        serve_http(collections, host, port, settings.api_key, settings.api_insecure_no_auth)
    else:
        serve_stdio(collections)


GATES = {  # option -> (figure, at least (True) or at most (False))
    "min_hit_at_4": ("hit_at_4", True),
    "min_facts": ("facts", True),
    "min_citation_precision": ("citation_precision", True),
    "min_refusals": ("refusals", True),
    "max_wrong_refusals": ("wrong_refusals", False),
    "min_accuracy": ("accuracy", True),
    "max_has_declined": ("has_declined", False),
    "min_short_f1": ("short_f1", True),
}


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


@main.command("eval")
@click.option(
    "--dataset",
    default="article",
    show_default=True,
    help="article, article-paraphrased, xquad, xquad-noans, squad2, or a JSON-lines or SQuAD 2.0 FILE.",
)
@click.option(
    "--answerer",
    "answerers",
    multiple=True,
    type=click.Choice(choices(auto=False)),
    help=f"Answerer to measure (repeatable; default {QUOTING}).",
)
@click.option("--limit", type=click.IntRange(1), help="Only the first N questions.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--min-hit-at-4", type=float, help="Fail (exit 1) when retrieval hit@4 is lower.")
@click.option(
    "--min-facts", type=float, help="Fail when the share of answers holding the expected facts is lower."
)
@click.option("--min-citation-precision", type=float, help="Fail when citation precision is lower.")
@click.option(
    "--min-refusals", type=float, help="Fail when the share of unanswerable questions declined is lower."
)
@click.option("--max-wrong-refusals", type=int, help="Fail when more answerable questions are declined.")
@click.option("--min-accuracy", type=float, help="Fail when the share correct or rightly declined is lower.")
@click.option(
    "--max-has-declined", type=float, help="Fail when the share of answerable questions declined is higher."
)
@click.option("--min-short-f1", type=float, help="Fail when the short answers' F1 (SQuAD) is lower.")
@click.option(
    "--no-cross-validate",
    "cross_validate",
    flag_value=False,
    default=True,
    help="Use the packaged support model for every article, even one it was fitted on.",
)
@click.pass_context
@_errors_to_exit
def eval_command(
    ctx: click.Context,
    dataset: str,
    answerers: tuple[str, ...],
    limit: int | None,
    as_json: bool,
    cross_validate: bool,
    **gates: float | None,
) -> None:
    """Measure retrieval, answers, citations and refusals on a question set (in a temporary index).

    Each article is decided by the support model fitted without it, so the figures are held out."""
    from .evaluation import FIGURE_LABELS, evaluate, load_dataset

    data = load_dataset(dataset, ctx.obj.get("corpus_dir"))
    results = [
        evaluate(data, answerer, limit=limit, cross_validate=cross_validate)
        for answerer in answerers or (QUOTING,)
    ]
    if as_json:
        _emit(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])
    else:
        first = results[0]
        click.echo(f"{first.dataset}: {first.questions} questions over {first.documents} documents")
        header = f"{'':36}" + "".join(f"{r.answerer:>12}" for r in results)
        click.echo(header)
        for key, label in FIGURE_LABELS.items():
            cells = "".join(f"{_cell(r.figure(key)):>12}" for r in results)
            click.echo(f"{label:36}{cells}")
    failures = []
    for option, limit_value in gates.items():
        if limit_value is None:
            continue
        key, at_least = GATES[option]
        for r in results:
            value = r.figure(key)
            if value is None or (value < limit_value if at_least else value > limit_value):
                flag = "--" + option.replace("_", "-")
                failures.append(f"{r.answerer} {FIGURE_LABELS[key]} {_cell(value)} ({flag} {limit_value})")
    if failures:
        raise QAError("quality gate failed: " + "; ".join(failures))


@main.command()
@click.option("--host", default=None, help="Interface to bind (QA_HOST, default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (QA_PORT, default 7860).")
@click.option(
    "--insecure-no-login",
    is_flag=True,
    default=None,
    help="Allow a non-loopback --host without QA_UI_AUTH, and the HTTP API there without QA_API_KEY: anyone "
    "who reaches it can read and change the documents (QA_UI_INSECURE_NO_LOGIN).",
)
@collection_option
@click.pass_context
@_errors_to_exit
def serve(ctx: click.Context, host: str | None, port: int | None, insecure_no_login: bool | None) -> None:
    """Open the web chat, with the HTTP API (/api/v1) and an OpenAI-compatible endpoint (/v1) on the same
    port (building or updating the index first)."""
    from .ui.app import launch, launch_options

    assistant = _assistant(ctx, ui_insecure_no_login=insecure_no_login)
    host = host or assistant.settings.host
    port = port or assistant.settings.port
    launch_options(assistant.settings, host, port)  # refuse an unsafe host before any slow work
    report = assistant.rebuild()
    for item in report.skipped:
        click.echo(f"skipped {item.source}: {item.reason}", err=True)
    assistant.chat_model()  # join and verify the local model now, not during the first question
    base = f"http://{host}:{port}"
    click.echo(f"web chat on {base} ({assistant.answerer} answers; Ctrl-C to stop)", err=True)
    click.echo(
        f"HTTP API on {base}/api/v1 (docs: {base}/api/v1/docs), OpenAI-compatible on {base}/v1", err=True
    )
    launch(assistant, host=host, port=port)


if __name__ == "__main__":  # pragma: no cover
    main()
