"""Calibrate the judge: score correct and faulty solutions, measure how well it separates them.

The work is steps of a Flow (CalibrationInFlow): a run puts them in its first generation's
flow, so they overlap the generation's requests (run/calibrate.py); `calibrate` runs them
alone. The judge's requests are journaled like every other model call (generation 0 of the
request seeds, which the seeds hold and no generation asks), and so are the specimens the
sandbox found, so an interrupted calibration resumes without paying for an answer twice and asks
the judge about the same solutions. The outcome is stored in the run state and in
run_dir/calibration.json; a run with `fitness.threshold=auto` reuses it while what it
depends on (judge, prompt, seeds, settings) is unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from genetic_instruct.calibration.separation import (
    Scored,
    keeping_threshold,
    separation,
    share_reaching,
)
from genetic_instruct.calibration.specimens import Specimen, calibration_tasks, make_specimens
from genetic_instruct.config import Config
from genetic_instruct.console.display import RunDisplay
from genetic_instruct.data_settings import fingerprint
from genetic_instruct.evolution.fitness import judge_score
from genetic_instruct.evolution.flow import Flow, SandboxJob
from genetic_instruct.evolution.requests import (
    CALIBRATION_GENERATION,
    CALIBRATION_STAGE,
    role_request,
)
from genetic_instruct.evolution.roles import JudgeRole
from genetic_instruct.executors import Executor
from genetic_instruct.files.atomic import atomic_file
from genetic_instruct.files.ownership import JSON_OWNER
from genetic_instruct.individual import Individual
from genetic_instruct.llm.base import Completion
from genetic_instruct.prompts import load_templates
from genetic_instruct.rejection import Rejection
from genetic_instruct.sandbox import SandboxLimits
from genetic_instruct.sandbox.runner import usable_cpus
from genetic_instruct.state.journal import Journal, verdict_key
from genetic_instruct.state.meta import CALIBRATION, Calibration
from genetic_instruct.state.store import RunStore

CALIBRATION_JSON = "calibration.json"  # in the run directory, beside the state


def calibrate(
    cfg: Config,
    store: RunStore,
    executor: Executor,
    display: RunDisplay,
    seeds: Sequence[Individual],
    failing: Collection[str],
    limits: SandboxLimits,
) -> Calibration:
    """The stored calibration when still valid, else a new one, measured in a flow of its
    own (stored in the run state and written to run_dir/calibration.json)."""
    found = calibration_to_make(cfg, store, seeds, failing, limits)
    if isinstance(found, Calibration):
        return found
    journal = Journal(store)
    journal.reload()
    measured: list[Calibration] = []
    with display.stage(CALIBRATION_STAGE, None, "-") as tracker:
        flow = Flow(
            executor,
            journal,
            cfg.evolution.max_in_flight,
            cfg.execution.workers or usable_cpus(),
            lambda stage, completion: tracker.answered(stage, completion.completion_tokens),
        )
        flow.run([functools.partial(found.start, flow, measured.append)])
    return measured[0]


def calibration_to_make(
    cfg: Config,
    store: RunStore,
    seeds: Sequence[Individual],
    failing: Collection[str],
    limits: SandboxLimits,
) -> Calibration | CalibrationInFlow:
    """The stored calibration when still valid, else the work that makes one in a flow."""
    judge = JudgeRole(load_templates()["judge"], cfg.roles.judge.structured_output)
    tasks = calibration_tasks(seeds, failing, cfg.calibration.tasks, cfg.seed)
    key = _key(cfg, judge, tasks, limits)
    stored = store.meta.get(CALIBRATION)
    if stored is not None and stored.key == key:
        return stored
    return CalibrationInFlow(cfg, store, judge, tasks, key, limits)


@dataclass(frozen=True)
class SpecimenSet:
    """make_specimens' outcome as one sandbox verdict (Flow.sandbox journals dataclasses)."""

    specimens: list[Specimen]

    @classmethod
    def from_journal(cls, specimens: list[dict[str, Any]]) -> SpecimenSet:
        return cls([Specimen(**fields) for fields in specimens])


class CalibrationInFlow:
    """One calibration as steps of a Flow: the specimens from the sandbox, the judge's
    verdict on each, then the measure, stored before `done` gets it. In a generation's
    flow, its sandbox runs and requests share the machine and the engines with the
    generation's; alone, it is the whole flow (calibrate)."""

    def __init__(
        self,
        cfg: Config,
        store: RunStore,
        judge: JudgeRole,
        tasks: Sequence[Individual],
        key: str,
        limits: SandboxLimits,
    ) -> None:
        self.cfg, self.store, self.judge = cfg, store, judge
        self.tasks, self.key, self.limits = tasks, key, limits

    def start(self, flow: Flow, done: Callable[[Calibration], None]) -> None:
        """Make the specimens, journaled as one verdict: which mutants fail their tests can
        depend on the machine's load (a mutant's wall-clock limit), and the judge is asked
        about exactly these solutions."""
        faulty, seed = self.cfg.calibration.faulty_per_task, self.cfg.seed
        programs = [[t.id, t.instruction, t.solution, t.tests] for t in self.tasks]
        make = functools.partial(
            make_specimens,
            self.tasks,
            self.limits,
            faulty,
            seed,
            self.cfg.execution.workers or None,
        )
        job = SandboxJob(
            CALIBRATION_STAGE,
            verdict_key("calibration specimens", programs, asdict(self.limits), faulty, seed),
            lambda: SpecimenSet(make()),
            SpecimenSet.from_journal,
        )
        started = time.monotonic()
        flow.sandbox(job, lambda found: self._judge(flow, found.specimens, started, done))

    def _judge(
        self,
        flow: Flow,
        specimens: Sequence[Specimen],
        started: float,
        done: Callable[[Calibration], None],
    ) -> None:
        """Ask the judge about every specimen at once; the last answer measures them."""
        judged = time.monotonic()
        answers: dict[int, Completion] = {}

        def answered(i: int, completion: Completion) -> None:
            answers[i] = completion
            if len(answers) == len(specimens):
                finish()

        def finish() -> None:
            seconds = {
                "sandbox": round(judged - started, 1),
                "judge": round(time.monotonic() - judged, 1),
            }
            done(self._store(specimens, answers, seconds))

        if not specimens:
            finish()
        for i, specimen in enumerate(specimens):
            request = role_request(
                self.cfg,
                "judge",
                CALIBRATION_GENERATION,
                i,
                self.judge.prompt(specimen),
                i % self.cfg.evolution.colonies,
                self.judge.json_schema,
            )
            flow.ask("judge", request, functools.partial(answered, i), stage=CALIBRATION_STAGE)

    def _store(
        self,
        specimens: Sequence[Specimen],
        answers: Mapping[int, Completion],
        seconds: dict[str, float],
    ) -> Calibration:
        """Each specimen's judge score (unreadable verdicts counted by reason), measured,
        stored in the run state and written to calibration.json."""
        weights = dict(self.cfg.fitness.weights)
        scored: list[Scored] = []
        unreadable: Counter[str] = Counter()
        for i, specimen in enumerate(specimens):
            try:
                verdict = self.judge.read(answers[i], specimen)
            except Rejection as reason:
                unreadable[str(reason)] += 1
                continue
            scored.append(Scored(specimen.task, specimen.correct, judge_score(verdict, weights)))
        result = _measure(
            self.cfg, self.key, len(self.tasks), specimens, scored, unreadable, seconds
        )
        self.store.meta.set(CALIBRATION, result)
        _write_json(result, Path(self.cfg.run_dir) / CALIBRATION_JSON)
        return result


def _measure(
    cfg: Config,
    key: str,
    tasks: int,
    specimens: Sequence[Specimen],
    scored: Sequence[Scored],
    unreadable: Counter[str],
    seconds: dict[str, float],
) -> Calibration:
    cal = cfg.calibration
    correct = [s.score for s in scored if s.correct]
    faulty = [s.score for s in scored if not s.correct]
    found = separation(scored, cal.confidence, cal.resamples, cfg.seed)
    threshold = keeping_threshold(correct, cal.keep_correct) if correct else None
    operators = Counter(s.operator for s in specimens if s.operator is not None)
    return Calibration(
        key=key,
        judge_model=cfg.models[cfg.roles.judge.model].path,
        tasks=tasks,
        correct=len(correct),
        faulty=len(faulty),
        unreadable=dict(unreadable),
        auc=None if found is None else round(found.auc, 4),
        auc_interval=None if found is None else (round(found.low, 4), round(found.high, 4)),
        confidence=cal.confidence,
        keep_correct=cal.keep_correct,
        threshold=threshold,
        correct_kept=None if threshold is None else share_reaching(correct, threshold),
        faulty_let_through=None if threshold is None else share_reaching(faulty, threshold),
        gates=found is not None and found.above_chance,
        scores={"correct": histogram(correct), "faulty": histogram(faulty)},
        faulty_by_operator=dict(sorted(operators.items())),
        seconds=seconds,
    )


def _key(cfg: Config, judge: JudgeRole, tasks: Sequence[Individual], limits: SandboxLimits) -> str:
    """What a calibration's outcome depends on, as a digest: the data-shaping settings of
    the judge, its model and the calibration (as resume compatibility sees them), its
    prompt, the tasks and the sandbox's limits."""
    judged = (f"models.{cfg.roles.judge.model}.", "roles.judge.", "calibration.", "fitness.weights")
    settings = {
        key: value
        for key, value in fingerprint(cfg).items()
        if key.startswith(judged) and key != "calibration.at_start"
    }
    settings.update(
        seed=cfg.seed,
        prompt=judge.template.hash,
        tasks=[[t.id, t.instruction, t.solution, t.tests] for t in tasks],
        limits=repr(limits),
    )
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_json(result: Calibration, path: Path) -> None:
    """The calibration as a file of its own, for a reader without the run state."""
    with atomic_file(path) as out:
        text = json.dumps({**JSON_OWNER, **result.to_dict()}, indent=2)
        out.write((text + "\n").encode("utf-8"))


def histogram(scores: list[float]) -> dict[str, int]:
    """Scores (weighted means, so not always whole) to one decimal -> count, in order."""
    counts = Counter(f"{s:.1f}" for s in scores)
    return dict(sorted(counts.items(), key=lambda kv: float(kv[0])))
