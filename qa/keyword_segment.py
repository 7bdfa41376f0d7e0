"""One segment of the keyword index (qa/keyword_index.py layers them): BM25 over chunk texts, with
the shared tokenizer, saved to disk and memory-mapped when opened.

A segment holds bm25s's own score matrix, plus what retrieval and answering need without the chunk
texts: each row's chunk id, source and offsets (rows sorted by source, then start), the terms'
document frequencies, and per document its acronyms and its title and subtitle. The texts stay in
Chroma and are fetched by id for the few passages a query returns.

Each entry's term frequency is kept too, so segments merge (`merged`) without reading any text back
or sorting again: the removed rows' entries are dropped and the new rows' inserted, and as BM25's
weights depend on every document's length, every weight is recomputed, in vectorised numpy, exactly
as bm25s computes it (bit for bit).
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from .chunking import Span, document_heads
from .models import Chunk
from .text import terms

log = logging.getLogger(__name__)
# numpy reads each .npy header with ast.literal_eval, and CPython 3.11's AST constructor keeps its
# recursion depth in state shared by threads (python/cpython#106905): two threads opening segments at
# once can fail with "SystemError: AST constructor recursion depth mismatch". The loads are memory
# maps, so holding one lock across them costs nothing.
_NPY_LOAD = threading.Lock()
# Two or more capitalised words, possibly joined by a small word: "Office of Personnel Management".
# A leading "The"/"A"/"An" is not part of the name.
_NAME_RUN = re.compile(r"\b(?!(?:The|An?)\b)[A-Z][a-z]+(?:\s+(?:(?:of|and|for|the|on|&)\s+)?[A-Z][a-z]+)+")
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import and logs every build

KEYWORD_FORMAT = 1  # bump when the saved layout changes: an older one is then rebuilt, never misread
K1, B = 1.5, 0.75  # bm25s's defaults (its "lucene" variant), which the index has always used
_ARRAYS = ("ids", "source", "start", "end", "page", "sorted_ids", "sorted_rows", "lengths", "tf", "df")
_META = "meta.json"
_EXTRAS = "extras.json"
_VERSIONS = "versions.json"
_BM25 = "bm25"

Heads = dict[str, tuple[Span | None, Span | None]]


class KeywordIndexUnusable(Exception):
    """A saved keyword index that cannot be used: missing, for another version, or damaged."""


def acronyms_of(text: str) -> set[str]:
    """Lower-cased initials of the multi-word names in a text ("opm" for "Office of Personnel Management")."""
    return {
        "".join(word[0] for word in run.split() if word[0].isupper()).lower()
        for run in _NAME_RUN.findall(text)
    }


class DocumentFrequency(Mapping[str, int]):
    """In how many chunks each term occurs (terms found nowhere are absent or 0)."""

    def __init__(self, vocab: Mapping[str, int], df: np.ndarray) -> None:
        self._vocab, self._df = vocab, df

    def __getitem__(self, term: str) -> int:
        i = self._vocab[term]
        return int(self._df[i]) if i < len(self._df) else 0

    def __iter__(self) -> Iterator[str]:
        return (t for t, i in self._vocab.items() if i < len(self._df) and self._df[i] > 0)

    def __len__(self) -> int:
        return int(np.count_nonzero(self._df))


class Segment:
    """BM25 scores for every chunk (one row each, sorted by source and start), the rows' ids and
    offsets, and document frequencies for weighting question terms."""

    def __init__(self, chunks: Sequence[Chunk] = ()) -> None:
        ordered = sorted(chunks, key=lambda c: (c.source, c.start))
        vocab: dict[str, int] = {}
        self._from_parts(
            vocab,
            _term_ids([c.text for c in ordered], vocab),
            ordered,
            {s: sorted(a) for s, a in _acronyms(ordered).items()},
            _heads(ordered),
        )

    # ---- building ---------------------------------------------------------------------------------

    @classmethod
    def from_term_ids(
        cls, chunks: Sequence[Chunk], vocab: dict[str, int], tokens: np.ndarray, offsets: np.ndarray
    ) -> Segment:
        """An index of chunks (sorted by source, start; texts unused) whose terms are already ids:
        chunk i's are tokens[offsets[i]:offsets[i+1]]. No acronyms or heads. For measuring large
        indexes without tokenising their texts."""
        index = cls.__new__(cls)
        index._from_parts(vocab, (tokens, offsets), chunks, {}, {})
        return index

    def _from_parts(
        self,
        vocab: dict[str, int],
        rows_terms: tuple[np.ndarray, np.ndarray],
        chunks: Sequence[Chunk],
        acronyms: dict[str, list[str]],
        heads: Heads,
    ) -> None:
        """Set every field from sorted rows (the chunks' texts are not kept)."""
        tokens, offsets = rows_terms
        lengths = np.diff(offsets).astype(np.int64)
        sources = sorted({c.source for c in chunks})
        number = {s: i for i, s in enumerate(sources)}
        self._set_rows(
            sources,
            _id_array([c.id for c in chunks]),
            np.array([number[c.source] for c in chunks], dtype=np.int32),
            np.array([c.start for c in chunks], dtype=np.int64),
            np.array([c.end for c in chunks], dtype=np.int64),
            np.array([-1 if c.page is None else c.page for c in chunks], dtype=np.int32),
        )
        indptr, rows, tf = _postings(tokens, lengths, max(len(vocab), 1))
        self._score(vocab, lengths, indptr, rows, tf)
        self._acronyms_by_source = acronyms
        self._heads_by_source = heads
        self._folder: Path | None = None

    def _set_rows(
        self,
        sources: list[str],
        ids: np.ndarray,
        source: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        page: np.ndarray,
        lookup: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Set the rows, and the id lookup: the ids sorted, and each one's row (sorted here unless given)."""
        self.sources = sources
        self.ids, self.source, self.start, self.end, self.page = ids, source, start, end, page
        self.size = len(ids)
        if lookup is None:
            rows = np.argsort(ids, kind="stable").astype(np.int64)
            lookup = (ids[rows], rows)
        self.sorted_ids: np.ndarray = lookup[0]
        self.sorted_rows: np.ndarray = lookup[1]

    def _score(
        self,
        vocab: dict[str, int],
        lengths: np.ndarray,
        indptr: np.ndarray,
        rows: np.ndarray,
        tf: np.ndarray,
        reference: Segment | None = None,
    ) -> None:
        """The BM25 matrix from term frequencies (term-major: term t's entries are rows[indptr[t]:
        indptr[t+1]], each occurring tf times there), computed exactly as bm25s's `index` does it. With
        a `reference` segment, document frequencies, the number of rows and the mean length are those
        of both segments together, so that this one's scores compare with the reference's."""
        self._vocab = vocab
        self.lengths, self.tf = lengths, tf
        n, width = self.size, len(indptr) - 1
        self.df = np.diff(indptr).astype(np.int32)
        df, total, mean_length = self.df, n, float(lengths.mean()) if n else 0.0
        if reference is not None:
            df = self.df + reference.frequencies_of(vocab, width)
            total = n + reference.size
            mean_length = (float(lengths.sum()) + float(np.asarray(reference.lengths).sum())) / max(total, 1)
        values, which = np.unique(df, return_inverse=True)  # math.log, as bm25s: bit-identical scores
        table = np.array([math.log(1 + (total - v + 0.5) / (v + 0.5)) if v else 0.0 for v in values.tolist()])
        idf = table[which].astype(np.float32) if len(values) else np.zeros(width, dtype=np.float32)
        if n:
            norm = K1 * ((1 - B) + B * lengths / mean_length)
            tf32 = tf.astype(np.float32)
            term = np.repeat(np.arange(width, dtype=np.int32), np.diff(indptr))
            data = (idf[term] * (tf32 / (norm[rows] + tf32))).astype(np.float32)
        else:
            data = np.zeros(0, dtype=np.float32)
        bm25 = bm25s.BM25(k1=K1, b=B)
        bm25.scores = {"data": data, "indices": rows.astype(np.int32), "indptr": indptr, "num_docs": n}
        bm25.vocab_dict = vocab
        bm25.unique_token_ids_set = set(vocab.values())
        bm25.nonoccurrence_array = None  # the lucene variant has none; `index` would set this
        self._bm25 = bm25

    def merged(self, removed: Collection[str], added: Segment, reference: Segment | None = None) -> Segment:
        """A new segment without the rows of the `removed` sources and with the rows of `added`, from
        the stored term frequencies of both (no text is read again); this one is left unchanged.
        Scored with the statistics of its own rows, or, given a `reference` (the base a delta segment
        is layered over), with those of both together."""
        gone = np.isin(self.source, [i for i, s in enumerate(self.sources) if s in set(removed)])
        keep = np.flatnonzero(~gone)
        vocab = dict(self._vocab)
        terms_of_added = sorted(added.vocab, key=added.vocab.__getitem__)
        remap = np.array([vocab.setdefault(t, len(vocab)) for t in terms_of_added], dtype=np.int64)
        added_sources = [added.sources[i] for i in np.unique(added.source).tolist()] if added.size else []
        sources = sorted(
            {self.sources[i] for i in np.unique(self.source[keep]).tolist()} | set(added_sources)
        )
        number = {s: i for i, s in enumerate(sources)}
        renumber = np.array([number.get(s, -1) for s in self.sources], dtype=np.int32)
        renumber_added = np.array([number.get(s, -1) for s in added.sources], dtype=np.int32)
        source = np.concatenate([renumber[self.source[keep]], renumber_added[added.source]]).astype(np.int32)
        start = np.concatenate([self.start[keep], added.start]).astype(np.int64)
        order = np.lexsort((start, source))
        ids = np.concatenate([self.ids[keep], added.ids])
        end = np.concatenate([self.end[keep], added.end]).astype(np.int64)
        page = np.concatenate([self.page[keep], added.page]).astype(np.int32)
        new_lengths = np.asarray(added.lengths, dtype=np.int64)
        lengths = np.concatenate([np.asarray(self.lengths)[keep], new_lengths])[order]
        acronyms = {s: a for s, a in self.acronyms_by_source.items() if s in number and s not in set(removed)}
        acronyms.update(added.acronyms_by_source)
        heads = {s: h for s, h in self.heads.items() if s in number and s not in set(removed)}
        heads.update(added.heads)
        # The kept rows' id lookup is still sorted: renumber it, merge the new ids in (no sort of every id).
        new_row = np.empty(len(order), dtype=np.int64)
        new_row[order] = np.arange(len(order))
        kept_at = np.full(self.size, -1, dtype=np.int64)
        kept_at[keep] = new_row[: len(keep)]
        kept_sorted = kept_at[self.sorted_rows]
        kept_sorted = kept_sorted[kept_sorted >= 0]
        added_ids = ids[len(keep) :]
        added_order = np.argsort(added_ids, kind="stable")
        kept_sorted_ids = ids[order][kept_sorted]
        at = np.searchsorted(kept_sorted_ids, added_ids[added_order])
        lookup = (
            np.insert(kept_sorted_ids, at, added_ids[added_order]),
            np.insert(kept_sorted, at, new_row[len(keep) :][added_order]),
        )
        patched = Segment.__new__(Segment)
        patched._set_rows(sources, ids[order], source[order], start[order], end[order], page[order], lookup)
        # The term frequencies: drop the removed rows' entries, renumber the rest, and append the new
        # rows' entries at the end of their terms' lists (the order within a list changes no score).
        matrix = self._bm25.scores
        old_rows = kept_at[np.asarray(matrix["indices"])]
        kept_entries = old_rows >= 0
        width = max(len(vocab), 1)
        running = np.zeros(len(kept_entries) + 1, dtype=np.int64)
        np.cumsum(kept_entries, out=running[1:])
        indptr = np.asarray(matrix["indptr"])
        kept_counts = np.zeros(width, dtype=np.int64)
        kept_counts[: len(indptr) - 1] = running[indptr[1:]] - running[indptr[:-1]]
        new_indptr, new_entry_rows, new_tf = added.postings(remap, width)
        new_entry_rows = new_row[len(keep) :][new_entry_rows]
        kept_indptr = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(kept_counts, out=kept_indptr[1:])
        at = np.repeat(kept_indptr[1:], np.diff(new_indptr))  # the end of each new entry's term list
        rows = np.insert(old_rows[kept_entries], at, new_entry_rows)
        kept_tf = np.asarray(self.tf)[kept_entries]
        tf = np.insert(kept_tf.astype(np.result_type(kept_tf, new_tf)), at, new_tf)
        patched._score(vocab, lengths, kept_indptr + new_indptr, rows, tf, reference)
        patched._acronyms_by_source, patched._heads_by_source, patched._folder = acronyms, heads, None
        return patched

    def frequencies_of(self, vocab: Mapping[str, int], width: int) -> np.ndarray:
        """This segment's document frequency of each term of another vocabulary (by that one's ids)."""
        found = np.zeros(width, dtype=np.int32)
        for term, i in vocab.items():
            j = self._vocab.get(term)
            if j is not None and j < len(self.df):
                found[i] = self.df[j]
        return found

    # ---- saving and loading ------------------------------------------------------------------------

    def patch(self, removed: Collection[str], added: Sequence[Chunk]) -> Segment:
        """`merged` with the `added` chunks, tokenised here."""
        return self.merged(removed, Segment(added))

    def postings(self, remap: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This segment's term frequencies, its term ids renamed by `remap` (into a vocabulary of
        `width` terms), term-major as `_postings` gives them: indptr, rows, tf."""
        indptr = np.asarray(self._bm25.scores["indptr"])
        term = remap[np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))]
        order = np.argsort(term, kind="stable")
        new_indptr = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(np.bincount(term, minlength=width), out=new_indptr[1:])
        rows = np.asarray(self._bm25.scores["indices"])[order].astype(np.int32)
        return new_indptr, rows, np.asarray(self.tf)[order]

    # ---- saving and loading ------------------------------------------------------------------------

    def save(self, folder: Path, key: str, versions: Mapping[str, str] | None = None) -> None:
        """Write the segment to `folder` for `key` all at once (`write_folder`). `versions` (source ->
        content hash of the documents it holds) lets a later version be patched from this one."""
        meta = {"format": KEYWORD_FORMAT, "key": key, "size": self.size, "sources": self.sources}

        def fill(tmp: Path) -> dict[str, Any]:
            self.write_files(tmp, versions)
            return meta

        write_folder(folder, fill)

    def write_files(self, folder: Path, versions: Mapping[str, str] | None) -> None:
        """The segment's files, into an existing folder (no meta.json)."""
        self._bm25.save(str(folder / _BM25), show_progress=False)
        for name in _ARRAYS:
            np.save(folder / f"{name}.npy", getattr(self, name), allow_pickle=False)
        extras = {
            "acronyms": self.acronyms_by_source,
            "heads": {s: [_span_json(t), _span_json(u)] for s, (t, u) in self.heads.items()},
        }
        (folder / _EXTRAS).write_text(json.dumps(extras), encoding="utf-8")
        (folder / _VERSIONS).write_text(json.dumps(dict(versions or {})), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, key: str | None) -> Segment:
        """The segment saved in `folder` for `key` (None: whatever it was saved for), memory-mapped;
        raises KeywordIndexUnusable when it is missing, was saved for another key or format, or any of
        its files is damaged or truncated."""
        meta = read_meta(folder, key, {KEYWORD_FORMAT})
        return cls.read_files(folder, int(meta["size"]), [str(s) for s in meta["sources"]])

    @classmethod
    def read_files(cls, folder: Path, size: int, sources: list[str]) -> Segment:
        """The segment whose files `write_files` put in `folder`, memory-mapped and checked."""
        try:
            with _NPY_LOAD:
                arrays = {name: _load_array(folder / f"{name}.npy") for name in _ARRAYS}
                try:
                    bm25 = bm25s.BM25.load(str(folder / _BM25), mmap=True, show_progress=False)
                except ValueError:  # numpy cannot memory-map an empty array: an index without terms
                    bm25 = bm25s.BM25.load(str(folder / _BM25), mmap=False, show_progress=False)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeywordIndexUnusable(f"{type(exc).__name__}: {exc}") from exc
        if not all(len(arrays[n]) == size for n in ("ids", "source", "start", "end", "page", "sorted_ids")):
            raise KeywordIndexUnusable("its row arrays disagree in length")
        if len(arrays["lengths"]) != size or bm25.scores["num_docs"] != size:
            raise KeywordIndexUnusable("its term frequencies or score matrix disagree with its rows")
        if (
            len(arrays["tf"]) != len(bm25.scores["indices"])
            or len(arrays["df"]) != len(bm25.scores["indptr"]) - 1
        ):
            raise KeywordIndexUnusable("its term frequencies disagree with its score matrix")
        segment = cls.__new__(cls)
        segment.sources = sources
        segment.size = size
        for name, array in arrays.items():
            setattr(segment, name, array)
        segment._vocab = bm25.vocab_dict
        segment._bm25 = bm25
        segment._folder = folder
        return segment

    @cached_property
    def _extras(self) -> dict[str, dict[str, list[object]]]:
        """Acronyms and heads per document: read from disk only when a question needs them."""
        if self._folder is None:
            return {"acronyms": {}, "heads": {}}
        extras: dict[str, dict[str, list[object]]] = json.loads(
            (self._folder / _EXTRAS).read_text(encoding="utf-8")
        )
        return extras

    def saved_versions(self) -> dict[str, str]:
        """Source -> content hash of the documents a saved index holds ({} when not saved with them)."""
        if self._folder is None:
            return {}
        try:
            saved = json.loads((self._folder / _VERSIONS).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeywordIndexUnusable(f"{type(exc).__name__}: {exc}") from exc
        return {str(s): str(h) for s, h in saved.items()}

    # ---- what retrieval and answering read -------------------------------------------------------------

    @property
    def vocab(self) -> Mapping[str, int]:
        return self._vocab

    @cached_property
    def document_frequency(self) -> DocumentFrequency:
        return DocumentFrequency(self._vocab, self.df)

    @cached_property
    def acronyms_by_source(self) -> dict[str, list[str]]:
        if hasattr(self, "_acronyms_by_source"):
            return self._acronyms_by_source
        return {str(s): [str(a) for a in found] for s, found in self._extras["acronyms"].items()}

    @cached_property
    def acronyms(self) -> set[str]:
        """Lower-cased initials of the multi-word names in the chunks ("opm" for "Office of Personnel
        Management"), so a question may use an acronym the documents only spell out."""
        return {a for found in self.acronyms_by_source.values() for a in found}

    @cached_property
    def heads(self) -> Heads:
        """Each document's title line and subtitle (qa.chunking.document_heads of its first chunk)."""
        if hasattr(self, "_heads_by_source"):
            return self._heads_by_source
        saved: dict[str, list[object]] = self._extras["heads"]
        return {s: (_span(t), _span(u)) for s, (t, u) in saved.items()}

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; a term found nowhere gets the highest weight."""
        df = self.document_frequency.get(term, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for the query (zeros when no query term is known)."""
        return self.scores_of(terms(query))

    def scores_of(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every row for these (tokenised) query terms."""
        known = [self._vocab[t] for t in query_terms if t in self._vocab]
        if not known or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def row(self, chunk_id: str) -> int | None:
        """The row of a chunk id (a binary search of the memory-mapped ids), or None when absent."""
        key = chunk_id.encode()
        at = int(np.searchsorted(self.sorted_ids, key))
        if at < self.size and self.sorted_ids[at] == key:
            return int(self.sorted_rows[at])
        return None

    def chunk_id(self, row: int) -> str:
        return bytes(self.ids[row]).decode()

    def source_of(self, row: int) -> str:
        return self.sources[int(self.source[row])]

    def rows_of(self, sources: Collection[str]) -> np.ndarray:
        """A mask of the rows of the named sources."""
        wanted = [i for i, s in enumerate(self.sources) if s in set(sources)]
        return np.isin(self.source, wanted)

    def chunk_ids_of(self, source: str) -> list[str]:
        """The chunk ids of the source's rows, found by bisection (its rows are consecutive)."""
        first = self.first_row(source)
        if first is None:
            return []
        return [self.chunk_id(row) for row in range(first, first + self.count_rows(source))]

    def count_rows(self, source: str) -> int:
        """How many rows hold the source (they are consecutive: rows are sorted by source)."""
        first = self.first_row(source)
        if first is None:
            return 0
        number = np.int32(bisect.bisect_left(self.sources, source))
        return int(np.searchsorted(self.source, number, side="right")) - first

    def first_row(self, source: str) -> int | None:
        """The row of the source's opening chunk (rows are sorted by source, then start)."""
        number = bisect.bisect_left(self.sources, source)  # sources are sorted
        if number == len(self.sources) or self.sources[number] != source:
            return None
        return int(np.searchsorted(self.source, np.int32(number)))


def _term_ids(texts: Sequence[str], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each text's terms as ids (new terms added to `vocab`), flat, with each text's offsets."""
    flat: list[int] = []
    offsets = [0]
    for text in texts:
        flat.extend(vocab.setdefault(t, len(vocab)) for t in terms(text))
        offsets.append(len(flat))
    return np.array(flat, dtype=np.int32), np.array(offsets, dtype=np.int64)


def _postings(
    tokens: np.ndarray, lengths: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Term-major term frequencies of rows whose terms (ids below `width`) lie one row after the
    other in `tokens`, row i holding lengths[i] of them: indptr (width + 1), rows, tf."""
    n = max(len(lengths), 1)
    doc = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    pairs, tf = np.unique(tokens.astype(np.int64) * n + doc, return_counts=True)
    term, rows = pairs // n, pairs % n
    indptr = np.zeros(width + 1, dtype=np.int64)
    np.cumsum(np.bincount(term, minlength=width), out=indptr[1:])
    counts = tf.astype(np.uint16) if tf.max(initial=0) <= np.iinfo(np.uint16).max else tf.astype(np.uint32)
    return indptr, rows.astype(np.int32), counts


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:  # numpy cannot memory-map an empty array; a damaged file fails again below
        return np.load(path, allow_pickle=False)


def _id_array(ids: Sequence[str | bytes]) -> np.ndarray:
    encoded = [i.encode() if isinstance(i, str) else i for i in ids]
    width = max((len(i) for i in encoded), default=1)
    return np.array(encoded, dtype=f"S{max(width, 1)}")


def _acronyms(chunks: Sequence[Chunk]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for chunk in chunks:
        found.setdefault(chunk.source, set()).update(acronyms_of(chunk.text))
    return found


def _heads(chunks: Sequence[Chunk]) -> Heads:
    """Heads of the documents whose opening chunks are among `chunks` (sorted by source, start)."""
    first: dict[str, Chunk] = {}
    for chunk in chunks:
        first.setdefault(chunk.source, chunk)
    return document_heads(list(first.values()))


def _span_json(span: Span | None) -> list[object] | None:
    return None if span is None else [span.start, span.end, span.text]


def _span(saved: object) -> Span | None:
    if not isinstance(saved, list):
        return None
    start, end, text = saved
    return Span(int(start), int(end), str(text))


def read_meta(folder: Path, key: str | None, formats: Collection[int]) -> dict[str, Any]:
    """A saved folder's meta.json, checked: one of these formats, saved for `key` (None: any), and
    every file it lists of the size it lists. Raises KeywordIndexUnusable otherwise."""
    folder = Path(folder)
    try:
        meta: dict[str, Any] = json.loads((folder / _META).read_text(encoding="utf-8"))
        if meta.get("format") not in formats or (key is not None and meta.get("key") != key):
            raise KeywordIndexUnusable(f"saved for {meta.get('key')!r} (format {meta.get('format')})")
        for name, size in meta["files"].items():
            if (folder / name).stat().st_size != size:
                raise KeywordIndexUnusable(f"{name} is {(folder / name).stat().st_size} bytes, not {size}")
    except KeywordIndexUnusable:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeywordIndexUnusable(f"{type(exc).__name__}: {exc}") from exc
    return meta


def write_folder(folder: Path, fill: Callable[[Path], dict[str, Any]]) -> None:
    """Write a saved folder all at once: `fill` writes the files into a temporary folder beside it and
    returns the meta, saved last with every file's size (its presence means complete); everything is
    synced, then renamed into place, so a reader sees the whole folder or none (one already there is
    replaced)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.mkdir()
        meta = fill(tmp)
        meta["files"] = {
            p.relative_to(tmp).as_posix(): p.stat().st_size for p in tmp.rglob("*") if p.is_file()
        }
        (tmp / _META).write_text(json.dumps(meta), encoding="utf-8")
        for path in tmp.rglob("*"):
            if path.is_file():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
        try:
            os.rename(tmp, folder)
        except OSError:  # one is there already (stale, or another reader's): put ours in its place
            aside = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.old")
            os.rename(folder, aside)
            os.rename(tmp, folder)
            shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
