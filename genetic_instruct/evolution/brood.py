"""One generation's offspring on their way through the flow, and the counting of their fates.

Offspring are numbered in plan order. A fate decided before an offspring reaches the check
against earlier offspring (EarlierOffspring) is final at once, and counted then: the
filters count their drops themselves (Filter.apply), and an answer that never became an
offspring is counted when it is read. A fate decided after that check is kept on the
offspring and counted at the end, in number order, because a near-copy of an earlier
offspring (found whenever the answers allow) overrides it. So the counts, like the
records, do not depend on the order in which answers arrive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from genetic_instruct.evolution.answer_samples import AnswerSamples
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.filters import Filter
from genetic_instruct.evolution.filters.near_duplicates import BATCH_REASON, EarlierOffspring
from genetic_instruct.evolution.fitness import JudgeVerdict
from genetic_instruct.evolution.flow import Flow, SandboxJob
from genetic_instruct.llm.base import Completion
from genetic_instruct.state.generation_stats import GenerationStats

Reading = TypeVar("Reading")


class Brood:
    def __init__(
        self, generation: int, flow: Flow, gate: EarlierOffspring, samples: AnswerSamples
    ) -> None:
        self.generation = generation
        self.flow = flow
        self.gate = gate
        self.samples = samples  # raw answers kept for their rejection reasons
        self.rejected: Counter[str] = Counter()  # fates final when decided (see above)
        self.waiting: list[Candidate] = []  # new tasks, to be screened together
        self._offspring: dict[int, Candidate] = {}

    def add(self, cand: Candidate) -> Candidate:
        self._offspring[cand.number] = cand
        return cand

    def screen(self, step: Filter, batch: list[Candidate]) -> list[Candidate]:
        """The candidates `step` keeps; those it drops never reach the check against
        earlier offspring (they compete with no one), and `step` has counted them."""
        kept = step.apply(batch, self.rejected)
        numbers = {cand.number for cand in kept}
        for cand in batch:
            if cand.number not in numbers:
                self.gate.skip(cand.number)
        return kept

    def offer(self, cand: Candidate) -> None:
        """The candidate reaches the check against earlier offspring."""
        assert cand.sketch is not None
        cand.gated = True
        self.gate.offer(cand.number, cand.sketch)

    def reject(self, cand: Candidate, reason: str) -> None:
        cand.rejected = reason
        if not cand.gated:  # it will never reach the check: its fate is final
            self.rejected[reason] += 1
            self.gate.skip(cand.number)

    def reject_answer(self, cand: Candidate, reason: str, role: str, answer: Completion) -> None:
        """`role`'s answer about `cand` turns it down; the answer may be kept to be seen."""
        self.reject(cand, reason)
        self.samples.offer(role, reason, cand.number, answer, settled=not cand.gated)

    def sandbox(
        self, cand: Candidate, job: SandboxJob[Reading], then: Callable[[Reading], None]
    ) -> None:
        def ran(result: Reading) -> None:
            if not self.gate.duplicate(cand.number):
                then(result)

        self.flow.sandbox(job, ran)

    def tally(
        self, stats: GenerationStats, judge_score: Callable[[JudgeVerdict], float]
    ) -> list[Candidate]:
        """Count every offspring's fate into `stats`; the survivors, in number order.
        `judge_score` is what the judge's verdict weighs (fitness.judge_score)."""
        stats.rejected.update(self.rejected)
        kept = []
        for number in sorted(self._offspring):
            cand = self._offspring[number]
            if self.gate.duplicate(number):
                stats.rejected[BATCH_REASON] += 1
                continue
            if cand.verdict is not None:
                stats.count_scores(cand.verdict.scores)
            if cand.execution is not None:
                stats.executions[cand.execution.status] += 1
            if cand.mutation is not None:
                stats.mutation_scores[f"{cand.mutation.score:.1f}"] += 1
            tried = cand.attempted
            if tried is not None:
                stats.count_attempts(tried.difficulty, tried.verdicts, len(tried.suspects))
                if cand.verdict is not None:
                    stats.count_judged(tried.passed / tried.count, judge_score(cand.verdict))
            if cand.rejected is None:
                assert cand.verdict is not None, f"offspring {number} never finished"
                kept.append(cand)
            elif cand.gated:  # decided after the check: no near-copy overrode it
                stats.rejected[cand.rejected] += 1
        return kept
