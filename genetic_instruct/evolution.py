"""The Genetic-Instruct generation loop: plan, instruct, filter, dedup, code, judge, commit.

Each stage runs over the whole generation (all colonies together) as one batch, so the engine
sees as many requests at once as the generation has. Colonies differ in their RNG streams,
which depend only on (run seed, generation, colony): a resumed run plans the same offspring
and so sends the same requests, which the journal then answers without the engine.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import numpy as np

from genetic_instruct import faults, interrupts
from genetic_instruct.calibration import run_gate
from genetic_instruct.candidate import Candidate
from genetic_instruct.config import Config, ExecutionConfig, roles_in_use
from genetic_instruct.decontamination import (
    BenchmarkSource,
    ContaminationChecker,
    humaneval_source,
)
from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.display import RunDisplay
from genetic_instruct.executors import Executor, open_executor
from genetic_instruct.filters import (
    Contamination,
    CopyOfParent,
    Filter,
    InstructionLength,
    NearDuplicates,
)
from genetic_instruct.fitness import FitnessGate, JudgeVerdict, fitness
from genetic_instruct.journal import JournaledCalls
from genetic_instruct.llm.base import Completion, Engine, TokenCounter
from genetic_instruct.operators import MUTATION, OffspringPlan, plan_colony
from genetic_instruct.prompts import load_templates
from genetic_instruct.records import Individual, content_id
from genetic_instruct.rejection import Rejection
from genetic_instruct.requests import role_requests
from genetic_instruct.run_end import MAX_GENERATIONS, STALLED, TARGET_REACHED, RunEnd
from genetic_instruct.roles import (
    CoderRole,
    CrossoverRole,
    JudgeRole,
    MutationRole,
    Role,
    TesterRole,
)
from genetic_instruct.sandbox import ExecutionResult, SandboxLimits, run_many
from genetic_instruct.store import RunStore
from genetic_instruct.test_strength import MutationResult, mutation_results

Reading = TypeVar("Reading")

@dataclass
class GenerationStats:
    tried: int = 0  # offspring asked of the Instructor
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    tokens: TokenCounter = field(default_factory=TokenCounter)
    seconds: dict[str, float] = field(default_factory=dict)
    replayed: int = 0  # answers taken from the journal
    # criterion -> score -> count, over every readable verdict (rejected offspring included)
    judge_scores: dict[str, Counter[int]] = field(default_factory=dict)
    executions: Counter[str] = field(default_factory=Counter)  # sandbox status -> count
    # mutation score to one decimal -> count, over every program whose tests passed
    mutation_scores: Counter[str] = field(default_factory=Counter)

    def count_verdict(self, verdict: JudgeVerdict) -> None:
        for name, score in verdict.scores.items():
            self.judge_scores.setdefault(name, Counter())[round(score)] += 1

    def to_dict(self, population: int) -> dict[str, Any]:
        return {
            "tried": self.tried,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "population": population,
            "prompt_tokens": self.tokens.prompt,
            "completion_tokens": self.tokens.completion,
            "seconds": self.seconds,
            "replayed": self.replayed,
            "executions": dict(self.executions),
            "mutation_scores": dict(sorted(self.mutation_scores.items())),
            "judge_scores": {
                name: {str(k): v for k, v in sorted(hist.items())}
                for name, hist in self.judge_scores.items()
            },
        }


def colony_rng(run_seed: int, generation: int, colony: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([run_seed, generation, colony, 0xC0]))


class StoredPopulation(Sequence[Individual]):
    """The population as a sequence backed by the store: sampling parents reads only them.

    Holding 800k records in memory would cost gigabytes and make every resume re-read them
    all; parents are a few per offspring.
    """

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self._size = store.population_size()

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> Individual: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Individual]: ...
    def __getitem__(self, index: int | slice) -> Individual | Sequence[Individual]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if not 0 <= index < self._size:
            raise IndexError(index)
        return self._store.individual_at(index)

    def refresh(self) -> None:
        """Take in what the last commit added."""
        self._size = self._store.population_size()


class Evolution:
    """A run: the population, its dedup index and the engines, driven one generation at a time.

    The roles read the models' answers and the filters judge candidates; this class only
    orders them and counts what each turns away.
    """

    def __init__(
        self,
        cfg: Config,
        store: RunStore,
        engines: Executor,
        display: RunDisplay,
        index: NearDuplicateIndex,
        gate: FitnessGate,
    ) -> None:
        self.cfg = cfg
        self.gate = gate
        self.store = store
        self.display = display
        self.population = StoredPopulation(store)
        self._engines = engines
        self._calls: dict[str, JournaledCalls] = {}
        templates = load_templates()
        execution = cfg.execution
        self.crossover = CrossoverRole(templates["crossover"])
        self.mutation = MutationRole(templates["mutation"], cfg.evolution.mutation_methods)
        # The Coder writes the tests too (one request), unless the Tester or nobody does.
        self.coder_writes_tests = execution.enabled and execution.tests_from == "coder"
        self.coder = CoderRole(
            templates["coder_tests" if self.coder_writes_tests else "coder"],
            cfg.filters.max_solution_chars,
        )
        self.tester = TesterRole(templates["tester"])
        self.judge = JudgeRole(templates["judge"], cfg.roles.judge.structured_output)
        self.sandbox_limits = sandbox_limits(execution)
        self.near_duplicates = NearDuplicates(
            index, store.ids(), lambda c: dedup_text(cfg, c.instruction, c.solution)
        )
        self.instruction_filters: list[Filter] = [InstructionLength(cfg.filters), CopyOfParent()]
        checker = build_contamination_checker(cfg)
        if checker is not None:
            self.instruction_filters.append(Contamination(checker))
        self.early_dedup = cfg.dedup.compare == "instruction"
        if self.early_dedup:  # before coding: near-copies cost no Coder call
            self.instruction_filters.append(self.near_duplicates)
        self._run_tried = 0  # over the generations run by this process, for the display
        self._run_accepted = 0

    # -- engines ------------------------------------------------------------------------
    def _role(self, role: str) -> JournaledCalls:
        if role not in self._calls:
            self._calls[role] = JournaledCalls(self._engines.for_role(role), self.store, role)
        return self._calls[role]

    @property
    def _uses_tester(self) -> bool:
        return "tester" in roles_in_use(self.cfg)

    def _roles_used(self, operator: str) -> dict[str, Role[Any, Any]]:
        """Engine role -> role object, for one offspring's lineage."""
        roles: dict[str, Role[Any, Any]] = {
            "instructor": self.mutation if operator == MUTATION else self.crossover,
            "coder": self.coder,
            "judge": self.judge,
            "tester": self.tester,
        }
        return {name: roles[name] for name in roles_in_use(self.cfg)}

    def _ask(
        self, role: str, generation: int, prompts: Sequence[str], colonies: Sequence[int],
        stats: GenerationStats, json_schema: dict[str, Any] | None = None,
    ) -> list[Completion]:
        """One request per prompt; `colonies` says whose offspring each prompt is about."""
        requests = role_requests(self.cfg, role, generation, prompts, colonies, json_schema)
        calls = self._role(role)
        interrupts.check()
        replayed_before = calls.replayed
        with self.display.stage(role, len(requests), self._acceptance()) as tracker:
            answers = calls.generate(requests, tracker)
        stats.seconds[role] = round(tracker.seconds, 3)
        stats.replayed += calls.replayed - replayed_before
        stats.tokens.add(role, answers)
        return answers

    def _acceptance(self) -> str:
        if not self._run_tried:
            return "-"
        return f"{self._run_accepted}/{self._run_tried} ({self._run_accepted / self._run_tried:.0%})"

    # -- stages -------------------------------------------------------------------------
    def _instructor(self, plan: OffspringPlan) -> Role[OffspringPlan, list[str]]:
        return self.mutation if plan.operator == MUTATION else self.crossover

    def _instruct(self, generation: int, stats: GenerationStats) -> list[Candidate]:
        plans = [
            plan
            for colony in range(self.cfg.evolution.colonies)
            for plan in plan_colony(
                colony_rng(self.cfg.seed, generation, colony),
                self.population,
                self.cfg.evolution,
                colony,
            )
        ]
        stats.tried = sum(p.n_tasks for p in plans)
        prompts = [self._instructor(p).prompt(p) for p in plans]
        answers = self._ask("instructor", generation, prompts, [p.colony for p in plans], stats)
        candidates: list[Candidate] = []
        for plan, answer in zip(plans, answers):
            try:
                tasks = self._instructor(plan).read(answer, plan)
            except Rejection as reason:  # the whole answer: every task it was to hold
                stats.rejected[str(reason)] += plan.n_tasks
                continue
            if len(tasks) < plan.n_tasks:
                stats.rejected["instructor_no_task"] += plan.n_tasks - len(tasks)
            candidates.extend(Candidate(plan, task) for task in tasks)
        return candidates

    def _stage(
        self,
        role: Role[Candidate, Reading],
        generation: int,
        candidates: list[Candidate],
        stats: GenerationStats,
        accept: Callable[[Candidate, Reading], None],
    ) -> list[Candidate]:
        """Ask `role` about every candidate; keep those whose reading `accept` takes.

        `accept` stores the reading on the candidate, or raises Rejection; the role's own
        rejections (unreadable, truncated, failed answers) are counted the same way.
        """
        prompts = [role.prompt(c) for c in candidates]
        colonies = [c.plan.colony for c in candidates]
        answers = self._ask(
            role.engine_role, generation, prompts, colonies, stats, role.json_schema
        )
        kept = []
        for cand, answer in zip(candidates, answers):
            try:
                accept(cand, role.read(answer, cand))
            except Rejection as reason:
                stats.rejected[str(reason)] += 1
                continue
            kept.append(cand)
        return kept

    def _code(
        self, generation: int, candidates: list[Candidate], stats: GenerationStats
    ) -> list[Candidate]:
        def accept(cand: Candidate, reading: tuple[str, str]) -> None:
            cand.solution, tests = reading
            cand.tests = tests if self.coder_writes_tests else ""

        return self._stage(self.coder, generation, candidates, stats, accept)

    def _write_tests(
        self, generation: int, candidates: list[Candidate], stats: GenerationStats
    ) -> list[Candidate]:
        def accept(cand: Candidate, tests: str) -> None:
            cand.tests = tests

        return self._stage(self.tester, generation, candidates, stats, accept)

    def _execute(self, candidates: list[Candidate], stats: GenerationStats) -> list[Candidate]:
        """Run each solution against its tests in the sandbox; gate on the pass fraction.

        With `min_pass_fraction` 0 the results are recorded but gate nothing, and an
        offspring without usable tests goes on unexecuted (for models too small to write
        tests, like the embedded demo's).
        """
        gating = self.cfg.execution.min_pass_fraction > 0
        runnable = [c for c in candidates if c.tests]
        kept = [] if gating else [c for c in candidates if not c.tests]
        if gating:
            stats.rejected["no_tests"] += len(candidates) - len(runnable)
        start = time.monotonic()
        results = run_many(
            [(c.solution, c.tests) for c in runnable],
            self.sandbox_limits,
            self.cfg.execution.workers or None,
        )
        stats.seconds["execution"] = round(time.monotonic() - start, 3)
        for cand, result in zip(runnable, results):
            cand.execution = result
            stats.executions[result.status] += 1
            if result.pass_fraction < self.cfg.execution.min_pass_fraction:
                stats.rejected[f"tests_{result.status}"] += 1
            else:
                kept.append(cand)
        return self._test_strength(kept, stats) if self.cfg.execution.mutants else kept

    def _test_strength(
        self, candidates: list[Candidate], stats: GenerationStats
    ) -> list[Candidate]:
        """Run the tests of each program that passed them against its mutants; gate on
        the mutation score. A program not measured (no tests, or tests it fails) cannot
        show strong tests, so a gate above 0 rejects it too."""
        passed = [
            (c, c.execution)
            for c in candidates
            if c.execution is not None and c.execution.status == "passed"
        ]
        start = time.monotonic()
        results = mutation_results(
            [(c.solution, c.tests, run.runtime_s) for c, run in passed],
            self.sandbox_limits,
            self.cfg.execution.mutants,
            self.cfg.seed,
            self.cfg.execution.workers or None,
        )
        stats.seconds["mutation"] = round(time.monotonic() - start, 3)
        for (cand, _), result in zip(passed, results):
            cand.mutation = result
            stats.mutation_scores[f"{result.score:.1f}"] += 1
        minimum = self.cfg.execution.min_mutation_score
        if minimum == 0.0:
            return candidates
        kept = [c for c in candidates if c.mutation is not None and c.mutation.score >= minimum]
        stats.rejected["weak_tests"] += len(candidates) - len(kept)
        return kept

    def _judge(
        self, generation: int, candidates: list[Candidate], stats: GenerationStats
    ) -> list[Candidate]:
        weights = dict(self.cfg.fitness.weights)

        def accept(cand: Candidate, verdict: JudgeVerdict) -> None:
            cand.verdict = verdict
            stats.count_verdict(verdict)
            passed = cand.execution.pass_fraction if cand.execution is not None else None
            cand.fitness = fitness(verdict, weights, passed)
            if not self.gate.admits(verdict, weights, cand.fitness):
                raise Rejection("below_fitness_threshold")

        return self._stage(self.judge, generation, candidates, stats, accept)

    # -- a generation -------------------------------------------------------------------
    def _filter(
        self, filters: Sequence[Filter], candidates: list[Candidate], stats: GenerationStats
    ) -> list[Candidate]:
        for step in filters:
            candidates = step.apply(candidates, stats.rejected)
        return candidates

    def run_generation(self, generation: int) -> GenerationStats:
        """Instruct, filter, code, [dedup], [test], [execute], judge, commit.

        Every check that costs no model call runs before the next call is paid for:
        near-copies are dropped before coding (when dedup compares instructions), and
        failing programs before judging.
        """
        stats = GenerationStats()
        candidates = self._instruct(generation, stats)
        candidates = self._filter(self.instruction_filters, candidates, stats)
        candidates = self._code(generation, candidates, stats)
        if not self.early_dedup:
            candidates = self._filter([self.near_duplicates], candidates, stats)
        if self._uses_tester:
            candidates = self._write_tests(generation, candidates, stats)
        if self.cfg.execution.enabled:
            candidates = self._execute(candidates, stats)
        candidates = self._judge(generation, candidates, stats)
        survivors = [self._individual(c, generation) for c in candidates]
        signature_dtype = self.near_duplicates.index.signature_dtype
        signatures = np.array([c.signature for c in candidates], dtype=signature_dtype)
        stats.accepted = len(survivors)
        self.store.commit_generation(
            generation, survivors, signatures, stats.to_dict(len(self.population) + len(survivors))
        )
        self.near_duplicates.add([s.id for s in survivors], signatures)
        self.population.refresh()
        faults.point("generation")
        self._run_tried += stats.tried
        self._run_accepted += stats.accepted
        return stats

    def _individual(self, cand: Candidate, generation: int) -> Individual:
        plan = cand.plan
        assert cand.verdict is not None
        roles = self._roles_used(plan.operator)
        return Individual(
            id=content_id(cand.instruction),
            instruction=cand.instruction,
            solution=cand.solution,
            origin=plan.operator,
            generation=generation,
            method=plan.method,
            parents=tuple(p.id for p in plan.parents),
            colony=plan.colony,
            models={
                name: self.cfg.models[getattr(self.cfg.roles, name).model].path for name in roles
            },
            prompt_hashes={name: role.template.hash for name, role in roles.items()},
            scores=dict(cand.verdict.scores),
            fitness=round(cand.fitness, 4),
            rationale=cand.verdict.rationale,
            tests=cand.tests or None,
            execution=_execution_record(cand.execution, cand.mutation),
        )


def _execution_record(
    result: ExecutionResult | None, mutation: MutationResult | None
) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "status": result.status,
        "passed": result.passed,
        "total": result.total,
        "pass_fraction": round(result.pass_fraction, 4),
        "runtime_s": round(result.runtime_s, 4),
        # None: not mutation-tested (its tests did not all pass, or execution.mutants=0)
        "mutation_score": round(mutation.score, 4) if mutation else None,
        "mutants": mutation.mutants if mutation else None,
        "killed": mutation.killed if mutation else None,
    }


def dedup_text(cfg: Config, instruction: str, solution: str) -> str:
    """What near-duplicate checks compare (dedup.compare)."""
    return instruction if cfg.dedup.compare == "instruction" else f"{instruction}\n{solution}"


def sandbox_limits(execution: ExecutionConfig) -> SandboxLimits:
    """execution.* repeats the sandbox's limits under the same names, for Hydra."""
    return SandboxLimits(
        **{f.name: getattr(execution, f.name) for f in dataclasses.fields(SandboxLimits)}
    )


def build_contamination_checker(cfg: Config) -> ContaminationChecker | None:
    dc = cfg.decontamination
    if not dc.enabled:
        return None
    sources = [humaneval_source()] if dc.humaneval else []
    sources += [
        BenchmarkSource(b.name, b.path, tuple(b.text_fields), b.id_field) for b in dc.benchmarks
    ]
    if not sources:
        return None
    return ContaminationChecker(
        sources, ngram=dc.ngram, minhash_threshold=dc.minhash_threshold, seed=cfg.seed + 2
    )


def build_index(cfg: Config) -> NearDuplicateIndex:
    dd = cfg.dedup
    return NearDuplicateIndex(
        threshold=dd.threshold,
        num_perm=dd.num_perm,
        bands=dd.bands,
        shingle_size=dd.shingle_size,
        normalize=dd.normalize,
        seed=cfg.seed + 1,
    )


def seed_population(
    cfg: Config, store: RunStore, index: NearDuplicateIndex, seeds: Sequence[Individual]
) -> None:
    """Generation 0: the seeds, committed with their signatures like any generation."""
    texts = [dedup_text(cfg, s.instruction, s.solution) for s in seeds]
    store.commit_generation(0, seeds, index.signatures(texts), {"seeds": len(seeds)})


def restore_index(store: RunStore, index: NearDuplicateIndex) -> None:
    ids, signatures = store.signatures(index.signature_dtype)
    if ids:
        index.add(ids, signatures)


def summary_line(generation: int, stats: GenerationStats) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in stats.rejected.most_common() if v)
    tokens = sum(stats.tokens.completion.values())
    seconds = sum(stats.seconds.values())
    return (
        f"generation {generation}: tried {stats.tried}, rejected "
        f"{sum(stats.rejected.values())} ({reasons or 'none'}), accepted {stats.accepted}; "
        f"{tokens:,} tokens in {seconds:.0f} s ({tokens / max(seconds, 1e-9):,.0f} tok/s)"
    )


def evolve(
    cfg: Config,
    store: RunStore,
    display: RunDisplay,
    seeds: Sequence[Individual],
    engines: Mapping[str, Engine] | None = None,
    on_generation: Callable[[int, GenerationStats], None] | None = None,
) -> tuple[Evolution, RunEnd]:
    """Grow the population until target_size, max_generations or a stall; resumes from the
    store. Returns the run and why it stopped."""
    index = build_index(cfg)
    if store.generation is None:
        seed_population(cfg, store, index, seeds)
    restore_index(store, index)
    pool = open_executor(cfg, engines, display)
    try:
        gate = run_gate(cfg, store, pool, display, sandbox_limits(cfg.execution))
        evo = Evolution(cfg, store, pool, display, index, gate)
        generation = (store.generation or 0) + 1
        empty = _trailing_empty_generations(store.generation_stats())
        while (end := _end(cfg, len(evo.population), generation, empty, store)) is None:
            start = time.monotonic()
            stats = evo.run_generation(generation)
            display.line(
                summary_line(generation, stats)
                + f"; population {len(evo.population)} ({time.monotonic() - start:.0f} s)"
            )
            if on_generation is not None:
                on_generation(generation, stats)
            empty = 0 if stats.accepted else empty + 1
            generation += 1
    finally:
        pool.close()
    return evo, end


def _trailing_empty_generations(rows: Sequence[Mapping[str, Any]]) -> int:
    """Generations at the end of the run's history that accepted nothing (seeds excluded)."""
    count = 0
    for row in reversed(rows):
        if "seeds" in row or row.get("accepted", 0):
            break
        count += 1
    return count


def _end(
    cfg: Config, population: int, generation: int, empty: int, store: RunStore
) -> RunEnd | None:
    """Why the run stops before `generation`, or None to run it."""
    evo = cfg.evolution
    if population >= evo.target_size:
        return RunEnd(TARGET_REACHED, f"reached the target: population {population:,} of "
                                      f"evolution.target_size={evo.target_size:,}")
    if evo.max_generations and generation > evo.max_generations:
        return RunEnd(MAX_GENERATIONS, f"stopped at evolution.max_generations="
                                       f"{evo.max_generations} with population {population:,} "
                                       f"of evolution.target_size={evo.target_size:,}")
    if evo.stall_generations and empty >= evo.stall_generations:
        rejected: Counter[str] = Counter()
        for row in store.generation_stats()[-empty:]:
            rejected.update(row.get("rejected", {}))
        top = ", ".join(f"{reason} {n}" for reason, n in rejected.most_common(3)) or "none"
        return RunEnd(STALLED, f"stalled: the last {empty} generations accepted nothing "
                               f"(top rejections: {top}; evolution.stall_generations="
                               f"{evo.stall_generations})")
    return None
