"""A labelled synthetic corpus of coding problems, to measure dedup quality and speed.

Used by ``tests/test_dedup.py`` and ``bench/dedup_bench.py`` so both measure the same
thing. Problem ``i`` is a pure function of ``(seed, i)``: any text can be regenerated on
demand, so a benchmark can stream 800k texts without holding them. A ``dup_share`` of
the problems are edited copies of an earlier problem (any earlier one, so copies of
copies occur), with a word edit rate drawn uniformly from ``[0, max_edit]``: with
3-word shingles, rate ``p`` leaves Jaccard ~ (1 - 3p) / (1 + 3p), so the default 0.15
spreads copies over J ~ 0.35..1 around the 0.7 threshold. Unrelated problems share
boilerplate sentences and phrasing ("Write a function that ..."), as generated
instructions do, but stay far below the threshold.

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
_TEMPLATES = (
    "Write a function that {v}s the {a} {n} in a given {m} of {n2}s.",
    "Given a {m} of {n2}s, return the {a} {n} after you {v} every {n2}.",
    "The input is a {m} of {n}s; {v} each {n} and report the {a} {n2}.",
    "Implement {f} which receives a {n} and must {v} its {a} {n2}s.",
    "Your solution should {v} the {n2}s in linear time and use constant extra space.",
    "If the {m} is empty, return the {a} {n} instead of raising an error.",
    "For example, for the {n} {x} the expected output is {y}.",
    "Explain why your approach to {v} the {a} {n} is correct.",
    "Assume every {n2} fits in a 64-bit integer and that the {m} has at most {x} items.",
    "Handle {a} {n2}s carefully, because they may appear more than once in the {m}.",
    "Return the result as a {m} of {n}s ordered by their {a} {n2}.",
    "Do not use any library function that would {v} the {n} for you.",
)
_VOCABULARY = (*_VERBS, *_NOUNS, *_ADJECTIVES, *"a the of to in for with each every".split())
_POOL = 20_000  # distinct sentences; the first ones are much more common (boilerplate)
_SENTENCES_PER_WORD = 1 / 13  # ~13 words per sentence


def _sentence(rng: random.Random) -> str:
    verb, noun, noun2, adjective = (rng.choice(w) for w in (_VERBS, _NOUNS, _NOUNS, _ADJECTIVES))
    return rng.choice(_TEMPLATES).format(
        v=verb,
        n=noun,
        n2=noun2,
        a=adjective,
        m=rng.choice(("list", "array", "sequence", "stream")),
        f=f"{verb}_{noun}s",
        x=rng.randrange(2, 10_000),
        y=rng.randrange(2, 10_000),
    )


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
        object.__setattr__(self, "_pool", [_sentence(rng) for _ in range(_POOL)])
        # Zipf-like popularity: the first sentences are the boilerplate of many problems.
        object.__setattr__(
            self, "_popularity", list(itertools.accumulate(1 / (k + 20) for k in range(_POOL)))
        )

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
        sentences = rng.choices(
            self._pool, cum_weights=self._popularity, k=round(self.words * _SENTENCES_PER_WORD)
        )
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
