"""Follow-up questions on the article's conversation set: how many are answered correctly when each
turn is asked with the earlier questions and the assistant's own answers as history.

    python -m bench.conversations [--answerer extractive] [--out FILE]

Prints one JSON object on stdout (and writes it to `--out`); logs go to stderr. Figures: the share of
follow-up turns answered correctly (holding their expected facts, or declined when the article does
not say), the number of conversations whose every follow-up is correct, and each turn with the
standalone question that was searched, so a wrong rewrite can be seen.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from bench.common import ROOT, emit, quiet_logging, start_run
from qa.answerers import QUOTING, choices
from qa.evaluation import article_dataset, ask_conversation, conversations_from_jsonl, indexed

log = logging.getLogger("bench.conversations")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answerer", default=QUOTING, choices=choices(auto=False))
    parser.add_argument(
        "--file",
        type=Path,
        default=ROOT / "eval" / "article_conversations.jsonl",
        help="The conversation set.",
    )
    parser.add_argument("--limit", type=int, help="Only the first N conversations (the local model is slow).")
    parser.add_argument("--out", type=Path, help="Also write the JSON to this file.")
    args = parser.parse_args()
    quiet_logging()
    logging.getLogger("qa.evaluation").setLevel(logging.INFO)  # each turn as it is judged
    begun = start_run()
    dataset = article_dataset()[0]
    conversations = conversations_from_jsonl(args.file, dataset.documents)[: args.limit]
    turns = []
    with indexed(dataset, args.answerer) as (assistant, _):
        for conversation in conversations:
            asked = ask_conversation(assistant, conversation)
            log.info("%s: %s", conversation.id, " ".join("ok" if t.correct else "WRONG" for t in asked))
            turns.append(asked)
    follow_ups = [t for asked in turns for t in asked if t.follow_up]
    whole = sum(1 for asked in turns if all(t.correct for t in asked if t.follow_up))
    result = {
        "answerer": args.answerer,
        "conversations": len(conversations),
        "follow_ups": len(follow_ups),
        "follow_ups_correct": sum(t.correct for t in follow_ups),
        "follow_up_share": round(sum(t.correct for t in follow_ups) / len(follow_ups), 4),
        "conversations_all_follow_ups_correct": whole,
        "first_turns_correct": sum(asked[0].correct for asked in turns),
        "turns": [
            {
                "id": t.id,
                "question": t.question,
                "query": t.query,
                "answerable": t.answerable,
                "declined": t.declined,
                "correct": t.correct,
                "answer": t.answer,
            }
            for asked in turns
            for t in asked
        ],
    }
    emit(result, begun, args.out)


if __name__ == "__main__":
    main()
