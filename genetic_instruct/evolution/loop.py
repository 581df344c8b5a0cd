"""The Genetic-Instruct generation loop: plan, instruct, filter, dedup, code, judge, commit.

Each offspring moves to its next step the moment its previous answer arrives, with the
whole generation (all colonies together) in flight (flow.py), so an engine never waits for
a stage's slowest request. Colonies differ in their RNG streams, which depend only on (run
seed, generation, colony), and requests are numbered by plan and offspring, never by
arrival: a resumed run plans the same offspring and so sends the same requests, which the
journal then answers without the engine (and runs the same programs, whose verdicts it
replays without the sandbox).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import numpy as np

from genetic_instruct import faults
from genetic_instruct.config import Config, DedupCompare, TestsFrom, roles_in_use
from genetic_instruct.console.display import RunDisplay
from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.from_config import build_contamination_checker, build_index, dedup_text
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.filters import (
    Contamination,
    CopyOfParent,
    Filter,
    InstructionLength,
    NearDuplicates,
)
from genetic_instruct.evolution.filters.near_duplicates import BATCH_REASON, EarlierOffspring
from genetic_instruct.evolution.fitness import FitnessGate, JudgeVerdict, fitness
from genetic_instruct.evolution.flow import Flow, SandboxJob
from genetic_instruct.evolution.operators import MUTATION, OffspringPlan, plan_colony
from genetic_instruct.evolution.requests import role_request
from genetic_instruct.evolution.roles import (
    CoderRole,
    CrossoverRole,
    JudgeRole,
    MutationRole,
    Role,
    TesterRole,
)
from genetic_instruct.executors import Executor
from genetic_instruct.individual import Individual, content_id
from genetic_instruct.llm.base import Completion, TokenCounter
from genetic_instruct.prompts import load_templates
from genetic_instruct.rejection import Rejection
from genetic_instruct.sandbox import ExecutionResult, run_tests
from genetic_instruct.sandbox.mutation_score import MutationResult, mutation_results
from genetic_instruct.sandbox.runner import usable_cpus
from genetic_instruct.state.journal import Journal, verdict_key
from genetic_instruct.state.store import RunStore

Reading = TypeVar("Reading")


@dataclass
class GenerationStats:
    tried: int = 0  # offspring asked of the Instructor
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    tokens: TokenCounter = field(default_factory=TokenCounter)
    # per stage, from its first request to its last answer: stages overlap
    seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
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
            "wall_seconds": self.wall_seconds,
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


class Brood:
    """One generation's offspring on their way through the flow, numbered in plan order.

    Rejections are kept on each offspring and counted at the end in number order, and a
    near-copy of an earlier offspring (found whenever the answers allow) overrides any
    other fate: so the counts, like the records, do not depend on the order of arrival.
    """

    def __init__(self, generation: int, flow: Flow, gate: EarlierOffspring) -> None:
        self.generation = generation
        self.flow = flow
        self.gate = gate
        self.rejected: Counter[str] = Counter()  # answers that never became an offspring
        self.waiting: list[Candidate] = []  # new tasks, to be screened together
        self._offspring: dict[int, Candidate] = {}

    def add(self, cand: Candidate) -> Candidate:
        self._offspring[cand.number] = cand
        return cand

    def offer(self, cand: Candidate) -> None:
        """The candidate reaches the check against earlier offspring."""
        assert cand.signature is not None
        cand.gated = True
        self.gate.offer(cand.number, cand.signature)

    def reject(self, cand: Candidate, reason: str) -> None:
        cand.rejected = reason
        if not cand.gated:  # it will never reach the check: it competes with no one
            self.gate.skip(cand.number)

    def sandbox(
        self, cand: Candidate, job: SandboxJob[Reading], then: Callable[[Reading], None]
    ) -> None:
        def ran(result: Reading) -> None:
            if not self.gate.duplicate(cand.number):
                then(result)

        self.flow.sandbox(job, ran)

    def tally(self, stats: GenerationStats) -> list[Candidate]:
        """Count every offspring's fate into `stats`; the survivors, in number order."""
        stats.rejected.update(self.rejected)
        kept = []
        for number in sorted(self._offspring):
            cand = self._offspring[number]
            if self.gate.duplicate(number):
                stats.rejected[BATCH_REASON] += 1
                continue
            if cand.verdict is not None:
                stats.count_verdict(cand.verdict)
            if cand.execution is not None:
                stats.executions[cand.execution.status] += 1
            if cand.mutation is not None:
                stats.mutation_scores[f"{cand.mutation.score:.1f}"] += 1
            if cand.rejected is not None:
                stats.rejected[cand.rejected] += 1
            else:
                assert cand.verdict is not None, f"offspring {number} never finished"
                kept.append(cand)
        return kept


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
        self.journal = Journal(store)
        templates = load_templates()
        execution = cfg.execution
        self.crossover = CrossoverRole(templates["crossover"])
        self.mutation = MutationRole(templates["mutation"], cfg.evolution.mutation_methods)
        # The Coder writes the tests too (one request), unless the Tester or nobody does.
        self.coder_writes_tests = execution.enabled and execution.tests_from == TestsFrom.coder
        self.coder = CoderRole(
            templates["coder_tests" if self.coder_writes_tests else "coder"],
            cfg.filters.max_solution_chars,
        )
        self.tester = TesterRole(templates["tester"])
        self.judge = JudgeRole(templates["judge"], cfg.roles.judge.structured_output)
        self.sandbox_limits = execution.sandbox_limits()
        self.near_duplicates = NearDuplicates(
            index, store.ids(), lambda c: dedup_text(cfg.dedup.compare, c.instruction, c.solution)
        )
        self.instruction_filters: list[Filter] = [InstructionLength(cfg.filters), CopyOfParent()]
        checker = build_contamination_checker(cfg.decontamination, cfg.seed)
        if checker is not None:
            self.instruction_filters.append(Contamination(checker))
        self.early_dedup = cfg.dedup.compare == DedupCompare.instruction
        self._uses_tester = "tester" in roles_in_use(cfg)
        self._run_tried = 0  # over the generations run by this process, for the display
        self._run_accepted = 0

    def _roles_used(self, operator: str) -> dict[str, Role[Any, Any]]:
        """Engine role -> role object, for one offspring's lineage."""
        roles: dict[str, Role[Any, Any]] = {
            "instructor": self.mutation if operator == MUTATION else self.crossover,
            "coder": self.coder,
            "judge": self.judge,
            "tester": self.tester,
        }
        return {name: roles[name] for name in roles_in_use(self.cfg)}

    def _acceptance(self) -> str:
        if not self._run_tried:
            return "-"
        return (
            f"{self._run_accepted}/{self._run_tried} ({self._run_accepted / self._run_tried:.0%})"
        )

    # -- a generation -------------------------------------------------------------------
    def run_generation(self, generation: int) -> GenerationStats:
        """Every offspring goes instruct, filters, [dedup], code, [dedup], [test],
        [execute], judge, each step as soon as its previous answer is in; the survivors
        are committed in offspring order.

        Every check that costs no model call runs before the next call is paid for:
        near-copies are dropped before coding (when dedup compares instructions), and
        failing programs before judging.
        """
        stats = GenerationStats()
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
        self.journal.reload()
        replayed_before = self.journal.replayed
        start = time.monotonic()
        with self.display.stage("requests", None, self._acceptance()) as tracker:

            def answered(role: str, completion: Completion) -> None:
                stats.tokens.add(role, [completion])
                tracker.answered(role, completion.completion_tokens)

            flow = Flow(
                self._engines,
                self.journal,
                self.cfg.evolution.max_in_flight,
                self.cfg.execution.workers or usable_cpus(),
                answered,
                on_idle=lambda: self._screen(brood),
            )
            brood = Brood(generation, flow, EarlierOffspring(self._empty_index(), stats.tried))
            firsts = itertools.accumulate((p.n_tasks for p in plans), initial=0)
            flow.run(
                functools.partial(self._instruct, brood, i, plan, first)
                for i, (plan, first) in enumerate(zip(plans, firsts))
            )
        stats.seconds = flow.spans
        stats.wall_seconds = round(time.monotonic() - start, 3)
        stats.replayed = self.journal.replayed - replayed_before
        kept = brood.tally(stats)
        survivors = [self._individual(c, generation) for c in kept]
        signature_dtype = self.near_duplicates.index.signature_dtype
        signatures = np.array([c.signature for c in kept], dtype=signature_dtype)
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

    # -- one offspring's steps, each called when the previous one's answer is in -------
    def _instructor(self, plan: OffspringPlan) -> Role[OffspringPlan, list[str]]:
        return self.mutation if plan.operator == MUTATION else self.crossover

    def _instruct(self, brood: Brood, index: int, plan: OffspringPlan, first: int) -> None:
        """Ask for plan number `index`'s tasks, which become offspring first, first + 1..."""
        role = self._instructor(plan)
        request = role_request(
            self.cfg, role.engine_role, brood.generation, index, role.prompt(plan), plan.colony
        )
        brood.flow.ask(
            role.engine_role, request, lambda answer: self._read_tasks(brood, plan, first, answer)
        )

    def _read_tasks(
        self, brood: Brood, plan: OffspringPlan, first: int, answer: Completion
    ) -> None:
        try:
            tasks = self._instructor(plan).read(answer, plan)
        except Rejection as reason:  # the whole answer: every task it was to hold
            brood.rejected[str(reason)] += plan.n_tasks
            tasks = []
        else:
            brood.rejected["instructor_no_task"] += max(plan.n_tasks - len(tasks), 0)
        for number in range(first, first + plan.n_tasks):
            if number - first < len(tasks):
                brood.waiting.append(
                    brood.add(Candidate(plan, tasks[number - first], number=number))
                )
            else:
                brood.gate.skip(number)

    def _screen(self, brood: Brood) -> None:
        """Screen every new task waiting, as one batch (when the flow has no answer to hand
        on): the filters and the population check are vectorized over it, and offspring
        one by one cost five times the loop's time. Each verdict concerns one offspring
        alone, so batches of any make-up give the same ones."""
        batch, brood.waiting = brood.waiting, []
        steps = [*self.instruction_filters, *([self.near_duplicates] if self.early_dedup else [])]
        for step in steps:
            if not batch:
                return
            kept = []
            for cand, reason in zip(batch, step.reasons(batch), strict=True):
                if reason is None:
                    kept.append(cand)
                else:
                    brood.reject(cand, reason)
            batch = kept
        if self.early_dedup:  # before coding: near-copies cost no Coder call
            for cand in batch:
                brood.offer(cand)
            batch = [cand for cand in batch if not brood.gate.duplicate(cand.number)]
        for cand in batch:
            self._code(brood, cand)

    def _dedup(
        self, brood: Brood, cand: Candidate, then: Callable[[Brood, Candidate], None]
    ) -> None:
        """The population check, then the check against earlier offspring, after coding
        (dedup.compare=instruction+solution; before coding, _screen does both)."""
        reason = self.near_duplicates.reasons([cand])[0]
        if reason is not None:
            brood.reject(cand, reason)
            return
        brood.offer(cand)
        if not brood.gate.duplicate(cand.number):
            then(brood, cand)

    def _code(self, brood: Brood, cand: Candidate) -> None:
        def accept(reading: tuple[str, str]) -> None:
            cand.solution, tests = reading
            cand.tests = tests if self.coder_writes_tests else ""

        def then() -> None:
            if self.early_dedup:
                self._write_tests(brood, cand)
            else:
                self._dedup(brood, cand, self._write_tests)

        self._ask(brood, self.coder, cand, accept, then)

    def _write_tests(self, brood: Brood, cand: Candidate) -> None:
        if not self._uses_tester:
            self._execute(brood, cand)
            return

        def accept(tests: str) -> None:
            cand.tests = tests

        self._ask(brood, self.tester, cand, accept, lambda: self._execute(brood, cand))

    def _execute(self, brood: Brood, cand: Candidate) -> None:
        """Run the solution against its tests in the sandbox; gate on the pass fraction.

        With `min_pass_fraction` 0 the results are recorded but gate nothing, and an
        offspring without usable tests goes on unexecuted (for models too small to write
        tests, like the embedded demo's).
        """
        execution = self.cfg.execution
        if not execution.enabled:
            self._judge(brood, cand)
            return
        if not cand.tests:
            if execution.min_pass_fraction > 0:
                brood.reject(cand, "no_tests")
            else:
                self._gate_strength(brood, cand)
            return

        def executed(result: ExecutionResult) -> None:
            cand.execution = result
            if result.pass_fraction < execution.min_pass_fraction:
                brood.reject(cand, f"tests_{result.status}")
            else:
                self._test_strength(brood, cand)

        limits = self.sandbox_limits
        job = SandboxJob(
            "execution",
            verdict_key("execution", cand.solution, cand.tests, dataclasses.asdict(limits)),
            functools.partial(run_tests, cand.solution, cand.tests, limits),
            ExecutionResult,
        )
        brood.sandbox(cand, job, executed)

    def _test_strength(self, brood: Brood, cand: Candidate) -> None:
        """Run the tests of a program that passed them against its mutants."""
        run = cand.execution
        if not self.cfg.execution.mutants or run is None or run.status != "passed":
            self._gate_strength(brood, cand)
            return

        def measured(result: MutationResult) -> None:
            cand.mutation = result
            self._gate_strength(brood, cand)

        program = (cand.solution, cand.tests, run.runtime_s)
        limits, k, seed = self.sandbox_limits, self.cfg.execution.mutants, self.cfg.seed
        measure = functools.partial(mutation_results, [program], limits, k, seed, 1)
        job = SandboxJob(
            "mutation",
            verdict_key("mutation", *program, dataclasses.asdict(limits), k, seed),
            lambda: measure()[0],
            MutationResult,
        )
        brood.sandbox(cand, job, measured)

    def _gate_strength(self, brood: Brood, cand: Candidate) -> None:
        """Gate on the mutation score. A program not measured (no tests, or tests it
        fails) cannot show strong tests, so a gate above 0 rejects it too."""
        minimum = self.cfg.execution.min_mutation_score
        if minimum and (cand.mutation is None or cand.mutation.score < minimum):
            brood.reject(cand, "weak_tests")
        else:
            self._judge(brood, cand)

    def _judge(self, brood: Brood, cand: Candidate) -> None:
        weights = dict(self.cfg.fitness.weights)

        def accept(verdict: JudgeVerdict) -> None:
            cand.verdict = verdict
            passed = cand.execution.pass_fraction if cand.execution is not None else None
            cand.fitness = fitness(verdict, weights, passed)
            if not self.gate.admits(verdict, weights, cand.fitness):
                raise Rejection("below_fitness_threshold")

        self._ask(brood, self.judge, cand, accept, lambda: None)

    def _ask(
        self,
        brood: Brood,
        role: Role[Candidate, Reading],
        cand: Candidate,
        accept: Callable[[Reading], None],
        then: Callable[[], None],
    ) -> None:
        """Ask `role` about `cand`; `accept` stores the reading or raises Rejection (as the
        role's own rejections of unreadable, truncated or failed answers do)."""

        def answered(completion: Completion) -> None:
            if brood.gate.duplicate(cand.number):  # found to copy an earlier one meanwhile
                return
            try:
                accept(role.read(completion, cand))
            except Rejection as reason:
                brood.reject(cand, str(reason))
                return
            then()

        request = role_request(
            self.cfg,
            role.engine_role,
            brood.generation,
            cand.number,
            role.prompt(cand),
            cand.plan.colony,
            role.json_schema,
        )
        brood.flow.ask(role.engine_role, request, answered)

    def _empty_index(self) -> NearDuplicateIndex:
        return build_index(self.cfg, workers=1)

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
