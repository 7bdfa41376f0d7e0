"""An incremental build killed with SIGKILL between its manifest record writes, as a real process: the
index still answers from one consistent version, and the next `qa index build` cleans up after it.

The update adds one document, replaces one and removes one, so it writes three records (two entries
and a tombstone) and then the header. The killed process is an ordinary build whose store is a real
subclass of `EmbeddedStore` that sends itself SIGKILL at a named step: there is no progress line to
watch for here (test_crash_safety.py kills on one while embedding), and record writes take
milliseconds, so only a kill from inside lands between two of them every time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ARTICLE_SOURCE, QUOKKAS, WOMBATS, manifest_chunk_total, read_document, stored_chunk_count

from qa import Assistant
from qa.models import DocumentInfo

pytestmark = pytest.mark.integration

BEIJING_QUESTION = "Where did the second round of the cybercrime dialogue take place?"
OTTERS = (
    "Sea otters\n\nSea otters hold hands while they sleep so that they do not drift apart on the water.\n"
)
WOMBATS_EDITED = WOMBATS + "Wombats can run at forty kilometres an hour over short distances.\n"

# A build whose store kills the process at STEP: between the first and second record it writes,
# after every record but before the header (the commit point), or just after the header.
KILLED_BUILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from qa import Assistant
    from qa.store import EmbeddedStore

    corpus, index, step = sys.argv[1:4]

    def die():
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    class KilledAtStep(EmbeddedStore):
        def write_records(self, generation, records):
            for i, record in enumerate(records):  # one at a time, so the kill falls between two
                if step == "between-records" and i == 1:
                    die()
                super().write_records(generation, [record])

        def write_header(self, generation, header):
            if step == "before-header":
                die()
            super().write_header(generation, header)
            if step == "after-header":
                die()

    assistant = Assistant(corpus_dir=corpus, index_dir=index, answerer="extractive")
    assistant.store.storage = KilledAtStep(Path(index))
    assistant.rebuild()
    print("the build was not killed", file=sys.stderr)
    """
)


def qa_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QA_")}


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        env=qa_env(),
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Indexed:
    corpus_dir: Path
    index_dir: Path
    documents: list[DocumentInfo]
    version: int

    def copy_to(self, root: Path) -> Indexed:
        shutil.copytree(self.corpus_dir, root / "corpus")
        shutil.copytree(self.index_dir, root / "index", ignore=shutil.ignore_patterns(".lock"))
        return Indexed(root / "corpus", root / "index", self.documents, self.version)

    def assistant(self) -> Assistant:
        return Assistant(corpus_dir=self.corpus_dir, index_dir=self.index_dir, answerer="extractive")


@pytest.fixture(scope="module")
def before(article_index, tmp_path_factory) -> Indexed:
    """The article, quokkas and wombats, indexed."""
    root = tmp_path_factory.mktemp("records-before")
    shutil.copytree(article_index.corpus_dir, root / "corpus")
    shutil.copytree(article_index.index_dir, root / "index", ignore=shutil.ignore_patterns(".lock"))
    (root / "corpus" / "quokkas.txt").write_text(QUOKKAS, encoding="utf-8")
    (root / "corpus" / "wombats.md").write_text(WOMBATS, encoding="utf-8")
    assistant = Assistant(corpus_dir=root / "corpus", index_dir=root / "index", answerer="extractive")
    assert sorted(assistant.rebuild().added) == ["quokkas.txt", "wombats.md"]
    return Indexed(root / "corpus", root / "index", assistant.documents(), assistant.status().version)


def kill_update_at(folders: Indexed, step: str) -> None:
    """Add otters, edit wombats, remove quokkas, and run a build that is killed at `step`."""
    (folders.corpus_dir / "otters.txt").write_text(OTTERS, encoding="utf-8")
    (folders.corpus_dir / "wombats.md").write_text(WOMBATS_EDITED, encoding="utf-8")
    (folders.corpus_dir / "quokkas.txt").unlink()
    done = run("-c", KILLED_BUILD, str(folders.corpus_dir), str(folders.index_dir), step)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


def sources_found(assistant: Assistant, query: str) -> list[str]:
    return [p.source for p in assistant.search(query, k=5)]


def assert_answers_beijing(assistant: Assistant, corpus_dir: Path) -> None:
    answer = assistant.ask(BEIJING_QUESTION)
    assert answer.answerable and "Beijing" in answer.text, answer.text
    article = read_document(corpus_dir / ARTICLE_SOURCE)
    assert all(article[c.start : c.end] == c.text for c in answer.citations)


def assert_records_clean(assistant: Assistant) -> None:
    """Nothing a finished build would leave: records only between the checkpoint and the committed
    version, one per source at most; only the named checkpoint; no stray chunk."""
    manifest = assistant.store.manifest()
    assert manifest is not None and not manifest.dirty
    generation = assistant.store.current_generation()
    assert generation is not None
    records = assistant.store.storage.read_records(generation)
    assert all(manifest.checkpoint < r.version <= manifest.version for r in records)
    assert max(Counter(r.source for r in records).values(), default=1) == 1
    assert assistant.store.storage.stale_checkpoints(generation, manifest.checkpoint) == []
    assert stored_chunk_count(assistant) == manifest_chunk_total(assistant)


@pytest.mark.parametrize("step", ["between-records", "before-header"])
def test_a_build_killed_before_its_header_leaves_the_previous_version_answering_and_the_next_build_cleans_up(
    before, tmp_path, step
):
    folders = before.copy_to(tmp_path)
    kill_update_at(folders, step)

    assistant = folders.assistant()
    assert assistant.documents() == before.documents  # quokkas still listed, otters not yet
    assert assistant.status().version == before.version
    assert_answers_beijing(assistant, folders.corpus_dir)
    assert sources_found(assistant, "quokkas appear to smile")[0] == "quokkas.txt"
    assert "otters.txt" not in sources_found(assistant, "otters hold hands while they sleep")
    assert all("forty kilometres" not in p.text for p in assistant.search("how fast can a wombat run", k=5))
    generation = assistant.store.current_generation()
    assert generation and any(  # what the killed build wrote, invisible above the committed version
        r.version > before.version for r in assistant.store.storage.read_records(generation)
    )

    done = run("-m", "qa.cli", "--corpus", str(folders.corpus_dir), "--index", str(folders.index_dir),
               "index", "build", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["added"], report["updated"], report["removed"]) == (
        ["otters.txt"],
        ["wombats.md"],
        ["quokkas.txt"],
    )

    assistant = folders.assistant()
    assert sorted(d.source for d in assistant.documents()) == [ARTICLE_SOURCE, "otters.txt", "wombats.md"]
    assert_records_clean(assistant)
    assert sources_found(assistant, "otters hold hands while they sleep")[0] == "otters.txt"
    assert "quokkas.txt" not in sources_found(assistant, "quokkas appear to smile")
    assert_answers_beijing(assistant, folders.corpus_dir)


def test_a_build_killed_just_after_its_header_is_committed_and_the_next_build_finishes_the_clean_up(
    before, tmp_path
):
    folders = before.copy_to(tmp_path)
    kill_update_at(folders, "after-header")

    assistant = folders.assistant()
    assert sorted(d.source for d in assistant.documents()) == [ARTICLE_SOURCE, "otters.txt", "wombats.md"]
    assert assistant.status().version == before.version + 1
    assert sources_found(assistant, "otters hold hands while they sleep")[0] == "otters.txt"
    assert "quokkas.txt" not in sources_found(assistant, "quokkas appear to smile")
    wombat = assistant.search("how fast can a wombat run", k=5)
    assert any(p.source == "wombats.md" and "forty kilometres" in p.text for p in wombat)
    assert_answers_beijing(assistant, folders.corpus_dir)
    assert stored_chunk_count(assistant) > manifest_chunk_total(assistant)  # the old versions' chunks

    done = run("-m", "qa.cli", "--corpus", str(folders.corpus_dir), "--index", str(folders.index_dir),
               "index", "build", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["embedded"] == 0 and not (report["added"] or report["updated"] or report["removed"])
    assert_records_clean(folders.assistant())
