"""The near-duplicate index and the contamination checker that a run's config asks for.

Each takes its own seed from the run's (seed + 1 for dedup, seed + 2 for decontamination),
so the two MinHash families are independent of each other and of the run's sampling.
"""

from __future__ import annotations

from pathlib import Path

from genetic_instruct.config import Config, DecontaminationConfig, DedupCompare
from genetic_instruct.dedup.buckets import Buckets
from genetic_instruct.dedup.decontamination import (
    BenchmarkSource,
    ContaminationChecker,
    humaneval_source,
)
from genetic_instruct.dedup.index import NearDuplicateIndex


def dedup_text(compare: DedupCompare, instruction: str, solution: str) -> str:
    """What near-duplicate checks compare (dedup.compare)."""
    return instruction if compare == DedupCompare.instruction else f"{instruction}\n{solution}"


def build_index(
    cfg: Config,
    workers: int | None = None,
    directory: Path | None = None,
    buckets: Buckets | None = None,
) -> NearDuplicateIndex:
    """`workers=1` for an index that only ever sees a few rows at a time; `directory`
    keeps the population's index between runs, `buckets` holds its LSH buckets elsewhere
    (see NearDuplicateIndex)."""
    dd = cfg.dedup
    return NearDuplicateIndex(
        threshold=dd.threshold,
        num_perm=dd.num_perm,
        bands=dd.bands,
        shingle_size=dd.shingle_size,
        normalize=dd.normalize,
        seed=cfg.seed + 1,
        workers=workers,
        directory=directory,
        buckets=buckets,
    )


def build_contamination_checker(
    sets: DecontaminationConfig, run_seed: int
) -> ContaminationChecker | None:
    """The checker for the benchmark sets configured; None when there is none to check."""
    if not sets.enabled:
        return None
    sources = [humaneval_source()] if sets.humaneval else []
    sources += [
        BenchmarkSource(b.name, b.path, tuple(b.text_fields), b.id_field) for b in sets.benchmarks
    ]
    if not sources:
        return None
    return ContaminationChecker(
        sources, ngram=sets.ngram, minhash_threshold=sets.minhash_threshold, seed=run_seed + 2
    )
