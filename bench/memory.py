"""Peak memory (VmHWM) of the served web chat, per answerer, with its index and models loaded.

    .venv/bin/python -m bench.memory [--answerers extractive,local] [--repeat 2] [--question "..."]

Prints one JSON object on stdout; logs go to stderr.

For each answerer: start the real `qa --corpus corpus --index TMP serve --port FREE` process (a fresh
temporary index, so it builds it first and loads the embedding model; QA_ANSWERER set, every other
QA_* variable unset), wait until the page answers, read its /proc/PID/status (VmHWM, VmRSS and the
RssAnon / RssFile split) when ready, ask one question through the page's own API (gradio_client,
`/ask`, what the browser calls), read /proc/PID/status again, then stop it. A `local` answerer loads
its language model on that first question, so the second reading is the one with every model
loaded. RssFile is file-backed memory, mostly the memory-mapped GGUF model (llama.cpp maps it), which
the kernel can drop and re-read; RssAnon is the process's own. Children of the server (none are
expected) are listed with their RSS.

`local` is skipped, with the reason, when llama-cpp-python or the packaged model is not installed.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import free_port

log = logging.getLogger("bench.memory")

ROOT = Path(__file__).resolve().parent.parent
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


def ask(url: str, question: str) -> tuple[str, str]:
    """One question through the page's API, as the browser asks it; the answer text and status line."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    try:
        chat, status, _ = client.predict(question, [], api_name="/ask")
    finally:
        client.close()
    answer = chat[-1]["content"] if chat else ""
    if isinstance(answer, list):  # Gradio 6 message content may come as a list of parts
        answer = " ".join(str(p.get("text", p)) if isinstance(p, dict) else str(p) for p in answer)
    return html.unescape(str(answer)), html.unescape(str(status))  # the page escapes document text


def measure(answerer: str, question: str, root: Path) -> dict[str, Any]:
    index = root / f"index-{answerer}"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["QA_ANSWERER"] = answerer
    qa = Path(sys.executable).parent / "qa"
    command = [str(qa), "--corpus", str(CORPUS), "--index", str(index), "serve", "--port", str(port)]
    stderr_lines: list[str] = []
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
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
        answer, status = ask(url, question)
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
        [str(qa), "--index", str(index), "index", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    if done.returncode == 0:
        backend = json.loads(done.stdout).get("embedding_backend")
    return {
        "ready_seconds": round(ready_seconds, 1),
        "answer_seconds": round(answer_seconds, 1),
        "ready_mb": ready,
        "after_answer_mb": after,
        "children": kids,
        "embedding_backend": backend,
        "answer": answer[:300],
        "status_line": status,
    }


def run(answerers: list[str], repeat: int, question: str, root: Path) -> dict[str, Any]:
    load_start = os.getloadavg()
    started = time.perf_counter()
    results: dict[str, Any] = {}
    for answerer in answerers:
        if answerer == "local":
            ok, reason = local_available()
            if not ok:
                log.warning("skipping local: %s", reason)
                results[answerer] = {"skipped": reason}
                continue
        runs = [measure(answerer, question, root / f"run-{answerer}-{r}") for r in range(repeat)]
        peak = [r["after_answer_mb"]["VmHWM"] for r in runs]
        results[answerer] = {
            "peak_rss_mb": round(statistics.median(peak), 1),
            "ready_peak_rss_mb": round(statistics.median(r["ready_mb"]["VmHWM"] for r in runs), 1),
            "rss_anon_mb": round(
                statistics.median(r["after_answer_mb"].get("RssAnon", 0.0) for r in runs), 1
            ),
            "rss_file_mb": round(
                statistics.median(r["after_answer_mb"].get("RssFile", 0.0) for r in runs), 1
            ),
            "runs": runs,
        }
    return {
        "benchmark": "memory",
        "process": "qa serve (the web chat), fresh temporary index of corpus/",
        "question": question,
        "repeat": repeat,
        "unit": "MB (10^6 bytes) from /proc/PID/status",
        "cpu_count": os.cpu_count(),
        "load_average": {
            "start": [round(x, 2) for x in load_start],
            "end": [round(x, 2) for x in os.getloadavg()],
        },
        "total_seconds": round(time.perf_counter() - started, 1),
        "answerers": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answerers", default="extractive,local", help="Comma-separated QA_ANSWERER values.")
    parser.add_argument("--repeat", type=int, default=2, help="Server runs per answerer (medians).")
    parser.add_argument("--question", default=QUESTION, help="The question asked through the page.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    for noisy in ("httpx", "gradio_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="qa-bench-memory-") as tmp:
        result = run(args.answerers.split(","), args.repeat, args.question, Path(tmp))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
