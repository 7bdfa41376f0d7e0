"""WordNet's antonym pairs -> `qa/antonyms.json`, the word list behind the `antonym_swap` veto.

    apt-get install wordnet-base            # Princeton WordNet 3.0's database files
    .venv/bin/python -m bench.antonyms [--wordnet /usr/share/wordnet] [--out qa/antonyms.json]

WordNet marks direct antonyms ("large" / "small", "increase" / "decrease", "qualitative" /
"quantitative") between word senses of nouns, verbs, adjectives and adverbs. Every pair of two single
nouns, adjectives or adverbs is kept, in both directions; pairs that are opposites only as verbs are
not, since a verb's opposite depends on its sense ("take" / "give", "make" / "break": "how much did
the film make" is not about breaking). WordNet's irregular forms of those words ("best" -> "good",
"worse" -> "bad") are kept too, so that `qa.opposites` can look inflected words up, and every
irregular verb form ("held" -> "hold"), so that a question's "hold" is known to a document that says
"held". Nothing is picked by hand. The licence WordNet asks to travel with its data is
`qa/WORDNET-LICENSE.txt`.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path

from bench.common import ROOT

log = logging.getLogger("bench.antonyms")
PARTS = ("noun", "verb", "adj", "adv")
OPPOSED = ("noun", "adj", "adv")  # the parts of speech whose antonyms are kept


def _synsets(path: Path) -> dict[str, list[str]]:
    """Synset offset -> its words, lower case, as WordNet lists them (sense markers dropped)."""
    found: dict[str, list[str]] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):  # the licence header
            continue
        fields = line.split(" | ", 1)[0].split()
        count = int(fields[3], 16)
        found[fields[0]] = [fields[4 + 2 * i].lower().split("(", 1)[0] for i in range(count)]
    return found


def antonym_pairs(wordnet: Path) -> dict[str, set[str]]:
    """Each single word with a direct antonym in WordNet -> its antonyms."""
    pairs: dict[str, set[str]] = defaultdict(set)
    for part in OPPOSED:
        path = wordnet / f"data.{part}"
        synsets = _synsets(path)
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):
                continue
            fields = line.split(" | ", 1)[0].split()
            at = 4 + 2 * int(fields[3], 16)
            for i in range(int(fields[at])):
                symbol, target, _, source_target = fields[at + 1 + 4 * i : at + 5 + 4 * i]
                if symbol != "!" or target not in synsets:
                    continue
                a = synsets[fields[0]][int(source_target[:2], 16) - 1]
                b = synsets[target][int(source_target[2:], 16) - 1]
                if a.isalpha() and b.isalpha() and a != b:
                    pairs[a].add(b)
                    pairs[b].add(a)
    return pairs


def irregular_forms(wordnet: Path, lemmas: set[str]) -> dict[str, set[str]]:
    """WordNet's exception lists ("best" -> "good", "fewer" -> "few"), for the lemmas that have antonyms."""
    forms: dict[str, set[str]] = defaultdict(set)
    for part in PARTS:
        for line in (wordnet / f"{part}.exc").read_text(encoding="latin-1").splitlines():
            inflected, *bases = line.split()
            for base in bases:
                if base in lemmas and inflected.isalpha() and inflected != base:
                    forms[inflected].add(base)
    return forms


def verb_forms(wordnet: Path) -> dict[str, set[str]]:
    """Every irregular verb form WordNet lists ("held" -> "hold", "met" -> "meet"), for telling
    whether a document mentions a question's verb in some form (`qa.answering.known_word`)."""
    forms: dict[str, set[str]] = defaultdict(set)
    for line in (wordnet / "verb.exc").read_text(encoding="latin-1").splitlines():
        inflected, *bases = line.split()
        for base in bases:
            if inflected.isalpha() and base.isalpha() and inflected != base:
                forms[inflected].add(base)
    return forms


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--out", type=Path, default=ROOT / "qa" / "antonyms.json")
    args = parser.parse_args()
    pairs = antonym_pairs(args.wordnet)
    forms = irregular_forms(args.wordnet, set(pairs))
    verbs = verb_forms(args.wordnet)
    data = {
        "about": "Direct antonyms and irregular verb forms of Princeton WordNet 3.0 (WORDNET-LICENSE.txt): "
        "python -m bench.antonyms",
        "antonyms": {word: sorted(pairs[word]) for word in sorted(pairs)},
        "irregular": {form: sorted(forms[form]) for form in sorted(forms)},
        "verbs": {form: sorted(verbs[form]) for form in sorted(verbs)},
    }
    args.out.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=True) + "\n")
    log.info(
        "%d words with antonyms, %d irregular forms, %d irregular verb forms -> %s",
        len(pairs), len(forms), len(verbs), args.out,
    )  # fmt: skip


if __name__ == "__main__":
    main()
