"""The keyword half of hybrid retrieval: BM25 over every committed chunk, as one or two segments
(qa/keyword_segment.py) kept on disk beside each committed manifest version (qa/store.py says where).

A change of a few documents must cost the change, not the corpus. Re-weighting every row of a million
took 90 s, so a large index is layered, as search engines do: the `base` segment stays as it was saved,
the rows of removed or replaced documents are masked (`dead`), and the new rows go to a small `delta`
segment scored with the statistics of both. Saving a layered version writes only the delta and the list
of dead documents; the base folder is shared. Once the delta and the dead rows together pass
`LAYER_SHARE` of the base, the next change merges everything into a new base (bit for bit what a
rebuild from the texts gives), so the drift of the base's weights stays bounded.

Rows are numbered base first, then delta; a dead row keeps its number but scores 0 and is in no mask.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import Span
from .keyword_segment import (
    _VERSIONS,
    KEYWORD_FORMAT,
    DocumentFrequency,
    Heads,
    KeywordIndexUnusable,
    Segment,
    acronyms_of,
    read_meta,
    write_folder,
)
from .models import Chunk
from .text import terms

__all__ = ["KeywordIndex", "KeywordIndexUnusable", "Positions", "acronyms_of"]

log = logging.getLogger(__name__)

LAYERED_FORMAT = 2  # a version folder holding a delta over a base folder beside it
_DELTA = "delta"


class KeywordIndex:
    """BM25 scores for every committed chunk, its rows' ids and offsets, and document frequencies."""

    LAYER_MIN_ROWS = 20_000  # below this a change re-weights the whole index (0.2 s at 10k rows)
    LAYER_SHARE = 0.05  # delta rows + dead rows, as a share of the base's, before a merge

    def __init__(self, chunks: Sequence[Chunk] = ()) -> None:
        self._layers(Segment(chunks), None, frozenset())

    @classmethod
    def from_term_ids(
        cls, chunks: Sequence[Chunk], vocab: dict[str, int], tokens: np.ndarray, offsets: np.ndarray
    ) -> KeywordIndex:
        """An index of one segment whose terms are already ids (Segment.from_term_ids)."""
        return cls._of(Segment.from_term_ids(chunks, vocab, tokens, offsets), None, frozenset())

    @classmethod
    def _of(cls, base: Segment, delta: Segment | None, dead: frozenset[str]) -> KeywordIndex:
        index = cls.__new__(cls)
        index._layers(base, delta, dead)
        return index

    def _layers(self, base: Segment, delta: Segment | None, dead: frozenset[str]) -> None:
        self.base, self.delta, self.dead = base, delta, dead
        self._folder: Path | None = None
        self._base_folder: Path | None = None
        base_source = np.asarray(base.source)
        dead_numbers = [i for i, s in enumerate(base.sources) if s in dead]
        self._dead_rows = np.isin(base_source, dead_numbers) if dead_numbers else None
        dead_count = int(self._dead_rows.sum()) if self._dead_rows is not None else 0
        self.rows = base.size + (delta.size if delta else 0)  # the length of every per-row array
        self.size = self.rows - dead_count  # the committed chunks it lists

    @property
    def layered(self) -> bool:
        return self.delta is not None or bool(self.dead)

    # ---- changing ----------------------------------------------------------------------------------

    def patch(self, removed: Collection[str], added: Sequence[Chunk]) -> KeywordIndex:
        """A new index without the `removed` sources' rows and with the `added` chunks (a replaced
        document is in both); this one is left unchanged. A small change to a large saved index goes
        to the delta; otherwise, or once the layers pass `LAYER_SHARE`, all is merged into one segment."""
        removed = set(removed)
        dead = frozenset(self.dead | (removed & set(self.base.sources)))
        fresh = Segment(added)
        delta_rows = fresh.size
        if self.delta is not None:
            delta_rows += self.delta.size - sum(self.delta.count_rows(s) for s in removed)
        dead_rows = sum(self.base.count_rows(s) for s in dead)
        if (
            self._base_folder is not None  # a layer names the saved base it extends
            and self.base.size >= self.LAYER_MIN_ROWS
            and delta_rows + dead_rows <= self.LAYER_SHARE * self.base.size
        ):
            start = self.delta if self.delta is not None else Segment()
            delta = start.merged(removed, fresh, reference=self.base)
            layered = KeywordIndex._of(self.base, delta if delta.size else None, dead)
            layered._base_folder = self._base_folder
            return layered
        if self.layered:
            log.info("merging the keyword index's layers into one segment (%d rows)", self.base.size)
        delta = self.delta.merged(removed, fresh) if self.delta is not None else fresh
        return KeywordIndex._of(self.base.merged(dead, delta), None, frozenset())

    # ---- saving and loading ------------------------------------------------------------------------

    def save(self, folder: Path, key: str, versions: Mapping[str, str] | None = None) -> None:
        """Write the index to `folder` for `key`, all at once. An index over a base saved beside `folder`
        saves its delta and dead list only (both maybe empty), naming that base folder; any other is
        saved whole.
        `versions` (source -> content hash of the documents it holds) lets a later version be patched
        from this one (`saved_versions`)."""
        folder = Path(folder)
        base = self._base_folder
        if base is None or base.parent != folder.parent or base == folder:  # no saved base beside it
            if self.layered:
                self.base.merged(self.dead, self.delta or Segment()).save(folder, key, versions)
            else:
                self.base.save(folder, key, versions)
            return
        # The saved base beside it, plus whatever is layered over it (maybe nothing: a document added
        # and removed again leaves the base as saved, and a copy of it would cost the corpus).
        base_key = read_meta(base, None, {KEYWORD_FORMAT})["key"]
        delta = self.delta
        listed = dict(versions or {})

        def fill(tmp: Path) -> dict[str, Any]:
            meta: dict[str, Any] = {
                "format": LAYERED_FORMAT, "key": key, "size": self.size, "base": base.name,
                "base_key": base_key, "dead": sorted(self.dead), "delta_size": 0, "delta_sources": [],
            }  # fmt: skip
            if delta is not None:
                (tmp / _DELTA).mkdir()
                delta.write_files(tmp / _DELTA, {s: listed[s] for s in delta.sources if s in listed})
                meta["delta_size"], meta["delta_sources"] = delta.size, delta.sources
            return meta

        write_folder(folder, fill)

    @classmethod
    def load(cls, folder: Path, key: str | None) -> KeywordIndex:
        """The index saved in `folder` for `key` (None: whatever it was saved for), memory-mapped;
        raises KeywordIndexUnusable when it, or the base it extends, is missing, was saved for another
        key or format, or has a damaged or truncated file."""
        folder = Path(folder)
        meta = read_meta(folder, key, {KEYWORD_FORMAT, LAYERED_FORMAT})
        if meta["format"] == KEYWORD_FORMAT:
            index = cls._of(
                Segment.read_files(folder, int(meta["size"]), list(meta["sources"])), None, frozenset()
            )
            index._folder = index._base_folder = folder
            return index
        base_folder = folder.parent / str(meta["base"])
        base = Segment.load(base_folder, str(meta["base_key"]))
        delta = None
        if int(meta["delta_size"]):
            delta = Segment.read_files(folder / _DELTA, int(meta["delta_size"]), list(meta["delta_sources"]))
        index = cls._of(base, delta, frozenset(str(s) for s in meta["dead"]))
        if index.size != int(meta["size"]):
            raise KeywordIndexUnusable(f"its layers list {index.size} chunks, not {meta['size']}")
        index._folder, index._base_folder = folder, base_folder
        return index

    @staticmethod
    def base_folder_of(folder: Path) -> str | None:
        """The name of the base folder a saved layered index extends (None: one segment, or unreadable)."""
        try:
            meta = json.loads((Path(folder) / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return str(meta["base"]) if isinstance(meta, dict) and "base" in meta else None

    def saved_versions(self) -> dict[str, str]:
        """Source -> content hash of the documents a saved index holds ({} when not saved with them)."""
        if self._folder is None:
            return {}
        versions = {s: h for s, h in self.base.saved_versions().items() if s not in self.dead}
        if self.delta is not None and self._folder != self._base_folder:
            try:
                saved = json.loads((self._folder / _DELTA / _VERSIONS).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise KeywordIndexUnusable(f"{type(exc).__name__}: {exc}") from exc
            versions.update({str(s): str(h) for s, h in saved.items()})
        return versions

    # ---- what retrieval and answering read -------------------------------------------------------------

    @cached_property
    def live(self) -> np.ndarray:
        """A mask of the rows that hold committed chunks (all but the dead)."""
        mask = np.ones(self.rows, dtype=bool)
        if self._dead_rows is not None:
            mask[: self.base.size] = ~self._dead_rows
        return mask

    @cached_property
    def document_frequency(self) -> Mapping[str, int]:
        if self.delta is None:
            return self.base.document_frequency
        return _Summed(self.base.document_frequency, self.delta.document_frequency)

    @cached_property
    def acronyms_by_source(self) -> dict[str, list[str]]:
        found = {s: a for s, a in self.base.acronyms_by_source.items() if s not in self.dead}
        if self.delta is not None:
            found.update(self.delta.acronyms_by_source)
        return found

    @cached_property
    def acronyms(self) -> set[str]:
        """Lower-cased initials of the multi-word names in the chunks ("opm" for "Office of Personnel
        Management"), so a question may use an acronym the documents only spell out."""
        return {a for found in self.acronyms_by_source.values() for a in found}

    @cached_property
    def heads(self) -> Heads:
        """Each document's title line and subtitle (qa.chunking.document_heads of its first chunk)."""
        found: dict[str, tuple[Span | None, Span | None]] = {
            s: h for s, h in self.base.heads.items() if s not in self.dead
        }
        if self.delta is not None:
            found.update(self.delta.heads)
        return found

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; a term found nowhere gets the highest weight."""
        df = self.document_frequency.get(term, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for the query (zeros when no query term is known, and for dead rows)."""
        query_terms = terms(query)
        base = self.base.scores_of(query_terms)
        if self._dead_rows is not None:
            base = np.where(self._dead_rows, np.float32(0), base)
        if self.delta is None:
            return base
        return np.concatenate([base, self.delta.scores_of(query_terms)])

    def row(self, chunk_id: str) -> int | None:
        """The row of a committed chunk's id, or None when absent."""
        if self.delta is not None:
            found = self.delta.row(chunk_id)
            if found is not None:
                return self.base.size + found
        found = self.base.row(chunk_id)
        if found is None or (self._dead_rows is not None and self._dead_rows[found]):
            return None
        return found

    def chunk_id(self, row: int) -> str:
        return self.base.chunk_id(row) if row < self.base.size else self._delta.chunk_id(row - self.base.size)

    def source_of(self, row: int) -> str:
        return (
            self.base.source_of(row) if row < self.base.size else self._delta.source_of(row - self.base.size)
        )

    def rows_of(self, sources: Collection[str]) -> np.ndarray:
        """A mask of the rows of the named sources."""
        mask = self.base.rows_of(sources)
        if self._dead_rows is not None:
            mask &= ~self._dead_rows
        if self.delta is None:
            return mask
        return np.concatenate([mask, self.delta.rows_of(sources)])

    def chunk_ids_of(self, sources: Collection[str]) -> list[str]:
        """The chunk ids of the named sources' live rows: what a writer deletes when it replaces or
        removes them, found without asking Chroma to scan every chunk's metadata."""
        ids: list[str] = []
        for source in sources:
            if source not in self.dead:
                ids += self.base.chunk_ids_of(source)
            if self.delta is not None:
                ids += self.delta.chunk_ids_of(source)
        return ids

    def first_row(self, source: str) -> int | None:
        """The row of the source's opening chunk."""
        if self.delta is not None:
            found = self.delta.first_row(source)
            if found is not None:
                return self.base.size + found
        return None if source in self.dead else self.base.first_row(source)

    def live_rows(self) -> Iterator[int]:
        return (int(i) for i in np.flatnonzero(self.live))

    @property
    def _delta(self) -> Segment:
        if self.delta is None:
            raise IndexError("row out of range")
        return self.delta


class _Summed(Mapping[str, int]):
    """The document frequencies of two segments together."""

    def __init__(self, first: DocumentFrequency, second: DocumentFrequency) -> None:
        self._first, self._second = first, second

    def __getitem__(self, term: str) -> int:
        total = self._first.get(term, 0) + self._second.get(term, 0)
        if not total and term not in self._first and term not in self._second:
            raise KeyError(term)
        return total

    def __iter__(self) -> Iterator[str]:
        yield from self._first
        yield from (t for t in self._second if t not in self._first)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Positions(Mapping[str, int]):
    """Chunk id -> row, looked up in the keyword index rather than held in a dict of every chunk."""

    def __init__(self, keyword: KeywordIndex) -> None:
        self._keyword = keyword

    def __getitem__(self, chunk_id: str) -> int:
        row = self._keyword.row(chunk_id)
        if row is None:
            raise KeyError(chunk_id)
        return row

    def __iter__(self) -> Iterator[str]:
        return (self._keyword.chunk_id(i) for i in self._keyword.live_rows())

    def __len__(self) -> int:
        return self._keyword.size
