"""Peak memory (VmHWM) of the served web chat, per answerer, with its index and models loaded.

    python -m bench.memory [--answerers extractive,local] [--repeat 2] [--question "..."] [--out FILE]

Prints one JSON object on stdout (and writes it to `--out`); logs go to stderr.

For each answerer: start the real `python -m qa.cli --corpus corpus --index TMP serve --port FREE`
process (a fresh temporary index, so it builds it first and loads the embedding model; QA_ANSWERER
set, every other QA_* variable unset), wait until the page answers, read its /proc/PID/status
(VmHWM, VmRSS and the RssAnon / RssFile split) when ready, ask one question through the page's own
API (gradio_client, `/ask`, what the browser calls), read /proc/PID/status again, then stop it. A
`local` answerer loads its language model on that first question, so the second reading is the one
with every model loaded. RssFile is file-backed memory, mostly the memory-mapped GGUF model
(llama.cpp maps it), which the kernel can drop and re-read; RssAnon is the process's own. Children
of the server (none are expected) are listed with their RSS.

Which answerer wrote the answer is read from the page's own JSON export (`mode`, as `qa ask --json`
gives it), not guessed from the text: a language model may quote its passage word for word, and
an answerer that fails falls back to the extractive answer with a warning in the server's log. A run
whose `mode` is not the answerer asked for is recorded, and the benchmark then exits 1 without
writing `--out`, so a fallback is never published as the local model's figure.

`local` is skipped, with the reason, when llama-cpp-python or the packaged model is not installed.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, free_port, median, start_run
from qa.answerers.local import LocalModel

LOCAL = LocalModel.name

log = logging.getLogger("bench.memory")

CORPUS = ROOT / "corpus"
QUESTION = "Where did the second round of the cybercrime dialogue take place?"
READY_TIMEOUT = 600.0
ANSWER_TIMEOUT = 900.0
FIELDS = ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem")


def status_mb(pid: int) -> dict[str, float]:
    """The memory lines of /proc/PID/status, in MB (10^6 bytes)."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in FIELDS:
            out[key] = round(int(value.split()[0]) * 1024 / 1e6, 1)  # the kernel reports kB (KiB)
    return out


def children(pid: int) -> list[dict[str, Any]]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            ids = (task / "children").read_text().split()
        except OSError:
            continue
        for child in ids:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
                found.append({"pid": int(child), "cmdline": cmdline, **status_mb(int(child))})
            except OSError:
                continue
    return found


def local_available() -> tuple[bool, str]:
    try:
        from qa.llm import local_runtime_installed
    except ImportError as exc:
        return False, f"qa.llm not importable ({exc})"
    if not local_runtime_installed():
        return False, "llama-cpp-python or the packaged model parts are not installed"
    return True, ""


def wait_ready(url: str, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qa serve exited with {process.returncode} before it served the page")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"qa serve did not serve {url} within {timeout:.0f}s")


def ask(url: str, question: str) -> tuple[str, dict[str, Any]]:
    """One question through the page's API, as the browser asks it: the answer as the chat shows it,
    and the answer as the page exports it (`qa ask --json`'s shape, `mode` included)."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    try:
        outputs = client.predict(question, [], api_name="/ask")
    finally:
        client.close()
    chat = outputs[0]
    shown = chat[-1]["content"] if chat else ""
    if isinstance(shown, list):  # Gradio 6 message content comes as a list of parts
        shown = " ".join(str(p.get("text", p)) if isinstance(p, dict) else str(p) for p in shown)
    exported = _exported_json(outputs)
    with urllib.request.urlopen(exported, timeout=30) as response:
        turns = json.load(response)["turns"]
    return html.unescape(str(shown)), turns[-1]  # the chat escapes document text


def _exported_json(outputs: Any) -> str:
    """The URL of the conversation's JSON export among the page's outputs."""
    for output in outputs:
        value = output.get("value") if isinstance(output, dict) else None
        if isinstance(value, dict) and str(value.get("orig_name", "")).endswith(".json") and value.get("url"):
            return str(value["url"])
    raise RuntimeError("the page returned no JSON export of the conversation; has /ask changed?")


def measure(answerer: str, question: str, root: Path) -> dict[str, Any]:
    index = root / f"index-{answerer}"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["QA_ANSWERER"] = answerer
    qa = [sys.executable, "-m", "qa.cli"]  # the checkout's qa (cwd), not whatever `qa` is on PATH
    command = [*qa, "--corpus", str(CORPUS), "--index", str(index), "serve", "--port", str(port)]
    stderr_lines: list[str] = []
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def drain() -> None:
        if process.stderr is None:
            return
        for line in process.stderr:
            stderr_lines.append(line.rstrip())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        wait_ready(url, process, READY_TIMEOUT)
        ready_seconds = time.perf_counter() - started
        ready = status_mb(process.pid)
        log.info("%s: ready in %.1fs, VmHWM %.0f MB", answerer, ready_seconds, ready["VmHWM"])
        asked = time.perf_counter()
        shown, exported = ask(url, question)
        answer_seconds = time.perf_counter() - asked
        after = status_mb(process.pid)
        kids = children(process.pid)
        log.info("%s: answered in %.1fs, VmHWM %.0f MB", answerer, answer_seconds, after["VmHWM"])
    except Exception:
        log.error("%s: qa serve stderr:\n%s", answerer, "\n".join(stderr_lines[-40:]))
        raise
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C, as a person stops it
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        reader.join(timeout=5)

    backend = None
    done = subprocess.run(
        [*qa, "--index", str(index), "index", "status", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    if done.returncode == 0:
        backend = json.loads(done.stdout).get("embedding_backend")
    failures = [line for line in stderr_lines if "answerer failed" in line]
    return {
        "ready_seconds": round(ready_seconds, 1),
        "answer_seconds": round(answer_seconds, 1),
        "ready_mb": ready,
        "after_answer_mb": after,
        "children": kids,
        "embedding_backend": backend,
        "mode": exported.get("mode"),
        "answerable": exported.get("answerable"),
        "citations": len(exported.get("citations") or []),
        "answer": exported.get("answer"),
        "answer_as_shown": shown,
        "answerer_failures_logged": failures,
    }


def run(answerers: list[str], repeat: int, question: str, root: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for answerer in answerers:
        if answerer == LOCAL:
            ok, reason = local_available()
            if not ok:
                log.warning("skipping local: %s", reason)
                results[answerer] = {"skipped": reason}
                continue
        runs = [measure(answerer, question, root / f"run-{answerer}-{r}") for r in range(repeat)]
        results[answerer] = {
            "peak_rss_mb": median((r["after_answer_mb"]["VmHWM"] for r in runs), 1),
            "ready_peak_rss_mb": median((r["ready_mb"]["VmHWM"] for r in runs), 1),
            "rss_anon_mb": median((r["after_answer_mb"].get("RssAnon", 0.0) for r in runs), 1),
            "rss_file_mb": median((r["after_answer_mb"].get("RssFile", 0.0) for r in runs), 1),
            "answer_seconds": median((r["answer_seconds"] for r in runs), 1),
            "modes": sorted({str(r["mode"]) for r in runs}),
            "runs": runs,
        }
    return {
        "benchmark": "memory",
        "process": "qa serve (the web chat), fresh temporary index of corpus/",
        "question": question,
        "repeat": repeat,
        "unit": "MB (10^6 bytes) from /proc/PID/status",
        "answerers": results,
    }


def wrong_writers(result: dict[str, Any]) -> list[str]:
    """Runs whose answer was not written by the answerer that was asked for."""
    return [
        f"{name} run {i + 1}: written by {r['mode']!r}"
        for name, figures in result["answerers"].items()
        for i, r in enumerate(figures.get("runs", []))
        if r["mode"] != name
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answerers", default="extractive,local", help="Comma-separated QA_ANSWERER values.")
    parser.add_argument("--repeat", type=int, default=2, help="Server runs per answerer (medians).")
    parser.add_argument("--question", default=QUESTION, help="The question asked through the page.")
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    for noisy in ("httpx", "gradio_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    begun = start_run()
    with tempfile.TemporaryDirectory(prefix="qa-bench-memory-") as tmp:
        result = run(args.answerers.split(","), args.repeat, args.question, Path(tmp))
    wrong = wrong_writers(result)
    if wrong:
        result["wrong_writers"] = wrong
        emit(result, begun)  # on stdout only: a fallback must not become a published figure
        log.error(
            "answers not written by the answerer asked for (%s); %s not written", "; ".join(wrong), args.out
        )
        sys.exit(1)
    emit(result, begun, args.out)


if __name__ == "__main__":
    main()
