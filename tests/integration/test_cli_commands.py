"""The `qa` command line through click's CliRunner, and once as the real installed executable.

click 8.2+ keeps stderr apart from stdout in `result.stderr`/`result.stdout` (`result.output` mixes
them), which is what lets these tests check that `--json` prints one JSON value and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ANSWER_KEYS, ARTICLE_SOURCE, read_document

from qa.cli import main
from qa.settings import get_settings

pytestmark = pytest.mark.integration

BEIJING_QUESTION = "Where did the second round of the cybercrime dialogue take place?"


def qa(*args: object, env: dict[str, str] | None = None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash, not a clean exit: show its traceback
    return result


def on(built) -> list[str]:
    return ["--corpus", str(built.corpus_dir), "--index", str(built.index_dir)]


def assert_clean_error(result, fragment: str) -> None:
    """Exit code 1, one `error: ...` line on stderr that says what happened, nothing on stdout."""
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_index_build_then_status_json_reports_the_documents_chunks_and_model(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "corpus" / ARTICLE_SOURCE, corpus)
    build = qa("--corpus", corpus, "--index", tmp_path / "index", "index", "build")
    assert build.exit_code == 0, build.output
    assert "1 added" in build.stderr and build.stdout == ""
    status = qa("--corpus", corpus, "--index", tmp_path / "index", "index", "status", "--json")
    assert status.exit_code == 0
    value = json.loads(status.stdout)
    assert value["documents"] == 1 and value["chunks"] > 5
    assert value["embedding_model"] == "all-MiniLM-L6-v2"
    assert value["built_at"]
    assert [s["source"] for s in value["sources"]] == [ARTICLE_SOURCE]


def test_index_build_options_after_the_subcommand_work_too_and_json_prints_the_report(private_article_index):
    result = qa(
        "index",
        "build",
        "--corpus",
        private_article_index.corpus_dir,
        "--index",
        private_article_index.index_dir,
        "--json",
    )
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["embedded"] == 0 and report["unchanged"] == 1 and report["skipped"] == []
    assert report["generation"] == private_article_index.generation


def test_index_status_in_text_lists_each_document(article_index):
    result = qa(*on(article_index), "index", "status")
    assert result.exit_code == 0
    assert "1 documents" in result.stdout and ARTICLE_SOURCE in result.stdout


def test_search_json_prints_k_passages_with_their_offsets(article_index, article_text):
    result = qa(*on(article_index), "search", "cybercrime dialogue in Beijing", "--json", "-k", "3")
    assert result.exit_code == 0, result.output
    passages = json.loads(result.stdout)
    assert len(passages) == 3
    for p in passages:
        assert set(p) == {"source", "start", "end", "text", "score", "page", "section", "ocr"}
        assert article_text[p["start"] : p["end"]] == p["text"]


def test_ask_json_prints_the_answer_with_exact_citations(article_index, article_text):
    result = qa(*on(article_index), "ask", BEIJING_QUESTION, "--json")
    assert result.exit_code == 0, result.output
    value = json.loads(result.stdout)
    assert set(value) == set(ANSWER_KEYS)
    assert value["answerable"] is True and "Beijing" in value["answer"]
    assert 0.5 <= value["support"] <= 1.0  # a close, direct match: more likely right than not
    assert value["query"] == BEIJING_QUESTION and value["mode"] == "extractive"
    assert value["citations"] and value["nearest"] == []
    for c in value["citations"]:
        assert set(c) == {"n", "source", "start", "end", "text", "page", "section", "ocr"}
        assert c["source"] == ARTICLE_SOURCE and c["page"] is None
        assert article_text[c["start"] : c["end"]] == c["text"]


def test_ask_json_for_an_unanswerable_question_offers_the_nearest_passages(article_index):
    result = qa(*on(article_index), "ask", "What is the population of Beijing?", "--json")
    value = json.loads(result.stdout)
    assert value["answerable"] is False and value["citations"] == []
    assert value["nearest"] and {"source", "start", "end", "text", "score", "page"} <= set(
        value["nearest"][0]
    )


def test_ask_in_text_prints_the_answer_and_where_each_citation_is(article_index):
    result = qa(*on(article_index), "ask", BEIJING_QUESTION)
    assert result.exit_code == 0
    assert "Beijing" in result.stdout
    assert f"[1] {ARTICLE_SOURCE}, chars 362-666" in result.stdout


def test_an_empty_question_exits_1_with_one_error_line_and_no_traceback(article_index):
    assert_clean_error(qa(*on(article_index), "ask", ""), "the question is empty")
    assert_clean_error(qa(*on(article_index), "search", "   "), "the question is empty")


def test_a_missing_corpus_exits_1_with_one_error_line_and_no_traceback(tmp_path):
    result = qa("--corpus", tmp_path / "nowhere", "--index", tmp_path / "index", "ask", BEIJING_QUESTION)
    assert_clean_error(result, "does not exist")


def test_a_mismatched_index_exits_1_and_says_to_rebuild_it_in_full(article_index):
    get_settings.cache_clear()  # the CLI reads QA_* once per process; here the process is pytest's
    try:
        result = qa(*on(article_index), "ask", BEIJING_QUESTION, env={"QA_CHUNK_SIZE": "500"})
    finally:
        get_settings.cache_clear()
    assert_clean_error(result, "qa index build --full")


def test_a_build_that_skipped_a_file_exits_3_and_names_it_with_its_reason(private_article_index):
    (private_article_index.corpus_dir / "empty.txt").write_text("", encoding="utf-8")
    (private_article_index.corpus_dir / "slides.key").write_bytes(b"PK\x03\x04")
    result = qa(*on(private_article_index), "index", "build")
    assert result.exit_code == 3
    assert "skipped empty.txt: is empty" in result.stderr
    assert "skipped slides.key: unsupported file type .key" in result.stderr
    status = json.loads(qa(*on(private_article_index), "index", "status", "--json").stdout)
    assert [s["source"] for s in status["sources"]] == [ARTICLE_SOURCE]


@pytest.mark.parametrize(
    "args",
    [
        ["search"],
        ["search", "Beijing", "-k", "0"],
        ["ask"],
        ["no-such-command"],
        ["--answerer", "gpt", "ask", "q"],
    ],
    ids=["missing query", "k out of range", "missing question", "unknown command", "unknown answerer"],
)
def test_a_usage_error_exits_2(args, tmp_path):
    result = qa("--corpus", tmp_path, "--index", tmp_path / "index", *args)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr and result.stdout == ""


def test_index_add_and_remove_change_the_corpus_and_the_index(private_article_index, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe quokka is a small marsupial from Rottnest Island.\n", encoding="utf-8")
    added = qa(*on(private_article_index), "index", "add", note, "--json")
    assert added.exit_code == 0 and json.loads(added.stdout)["added"] == ["note.md"]
    removed = qa(*on(private_article_index), "index", "remove", "note.md", "--json")
    assert removed.exit_code == 0 and json.loads(removed.stdout)["removed"] == ["note.md"]
    assert not (private_article_index.corpus_dir / "note.md").exists()
    unknown = qa(*on(private_article_index), "index", "remove", "ghost.txt")
    assert_clean_error(unknown, "no document named 'ghost.txt'")


def test_the_installed_qa_executable_prints_one_json_value_on_stdout_and_logs_on_stderr(
    article_index, tmp_path
):
    executable = Path(sys.executable).with_name("qa")
    if not executable.exists():
        executable = Path(shutil.which("qa") or "qa")
    corpus = tmp_path / "corpus"
    shutil.copytree(article_index.corpus_dir, corpus)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    # A fresh index folder: the first `ask` builds the index and says so on stderr.
    done = subprocess.run(
        [
            str(executable),
            "--corpus",
            str(corpus),
            "--index",
            str(tmp_path / "index"),
            "ask",
            BEIJING_QUESTION,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)  # the whole of stdout is exactly one JSON value
    assert isinstance(value, dict) and value["answerable"] is True and "Beijing" in value["answer"]
    text = read_document(corpus / ARTICLE_SOURCE)
    assert value["citations"]
    for c in value["citations"]:
        assert c["source"] == ARTICLE_SOURCE
        assert text[c["start"] : c["end"]] == c["text"]
        assert f"[{c['n']}]" in value["answer"]
    assert any("Beijing" in c["text"] for c in value["citations"])
    assert "building it" in done.stderr  # the first-use note went to stderr, not stdout
    assert (tmp_path / "index" / "CURRENT").exists()


def test_chat_answers_a_follow_up_with_the_question_it_actually_searched(article_index):
    conversation = "What did the Senior Experts Group discuss?\nWhen did they first meet?\n\n"
    result = CliRunner().invoke(main, [*on(article_index), "chat"], input=conversation)
    assert result.exit_code == 0, result.output
    assert "international norms" in result.stdout
    assert "(searched for: When did the Senior Experts Group first meet?)" in result.stdout
    assert result.stdout.count("[1] " + ARTICLE_SOURCE) == 2


def test_eval_prints_one_json_object_with_every_figure_for_the_article_set():
    result = CliRunner().invoke(main, ["eval", "--dataset", "article", "--json"])
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["dataset"] == "article" and figures["answerer"] == "extractive"
    assert figures["questions"] == 22 and figures["answerable"] == 12
    for key in ("hit_at_1", "hit_at_4", "mrr", "facts", "citation_precision", "citation_recall", "refusals"):
        assert 0.0 <= figures[key] <= 1.0, key
    assert figures["written_by"] == {"extractive": 22}
    assert figures["short_exact_match"] is None and figures["short_f1"] is None  # no SQuAD gold answers


def test_eval_on_a_squad_file_scores_the_short_answer_by_squad_exact_match_and_f1(tmp_path):
    context = (
        "The second round of the dialogue was held on June 14 in Beijing. "
        "Quokkas live on Rottnest Island, off the coast of Western Australia."
    )
    whole = "Rottnest Island, off the coast of Western Australia"
    qas = [
        {
            "id": "q1",
            "question": "When was the second round of the dialogue held?",
            "is_impossible": False,
            "answers": [{"text": "June 14", "answer_start": context.index("June 14")}],
        },
        {
            "id": "q2",
            "question": "Where do quokkas live?",
            "is_impossible": False,
            "answers": [  # like SQuAD's, more than one right span
                {"text": "Rottnest Island", "answer_start": context.index("Rottnest Island")},
                {"text": whole, "answer_start": context.index(whole)},
            ],
        },
        {"id": "q3", "question": "What is the capital of Peru?", "is_impossible": True, "answers": []},
    ]
    squad = {
        "version": "v2.0",
        "data": [{"title": "Notes", "paragraphs": [{"context": context, "qas": qas}]}],
    }
    path = tmp_path / "notes.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "--dataset", str(path), "--no-cross-validate", "--json"])
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["questions"] == 3
    # June 14 and Rottnest Island stated first score 1 each; Peru scores 1 only if declined.
    assert figures["short_exact_match"] == round((2 + figures["noans_declined"]) / 3, 4)
    assert figures["short_f1"] >= figures["short_exact_match"]


def test_eval_exits_1_naming_the_figure_when_a_quality_gate_fails():
    result = CliRunner().invoke(main, ["eval", "--limit", "4", "--min-citation-precision", "1.01"])
    assert result.exit_code == 1
    assert "quality gate failed" in result.stderr and "citation precision" in result.stderr
    assert "Traceback" not in result.stderr


def test_eval_refuses_a_dataset_that_does_not_exist_with_what_to_use_instead():
    result = CliRunner().invoke(main, ["eval", "--dataset", "no-such-set"])
    assert result.exit_code == 1
    assert "use article, article-paraphrased, xquad, xquad-noans, squad2, or the path of" in result.stderr


def test_serve_refuses_a_non_loopback_host_without_a_login_and_says_how(article_index):
    result = qa(*on(article_index), "serve", "--host", "0.0.0.0", "--port", "1", env={"QA_UI_AUTH": ""})
    assert_clean_error(result, "set QA_UI_AUTH=user:password")
    assert "--insecure-no-login" in result.stderr
