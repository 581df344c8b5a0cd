"""A labelled synthetic corpus of coding problems, to measure dedup quality and speed.

Used by ``tests/test_dedup.py`` and ``bench/dedup_bench.py`` so both measure the same
thing; a benchmark corpus, so it lives here and not in the shipped package. Problem ``i``
is a pure function of ``(seed, i)``: any text can be regenerated on demand, so a benchmark
can stream 800k texts without holding them. A ``dup_share`` of the problems are edited
copies of an earlier problem (any earlier one, so copies of copies occur), with a word
edit rate drawn uniformly from ``[0, max_edit]``: with 3-word shingles, rate ``p`` leaves
Jaccard ~ (1 - 3p) / (1 + 3p), so the default 0.15 spreads copies over J ~ 0.35..1 around
the 0.7 threshold. Unrelated problems share phrasing (openings such as "Write a function
that", closings, a header) and a Zipf-distributed coding vocabulary, as generated
instructions do: their Jaccard is ~0.05 (99th percentile ~0.07), far below the threshold.

Ground truth is exact Jaccard on the same shingles the index sees. Only pairs inside a
family (a problem and its copies) are compared exactly; unrelated pairs are taken to be
below the threshold, which ``tests/test_dedup.py`` checks on a sample.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from genetic_instruct.dedup.index import NearDuplicateIndex
from genetic_instruct.dedup.shingles import Shingler

_VERBS = (
    "sort filter merge count reverse rotate flatten group partition compress encode decode "
    "validate parse normalize deduplicate search insert remove split join transpose sum "
    "scale round shuffle sample rank index match replace format serialize compute"
).split()
_NOUNS = (
    "array list string matrix graph tree interval number word sentence token record "
    "timestamp price order user event path edge node key value pair window prefix suffix "
    "substring digit character vowel bracket segment queue stack heap table column row"
).split()
_ADJECTIVES = (
    "largest smallest longest shortest first last unique duplicate sorted balanced valid "
    "empty nested consecutive distinct even odd prime positive negative missing common"
).split()
_STOPWORDS = "a the of to in and for with each every is are that as by on from it".split()
# A sentence is ~12 words drawn by Zipf's law from a coding vocabulary, 30% of the time
# after a common opening and 30% before a common closing.
_OPENINGS = (
    "Write a function that",
    "Implement a routine to",
    "Create a method which",
    "Design an algorithm to",
    "Your task is to",
    "Given a list,",
    "Using only loops,",
    "In Python,",
    "The goal is to",
    "Next,",
)
_CLOSINGS = (
    "in linear time.",
    "and return the result.",
    "while keeping the original order.",
    "and explain why it is correct.",
)
_VOCABULARY = (*_STOPWORDS, *_VERBS, *_NOUNS, *_ADJECTIVES)  # what edits insert
_POOL = 20_000  # distinct sentences that problems are assembled from
_SENTENCES_PER_WORD = 1 / 15  # ~15 words per sentence


def _vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    """~1,900 words and cumulative Zipf-like weights 1/(rank + 50): coding words, made-up
    words of 1-3 syllables, identifiers (~10% of draws) and numbers, shuffled."""
    syllables = "ba ce di fo gu ka le mi no pu ra se ti vo zu tor men lin gar".split()
    made_up = {"".join(rng.choices(syllables, k=rng.randrange(1, 4))) for _ in range(3000)}
    identifiers = [f"{rng.choice(_VERBS)}_{rng.choice(_NOUNS)}" for _ in range(350)]
    words = [*_STOPWORDS, *_VERBS, *_NOUNS, *_ADJECTIVES, *sorted(made_up), *identifiers]
    words += [str(n) for n in range(100)]
    rng.shuffle(words)
    return words, list(itertools.accumulate(1 / (rank + 50) for rank in range(len(words))))


def _sentence(rng: random.Random, words: list[str], popularity: list[float]) -> str:
    middle = rng.choices(words, cum_weights=popularity, k=rng.randrange(8, 16))
    opening = [rng.choice(_OPENINGS)] if rng.random() < 0.3 else []
    return " ".join([*opening, *middle, rng.choice(_CLOSINGS) if rng.random() < 0.3 else "."])


@dataclass(frozen=True)
class SyntheticCorpus:
    """``size`` coding problems of ~``words`` words, ``dup_share`` of them edited copies.
    Reproducible for a given seed and Python version (it draws from ``random.Random``)."""

    size: int
    dup_share: float = 0.2
    max_edit: float = 0.15
    words: int = 360
    seed: int = 0

    def __post_init__(self) -> None:
        rng = self._rng(-1)
        words, popularity = _vocabulary(rng)
        object.__setattr__(self, "_pool", [_sentence(rng, words, popularity) for _ in range(_POOL)])

    def source(self, i: int) -> int | None:
        """The problem that problem ``i`` is an edited copy of, or None for an original."""
        rng = self._rng(i)
        if i and rng.random() < self.dup_share:
            return rng.randrange(i)
        return None

    def text(self, i: int) -> str:
        rng = self._rng(i)
        if i and rng.random() < self.dup_share:
            original = self.text(rng.randrange(i))
            return _edit(original, rng.uniform(0.0, self.max_edit), rng)
        sentences = rng.choices(self._pool, k=round(self.words * _SENTENCES_PER_WORD))
        name = f"{rng.choice(_VERBS)}_{rng.choice(_NOUNS)}_{rng.randrange(1000)}"
        return " ".join(
            [f"Problem {i}: implement `def {name}(items: list[int]) -> int:`.", *sentences]
        )

    def texts(self, start: int, stop: int) -> list[str]:
        return [self.text(i) for i in range(start, stop)]

    def root(self, i: int) -> int:
        """The original that problem ``i`` descends from (itself for an original)."""
        while (parent := self.source(i)) is not None:
            i = parent
        return i

    def _rng(self, i: int) -> random.Random:
        return random.Random(self.seed * 2**40 + i + 1)


def _edit(text: str, rate: float, rng: random.Random) -> str:
    """Substitute, delete or insert words at ``rate``; also change case and spacing of
    some words, which the default normalization ignores."""
    out: list[str] = []
    for word in text.split():
        draw = rng.random()
        if draw < rate / 3:  # substitute
            out.append(rng.choice(_VOCABULARY))
        elif draw < 2 * rate / 3:  # delete
            continue
        elif draw < rate:  # insert after
            out += [word, rng.choice(_VOCABULARY)]
        elif draw > 0.97:  # cosmetic: case and spacing
            out.append(word.upper() + "\n ")
        else:
            out.append(word)
    return " ".join(out)


def deduplicate(
    index: NearDuplicateIndex,
    batches: Iterator[tuple[int, list[str]]],
    timings: dict[str, float] | None = None,
) -> list[int | None]:
    """Run the evolution loop's dedup protocol over ``(start, texts)`` batches (query
    the index, then within the surviving rows, then add the kept ones under their
    corpus position) and return, per text, the position of the text it was judged a
    near-duplicate of, or None when it was kept. ``timings`` accumulates seconds per
    call when given."""
    clock = timings if timings is not None else {}
    partners: list[int | None] = []
    for start, texts in batches:
        with _stopwatch(clock, "signatures"):
            sigs = index.signatures(texts)
        with _stopwatch(clock, "query"):
            hits = index.query(sigs)
        fresh = [i for i, hit in enumerate(hits) if hit is None]
        with _stopwatch(clock, "within_batch"):
            copies = index.within_batch(sigs[fresh])
        batch: list[int | None] = [None if hit is None else int(hit) for hit in hits]
        for row, copy in zip(fresh, copies):
            batch[row] = None if copy is None else start + fresh[copy]
        kept = [row for row in range(len(texts)) if batch[row] is None]
        with _stopwatch(clock, "add"):
            index.add([str(start + row) for row in kept], sigs[kept])
        partners += batch
    return partners


@contextmanager
def _stopwatch(clock: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    clock[name] = clock.get(name, 0.0) + time.perf_counter() - start


@dataclass(frozen=True)
class Quality:
    """Recall: share of texts having an exact-Jaccard >= threshold kept predecessor in
    their family that were flagged. Precision: share of flagged texts whose reported
    partner really has exact Jaccard >= threshold."""

    recall: float
    precision: float
    duplicates: int
    flagged: int


def score(
    corpus: SyntheticCorpus, partners: Sequence[int | None], shingler: Shingler, threshold: float
) -> Quality:
    """Quality of a dedup run (``partners`` as returned by :func:`deduplicate`)."""
    families: dict[int, list[int]] = {}
    for i in range(len(partners)):
        families.setdefault(corpus.root(i), []).append(i)
    flagged = [(i, p) for i, p in enumerate(partners) if p is not None]
    pairs = list(flagged)
    for members in families.values():
        for n, i in enumerate(members):
            pairs += [(i, k) for k in members[:n] if partners[k] is None]
    similar = _exact_at_least(corpus, pairs, shingler, threshold)
    has_twin = [
        i
        for members in families.values()
        for n, i in enumerate(members)
        if any(similar[(i, k)] for k in members[:n] if partners[k] is None)
    ]
    caught = sum(partners[i] is not None for i in has_twin)
    right = sum(similar[pair] for pair in flagged)
    return Quality(
        recall=caught / len(has_twin) if has_twin else 1.0,
        precision=right / len(flagged) if flagged else 1.0,
        duplicates=len(has_twin),
        flagged=len(flagged),
    )


def _exact_at_least(
    corpus: SyntheticCorpus, pairs: list[tuple[int, int]], shingler: Shingler, threshold: float
) -> dict[tuple[int, int], bool]:
    needed = sorted({i for pair in pairs for i in pair})
    hashes, docs = shingler.hashes([corpus.text(i) for i in needed])
    cuts = np.searchsorted(docs, np.arange(1, len(needed)))
    sets = {i: np.unique(part) for i, part in zip(needed, np.split(hashes, cuts))}
    result = {}
    for a, b in pairs:
        common = np.intersect1d(sets[a], sets[b], assume_unique=True).size
        union = sets[a].size + sets[b].size - common
        result[(a, b)] = union > 0 and common >= threshold * union
    return result
