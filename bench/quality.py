"""The quality figures of the README's "Measured" table: `qa eval` on every bundled question set, each
result saved with the stamp every benchmark carries (date, commit, machine, load).

    python -m bench.quality [--datasets article,article-paraphrased,xquad,xquad-noans,squad2]
                            [--results docs/results]

`make eval` runs this. For each dataset it runs `python -m qa.cli eval --dataset NAME --json` (with
`--answerer extractive --answerer local` on the article's two question sets, the extractive answerer
alone on the large ones) in a fresh process and writes `eval-NAME.json`: the stamp under `run`, the
command under `run.command`, and `qa eval`'s figures, one object per answerer, under `figures`. A
dataset whose `qa eval` fails is reported and its previous file left in place. Prints the files
written as one JSON object on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, Run, emit, quiet_logging
from qa.answerers import QUOTING
from qa.answerers.local import LocalModel

LOCAL = LocalModel.name

log = logging.getLogger("bench.quality")

ANSWERERS = {
    "article": (QUOTING, LOCAL),
    "article-paraphrased": (QUOTING, LOCAL),
    "xquad": (QUOTING,),
    "xquad-noans": (QUOTING,),
    "squad2": (QUOTING,),
}


def evaluate(dataset: str, answerers: tuple[str, ...], results: Path) -> Path:
    args = ["eval", "--dataset", dataset, *(a for name in answerers for a in ("--answerer", name)), "--json"]
    run = Run(command=shlex.join(["python", "-m", "qa.cli", *args]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{run.command} exited {done.returncode}: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout)
    figures = figures if isinstance(figures, list) else [figures]
    for figure in figures:
        log.info(
            "%s, %s: accuracy %s, written by %s", dataset, figure["answerer"], figure["accuracy"],
            figure["written_by"],
        )  # fmt: skip
    out = results / f"eval-{dataset}.json"
    emit({"benchmark": "quality", "dataset": dataset, "figures": figures}, run, out, echo=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(ANSWERERS), help="Comma-separated dataset names.")
    parser.add_argument("--results", type=Path, default=RESULTS, help="Folder the eval-*.json files go to.")
    args = parser.parse_args()
    quiet_logging()
    written: dict[str, Any] = {}
    failed = []
    for dataset in args.datasets.split(","):
        try:
            written[dataset] = str(evaluate(dataset, ANSWERERS.get(dataset, (QUOTING,)), args.results))
        except RuntimeError as exc:
            log.error("%s", exc)
            failed.append(dataset)
    print(json.dumps({"written": written, "failed": failed}, indent=2))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
