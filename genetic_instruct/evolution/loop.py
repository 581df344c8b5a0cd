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
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from genetic_instruct import faults
from genetic_instruct.config import Config, DedupCompare, TestsFrom, roles_in_use, run_languages
from genetic_instruct.console.display import RunDisplay
from genetic_instruct.dedup import NearDuplicateIndex
from genetic_instruct.dedup.from_config import build_contamination_checker, dedup_text
from genetic_instruct.dedup.in_order import InOrderIndex
from genetic_instruct.evolution.answer_samples import AnswerSamples
from genetic_instruct.evolution.asking import ask_about
from genetic_instruct.evolution.attempts import AttemptsStep
from genetic_instruct.evolution.awaited_gate import AwaitedGate, GateToCome
from genetic_instruct.evolution.brood import Brood
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.collection_pace import generation_pace
from genetic_instruct.evolution.filters import (
    Contamination,
    CopyOfParent,
    Filter,
    InstructionLength,
    NearDuplicates,
)
from genetic_instruct.evolution.filters.near_duplicates import EarlierOffspring
from genetic_instruct.evolution.fitness import FitnessGate, JudgeVerdict, fitness, judge_score
from genetic_instruct.evolution.flow import Flow, SandboxJob
from genetic_instruct.evolution.operators import MUTATION, OffspringPlan, colony_rng, plan_colony
from genetic_instruct.evolution.population import StoredPopulation
from genetic_instruct.evolution.requests import CALIBRATION_STAGE, role_request
from genetic_instruct.evolution.roles import (
    CoderRole,
    CrossoverRole,
    JudgeRole,
    MutationRole,
    Role,
    Solved,
    SolverRole,
    TesterRole,
)
from genetic_instruct.executors import Executor
from genetic_instruct.individual import Individual
from genetic_instruct.languages import Language
from genetic_instruct.llm.base import Completion
from genetic_instruct.prompts import load_templates
from genetic_instruct.prompts.languages import language_prompts
from genetic_instruct.rejection import Rejection
from genetic_instruct.sandbox.mutation_score import MutationResult, TestedProgram, mutation_results
from genetic_instruct.sandbox.runner import usable_cpus
from genetic_instruct.state.generation_stats import GenerationStats
from genetic_instruct.state.journal import Journal, verdict_key
from genetic_instruct.state.store import RunStore

Reading = TypeVar("Reading")
# A step of one offspring: it ends by handing the offspring on (the callable), or by
# rejecting it; a step that waits for an answer hands it on from the answer's continuation.
Step = Callable[[Brood, Candidate, Callable[[], None]], None]


class Evolution:
    """A run: the population, its dedup index and the engines, driven one generation at a time.

    The roles read the models' answers and the filters judge candidates; this class only
    orders them (`steps`, named once) and counts what each turns away.
    """

    def __init__(
        self,
        cfg: Config,
        store: RunStore,
        engines: Executor,
        display: RunDisplay,
        index: NearDuplicateIndex,
        gate: FitnessGate | GateToCome,
    ) -> None:
        self.cfg = cfg
        self.gate = AwaitedGate(gate)  # a calibration to come rides in generation 1's flow
        self.store = store
        self.display = display
        self.population = StoredPopulation(store)
        self._engines = engines
        self.journal = Journal(store)
        templates = load_templates()
        execution = cfg.execution
        self.languages = run_languages(cfg)
        self.crossover = CrossoverRole(language_prompts(templates, "crossover"))
        self.mutation = MutationRole(
            templates["mutation"], cfg.evolution.mutation_methods, templates["translation"]
        )
        # The Coder writes the tests too (one request), unless the Tester or nobody does.
        self.coder_writes_tests = execution.enabled and execution.tests_from == TestsFrom.coder
        self.coder = CoderRole(
            language_prompts(templates, "coder_tests" if self.coder_writes_tests else "coder"),
            cfg.filters.max_solution_chars,
        )
        self.tester = TesterRole(language_prompts(templates, "tester"))
        solver = SolverRole(language_prompts(templates, "coder"), cfg.filters.max_solution_chars)
        self.judge = JudgeRole(templates["judge"], cfg.roles.judge.structured_output)
        self.sandbox_limits = execution.sandbox_limits()
        self.attempts = AttemptsStep(cfg, solver, self.sandbox_limits)
        self.near_duplicates = NearDuplicates(
            index,
            store.has_individual,
            lambda c: dedup_text(cfg.dedup.compare, c.instruction, c.solution),
        )
        self.instruction_filters: list[Filter] = [InstructionLength(cfg.filters), CopyOfParent()]
        checker = build_contamination_checker(cfg.decontamination, cfg.seed)
        if checker is not None:
            self.instruction_filters.append(Contamination(checker))
        self.early_dedup = cfg.dedup.compare == DedupCompare.instruction
        # An offspring's steps once its task is read and screened (in batches, _screen),
        # in order. Every check that costs no model call comes before the next call is
        # paid for: near-copies are dropped before coding when dedup compares
        # instructions, and failing programs before judging.
        self.steps: list[Step] = [
            self._code,
            *([] if self.early_dedup else [self._dedup]),
            *([self._write_tests] if "tester" in roles_in_use(cfg) else []),
            *(self._execution_steps() if execution.enabled else []),
            self._judge,
        ]
        self._run_tried = 0  # over the generations run by this process, for the display
        self._run_accepted = 0
        roles = roles_in_use(cfg)  # and the model of each, the same for every survivor
        self._models_by_role = (
            roles,
            {r: cfg.models[getattr(cfg.roles, r).model].path for r in roles},
        )

    def _execution_steps(self) -> list[Step]:
        """Run the attempts, measure the tests of the one exported, gate on their strength."""
        return [self.attempts, self._measure_tests, self._gate_tests]

    def _acceptance(self) -> str:
        if not self._run_tried:
            return "-"
        return (
            f"{self._run_accepted}/{self._run_tried} ({self._run_accepted / self._run_tried:.0%})"
        )

    # -- a generation -------------------------------------------------------------------
    def run_generation(self, generation: int) -> GenerationStats:
        """Every offspring is instructed, read, screened and then goes through `steps`,
        each as soon as the previous one's answer is in; the survivors are committed in
        offspring order."""
        stats = GenerationStats(generation)
        parent_weights = self.population.parent_weights(self.cfg.evolution.parent_weighting)
        members = self.population.languages() if len(self.languages) > 1 else None
        plans = [
            plan
            for colony in range(self.cfg.evolution.colonies)
            for plan in plan_colony(
                colony_rng(self.cfg.seed, generation, colony),
                self.population,
                self.cfg.evolution,
                colony,
                parent_weights,
                self.languages,
                members,
            )
        ]
        stats.tried = sum(p.n_tasks for p in plans)
        self.journal.reload()
        replayed_before = self.journal.replayed
        start = time.monotonic()
        with (
            generation_pace(),
            self.display.stage("requests", None, self._acceptance()) as tracker,
        ):

            def answered(role: str, completion: Completion) -> None:
                tracker.answered(role, completion.completion_tokens)
                if role != CALIBRATION_STAGE:  # riding along; not this generation's cost
                    stats.count_tokens(role, completion.prompt_tokens, completion.completion_tokens)

            flow = Flow(
                self._engines,
                self.journal,
                self.cfg.evolution.max_in_flight,
                self.cfg.execution.workers or usable_cpus(),
                answered,
                on_idle=lambda: self._screen(brood),
            )
            gate = EarlierOffspring(InOrderIndex(self.near_duplicates.index), stats.tried)
            stored = self.store.rejected_answer_counts()  # by the generations before
            samples = AnswerSamples(generation, self.cfg.rejected_samples, stored, gate)
            brood = Brood(generation, flow, gate, samples)
            firsts = itertools.accumulate((p.n_tasks for p in plans), initial=0)
            flow.run(
                itertools.chain(
                    self.gate.start(flow),
                    (
                        functools.partial(self._instruct, brood, i, plan, first)
                        for i, (plan, first) in enumerate(zip(plans, firsts))
                    ),
                )
            )
        stats.seconds = {k: v for k, v in flow.spans.items() if k != CALIBRATION_STAGE}
        stats.wall_seconds = round(time.monotonic() - start, 3)
        stats.replayed = self.journal.replayed - replayed_before
        weights = dict(self.cfg.fitness.weights)
        kept = brood.tally(stats, lambda verdict: judge_score(verdict, weights))
        survivors = [self._individual(c, generation) for c in kept]
        signature_dtype = self.near_duplicates.index.signature_dtype
        signatures = np.array([c.sketch.signature for c in kept if c.sketch], signature_dtype)
        stats.accepted = len(survivors)
        stats.population = len(self.population) + len(survivors)
        self.store.commit_generation(stats, survivors, signatures, brood.samples.kept())
        self.near_duplicates.add([s.id for s in survivors], signatures)
        self.population.refresh()
        faults.point("generation")
        self._run_tried += stats.tried
        self._run_accepted += stats.accepted
        return stats

    # -- before the steps: the Instructor's answers, read and screened -------------------
    def _instructor(self, plan: OffspringPlan) -> Role[OffspringPlan, list[str]]:
        return self.mutation if plan.operator == MUTATION else self.crossover

    def _instruct(self, brood: Brood, index: int, plan: OffspringPlan, first: int) -> None:
        """Ask for plan number `index`'s tasks, which become offspring first, first + 1..."""
        role = self._instructor(plan)
        request = role_request(
            self.cfg, role.engine_role, brood.generation, index, role.prompt(plan), plan.colony
        )
        brood.flow.ask(
            role.engine_role,
            request,
            lambda answer: self._read_tasks(brood, index, plan, first, answer),
        )

    def _read_tasks(
        self, brood: Brood, index: int, plan: OffspringPlan, first: int, answer: Completion
    ) -> None:
        try:
            tasks = self._instructor(plan).read(answer, plan)
        except Rejection as rejection:  # the whole answer: every task it was to hold
            reason, tasks = str(rejection), []
            brood.rejected[reason] += plan.n_tasks
        else:
            reason = "instructor_no_task"
            brood.rejected[reason] += max(plan.n_tasks - len(tasks), 0)
        if len(tasks) < plan.n_tasks:
            brood.samples.offer("instructor", reason, index, answer, settled=True)
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
        filters = [*self.instruction_filters, *([self.near_duplicates] if self.early_dedup else [])]
        for step in filters:
            if not batch:
                return
            batch = brood.screen(step, batch)
        if self.early_dedup:  # before coding: near-copies cost no Coder call
            for cand in batch:
                brood.offer(cand)
            batch = [cand for cand in batch if not brood.gate.duplicate(cand.number)]
        for cand in batch:
            self._go_on(brood, cand, 0)

    # -- the steps, in the order `steps` names ------------------------------------------
    def _go_on(self, brood: Brood, cand: Candidate, step: int) -> None:
        """Hand the offspring to step number `step` (past the last one, it is done)."""
        if step < len(self.steps):
            self.steps[step](brood, cand, functools.partial(self._go_on, brood, cand, step + 1))

    def _code(self, brood: Brood, cand: Candidate, go_on: Callable[[], None]) -> None:
        def accept(solved: Solved) -> None:
            cand.solution = solved.solution
            cand.tests = solved.tests if self.coder_writes_tests else ""
            # kept only once a run shows it led to a passing solution (attempts.py)
            cand.reasoning = solved.reasoning if self.cfg.export.reasoning else None

        self._ask(brood, self.coder, cand, accept, go_on)

    def _dedup(self, brood: Brood, cand: Candidate, go_on: Callable[[], None]) -> None:
        """The population check, then the check against earlier offspring, after coding
        (dedup.compare=instruction+solution; before coding, _screen does both)."""
        if not brood.screen(self.near_duplicates, [cand]):
            return
        brood.offer(cand)
        if not brood.gate.duplicate(cand.number):
            go_on()

    def _write_tests(self, brood: Brood, cand: Candidate, go_on: Callable[[], None]) -> None:
        def accept(tests: str) -> None:
            cand.tests = tests

        self._ask(brood, self.tester, cand, accept, go_on)

    def _measure_tests(self, brood: Brood, cand: Candidate, go_on: Callable[[], None]) -> None:
        """Run the tests of a program that passed them against its mutants."""
        run = cand.execution
        if not self.cfg.execution.mutants or run is None or run.status != "passed":
            go_on()
            return

        def measured(result: MutationResult) -> None:
            cand.mutation = result
            go_on()

        program = TestedProgram(
            cand.solution, cand.tests, run.runtime_s, Language(cand.plan.language)
        )
        limits, k, seed = self.sandbox_limits, self.cfg.execution.mutants, self.cfg.seed
        service = self.cfg.execution.service()
        measure = functools.partial(mutation_results, [program], limits, k, seed, 1, service)
        job = SandboxJob(
            "mutation",
            verdict_key("mutation", *program.key(), dataclasses.asdict(limits), k, seed),
            lambda: measure()[0],
            MutationResult,
        )
        brood.sandbox(cand, job, measured)

    def _gate_tests(self, brood: Brood, cand: Candidate, go_on: Callable[[], None]) -> None:
        """Gate on the mutation score. A program not measured (no tests, or tests it
        fails) cannot show strong tests, so a gate above 0 rejects it too."""
        minimum = self.cfg.execution.min_mutation_score
        if minimum and (cand.mutation is None or cand.mutation.score < minimum):
            brood.reject(cand, "weak_tests")
        else:
            go_on()

    def _judge(self, brood: Brood, cand: Candidate, go_on: Callable[[], None]) -> None:
        weights = dict(self.cfg.fitness.weights)

        def accept(verdict: JudgeVerdict) -> None:
            cand.verdict = verdict
            passed = cand.execution.pass_fraction if cand.execution is not None else None
            cand.fitness = fitness(verdict, weights, passed)
            if not self.gate.known.admits(verdict, weights, cand.fitness):
                raise Rejection("below_fitness_threshold")

        self._ask(brood, self.judge, cand, accept, go_on, hold=self.gate.hold)

    def _ask(
        self,
        brood: Brood,
        role: Role[Candidate, Reading],
        cand: Candidate,
        accept: Callable[[Reading], None],
        then: Callable[[], None],
        hold: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        """Ask `role` about `cand`; `accept` stores the reading or raises Rejection (as the
        role's own rejections of unreadable, truncated or failed answers do); `hold` as
        ask_about's."""

        def refused(reason: Rejection, completion: Completion) -> None:
            brood.reject_answer(cand, str(reason), role.engine_role, completion)

        ask_about(self.cfg, brood, role, cand, accept, then, refused, hold=hold)

    def _individual(self, cand: Candidate, generation: int) -> Individual:
        """The survivor, with the model and the prompt of each role the run asks."""
        made_by: dict[str, Role[Any, Any]] = {
            "instructor": self._instructor(cand.plan),
            "coder": self.coder,
            "judge": self.judge,
            "tester": self.tester,
            "solver": self.attempts.solver,
        }
        roles, models = self._models_by_role
        hashes = {
            name: made_by[name].template_for(cand.plan if name == "instructor" else cand).hash
            for name in roles
        }
        return cand.individual(generation, models, hashes)
