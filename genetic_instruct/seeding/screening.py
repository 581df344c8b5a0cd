"""Seed tasks checked against the configured benchmark sets before a run starts.

The loop drops offspring that match a benchmark, but seeds enter the population as they
are: a seed file of HumanEval prompts would otherwise grow a dataset around them and, with
`export.include_seeds=true`, ship them in a dataset whose card says it was decontaminated.
So a contaminated seed is refused, naming file:line and the problem it matches; with
`decontamination.allow_contaminated_seeds=true` it is kept as a parent but recorded in the
run state (meta WITHHELD_SEEDS) and never exported.
"""

from __future__ import annotations

from genetic_instruct.config import Config
from genetic_instruct.dedup.from_config import build_contamination_checker
from genetic_instruct.errors import SeedFileError
from genetic_instruct.seeding.seed_file import SeedFile


def screen_seeds(cfg: Config, seed_file: SeedFile) -> list[str]:
    """Ids of the seeds that match a configured benchmark problem (allowed by the config);
    raise SeedFileError on the first one when the config does not allow them."""
    checker = build_contamination_checker(cfg.decontamination, cfg.seed)
    if checker is None:
        return []
    matches = checker.matches([seed.instruction for seed in seed_file.seeds])
    found = [
        (seed, line, match)
        for seed, line, match in zip(
            seed_file.seeds, map(seed_file.where, range(len(seed_file.seeds))), matches
        )
        if match is not None
    ]
    if found and not cfg.decontamination.allow_contaminated_seeds:
        seed, line, match = found[0]
        raise SeedFileError(
            f"{line}: seed {seed.id!r} matches benchmark problem "
            f"{match.problem} ({match.method}); {len(found)} of {len(seed_file.seeds)} seeds "
            "match. Remove them, or keep them as parents only (never exported) with "
            "decontamination.allow_contaminated_seeds=true"
        )
    return [seed.id for seed, _, _ in found]
