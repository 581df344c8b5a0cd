"""How well do the asserts that agreement keeps tell a right program from a wrong one?

Measured on seed tasks, whose reference solution is right and whose asserts are right (a
run checks that the reference passes them): each task's asserts get one wrong assert added
(a right one with its expected value changed, the mistake models make), the way a model's
tests come with one. Programs of known standing vote on it, as independent attempts do in a
run (evolution/agreement.py): the reference and its mutants that pass the seed's asserts
are right; its mutants that fail them are wrong (sandbox/mutants.py), and the wrong voters
are the near misses (those failing the fewest of the seed's asserts: an edge case every
wrong attempt misses looks like a wrong assert). With r of the independent attempts right
(the rest wrong), the asserts kept after the vote accept or reject every program of the
task:

    recall     the share of references the kept asserts accept
    precision  the share of right programs among those they accept (the reference, and the
               wrong ones that slip through: failing attempts and held-out mutants)

beside what the vote did to the asserts (the wrong one caught, right ones voted out), and
the tests taken as written (no vote) for comparison. Every program runs once, against all
asserts; the per-assert outcomes then answer every scenario without running it again.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genetic_instruct.answers.written_tests import top_level_asserts
from genetic_instruct.config import Config
from genetic_instruct.evolution.agreement import passes, suspect_asserts
from genetic_instruct.individual import Individual
from genetic_instruct.sandbox import ExecutionResult, SandboxLimits, run_many
from genetic_instruct.sandbox.mutants import mutants
from genetic_instruct.state.meta import TestOracle

MUTANTS_PER_TASK = 8  # of the reference: some right (equivalent), most wrong


def wrong_expectation(assert_source: str) -> str | None:
    """The assert with the literal it compares against changed (an int or float moved by
    one, a string, list or tuple grown, a bool flipped); None when it compares to none."""
    try:
        node = ast.parse(assert_source).body[0]
    except (SyntaxError, ValueError, RecursionError, IndexError):
        return None
    test = node.test if isinstance(node, ast.Assert) else None
    if not isinstance(test, ast.Compare) or not isinstance(test.ops[0], (ast.Eq, ast.Is)):
        return None
    try:
        value = ast.literal_eval(test.comparators[0])
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None
    changed = _changed(value)
    if changed is None:
        return None
    test.comparators[0] = ast.parse(repr(changed), mode="eval").body
    return ast.unparse(node)


def _changed(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, (list, tuple)):
        return type(value)([*value, value[-1] if value else 0])
    return None


@dataclass(frozen=True)
class _Task:
    """One seed's programs, each run once against its asserts plus the wrong one (last)."""

    right: list[ExecutionResult]  # the reference first, then equivalent mutants
    wrong: list[ExecutionResult]  # mutants failing the seed's own asserts


def _restricted(result: ExecutionResult, total: int) -> ExecutionResult:
    return dataclasses.replace(result, total=total, outcomes=result.outcomes[:total])


def _tasks(
    seeds: Sequence[Individual], limits: SandboxLimits, seed: int, workers: int | None
) -> list[_Task]:
    """Each seed with asserts, a wrong assert its reference fails and at least one wrong
    mutant; every program run once (one parallel batch)."""
    plans = []
    for task in seeds:
        if task.language != "python":  # the oracle votes on Python's top-level asserts
            continue
        asserts = top_level_asserts(task.tests or "")
        mistaken = next(filter(None, map(wrong_expectation, reversed(asserts))), None)
        if not asserts or mistaken is None:
            continue
        tests = f"{task.tests}\n{mistaken}"
        programs = [
            task.solution,
            *(m.source for m in mutants(task.solution, MUTANTS_PER_TASK, seed)),
        ]
        plans.append((len(asserts), tests, programs))
    jobs = [(program, tests) for _, tests, programs in plans for program in programs]
    results = iter(run_many(jobs, limits, workers))
    found = []
    for n, _, programs in plans:
        runs = [next(results) for _ in programs]
        reference = runs[0]
        if reference.outcomes != "1" * n + "0":  # its own asserts hold, the wrong one fails
            continue
        right = [reference, *(r for r in runs[1:] if r.outcomes[:n] == "1" * n)]
        # near misses first (the fewest seed asserts failed): the wrong attempts that look
        # most like right ones are the voters, the hardest case for agreement
        failing = sorted(
            (r for r in runs[1:] if r.outcomes[:n] != "1" * n),
            key=lambda r: r.outcomes[:n].count("0"),
        )
        if failing:
            found.append(_Task(right, failing))
    return found


def _scenario(tasks: list[_Task], independent: int, right: int | None) -> dict[str, object]:
    """Counts over the tasks with `right` of `independent` attempts right (None: no vote,
    the tests as written)."""
    accepted_right = accepted_wrong = references = caught = right_dropped = usable = 0
    for task in tasks:
        total = len(task.right[0].outcomes)
        if right is None:
            dropped: list[int] = []
        else:
            if len(task.wrong) < independent - right:
                continue
            voters = [task.right[i % len(task.right)] for i in range(right)]
            voters += task.wrong[: independent - right]
            dropped = suspect_asserts([_restricted(v, total) for v in voters])
        usable += 1
        references += 1
        accepted_right += passes(task.right[0], dropped)
        accepted_wrong += sum(passes(w, dropped) for w in task.wrong)
        caught += (total - 1) in dropped
        right_dropped += sum(i != total - 1 for i in dropped)
    accepted = accepted_right + accepted_wrong
    return {
        "tasks": usable,
        "recall": round(accepted_right / references, 4) if references else None,
        "precision": round(accepted_right / accepted, 4) if accepted else None,
        "wrong_assert_dropped": round(caught / usable, 4) if usable else None,
        "right_asserts_dropped": right_dropped,
    }


def measure_test_oracle(
    seeds: Sequence[Individual],
    limits: SandboxLimits,
    independent: int,
    sample: int,
    seed: int,
    workers: int | None = None,
) -> TestOracle:
    """The oracle's quality on up to `sample` seeds with tests (chosen by `seed`), with
    `independent` attempts voting (execution.attempts - 1)."""
    usable = _sampled([s for s in seeds if s.tests], sample, seed)
    tasks = _tasks(usable, limits, seed, workers)
    return TestOracle(
        key=oracle_key(usable, limits, independent, seed),
        tasks=len(tasks),
        independent=independent,
        by_right={str(r): _scenario(tasks, independent, r) for r in range(independent + 1)},
        as_written=_scenario(tasks, independent, None),
    )


def _sampled(seeds: Sequence[Individual], sample: int, seed: int) -> list[Individual]:
    """Up to `sample` of the seeds, chosen by the run seed, in their order."""
    if len(seeds) <= sample:
        return list(seeds)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x0AC1E]))
    return [seeds[int(i)] for i in sorted(rng.choice(len(seeds), sample, replace=False))]


def oracle_key(
    seeds: Sequence[Individual], limits: SandboxLimits, independent: int, seed: int
) -> str:
    """What a measurement depends on: a stored one is reused while it is the same."""
    parts = [repr(limits), str(independent), str(seed), MUTANTS_PER_TASK]
    parts += [f"{s.id}\0{s.solution}\0{s.tests}" for s in seeds]
    return hashlib.sha256("\0".join(map(str, parts)).encode("utf-8")).hexdigest()[:16]


def run_oracle(
    cfg: Config, seeds: Sequence[Individual], stored: TestOracle | None
) -> TestOracle | None:
    """The measurement a run with attempts makes on its seeds (execution.oracle_seeds), or
    the one it stored while nothing it depends on changed; None where none is due."""
    ex = cfg.execution
    if not ex.enabled or ex.attempts < 2 or not ex.oracle_seeds:
        return None
    usable = [s for s in seeds if s.tests]
    limits = ex.sandbox_limits()
    if stored is not None and stored.key == oracle_key(
        _sampled(usable, ex.oracle_seeds, cfg.seed), limits, ex.attempts - 1, cfg.seed
    ):
        return stored
    return measure_test_oracle(
        usable, limits, ex.attempts - 1, ex.oracle_seeds, cfg.seed, ex.workers or None
    )
