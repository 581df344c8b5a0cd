"""Calibrate the judge: score correct and faulty solutions, measure how well it separates them.

The judge's requests are journaled like every other model call (generation 0 of the request
seeds, which the seeds hold and no generation asks), and so are the specimens the sandbox
found, so an interrupted calibration resumes without paying for an answer twice and asks
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
from collections.abc import Collection, Sequence
from dataclasses import asdict
from pathlib import Path

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
from genetic_instruct.evolution.flow import Flow
from genetic_instruct.evolution.requests import CALIBRATION_GENERATION, role_request
from genetic_instruct.evolution.roles import JudgeRole
from genetic_instruct.executors import Executor
from genetic_instruct.files.atomic import atomic_file
from genetic_instruct.files.ownership import JSON_OWNER
from genetic_instruct.individual import Individual
from genetic_instruct.llm.base import Completion
from genetic_instruct.prompts import load_templates
from genetic_instruct.rejection import Rejection
from genetic_instruct.sandbox import SandboxLimits
from genetic_instruct.state.journal import Journal, verdict_key
from genetic_instruct.state.meta import CALIBRATION, Calibration
from genetic_instruct.state.store import RunStore

STAGE = "calibration"  # the progress bar's name
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
    """The stored calibration when still valid, else a new one (stored in the run state and
    written to run_dir/calibration.json)."""
    judge = JudgeRole(load_templates()["judge"], cfg.roles.judge.structured_output)
    tasks = calibration_tasks(seeds, failing, cfg.calibration.tasks, cfg.seed)
    key = _key(cfg, judge, tasks, limits)
    stored = store.meta.get(CALIBRATION)
    if stored is not None and stored.key == key:
        return stored
    journal = Journal(store)
    journal.reload()
    start = time.monotonic()
    specimens = _specimens(cfg, journal, tasks, limits)
    judged = time.monotonic()
    scored, unreadable = _judge(cfg, journal, executor, display, judge, specimens)
    seconds = {"sandbox": round(judged - start, 1), "judge": round(time.monotonic() - judged, 1)}
    result = _measure(cfg, key, len(tasks), specimens, scored, unreadable, seconds)
    store.meta.set(CALIBRATION, result)
    _write_json(result, Path(cfg.run_dir) / CALIBRATION_JSON)
    return result


def _specimens(
    cfg: Config, journal: Journal, tasks: Sequence[Individual], limits: SandboxLimits
) -> list[Specimen]:
    """make_specimens, journaled as one verdict: which mutants fail their tests can depend
    on the machine's load (a mutant's wall-clock limit), and the judge is asked about
    exactly these solutions."""
    faulty = cfg.calibration.faulty_per_task
    programs = [[t.id, t.instruction, t.solution, t.tests] for t in tasks]
    key = verdict_key("calibration", programs, asdict(limits), faulty, cfg.seed)
    stored = journal.verdict(key)
    if stored is not None:
        return [Specimen(**fields) for fields in stored]
    specimens = make_specimens(tasks, limits, faulty, cfg.seed, cfg.execution.workers or None)
    journal.record_verdict("calibration", key, [asdict(s) for s in specimens])
    return specimens


def _judge(
    cfg: Config,
    journal: Journal,
    executor: Executor,
    display: RunDisplay,
    judge: JudgeRole,
    specimens: Sequence[Specimen],
) -> tuple[list[Scored], Counter[str]]:
    """Each specimen's judge score; unreadable verdicts counted by reason. The requests go
    through a Flow like a generation's: in flight together, answered from the journal when
    it holds them."""
    answers: dict[int, Completion] = {}

    def ask(flow: Flow, i: int, specimen: Specimen) -> None:
        request = role_request(
            cfg,
            "judge",
            CALIBRATION_GENERATION,
            i,
            judge.prompt(specimen),
            i % cfg.evolution.colonies,
            judge.json_schema,
        )
        flow.ask("judge", request, functools.partial(answers.__setitem__, i))

    with display.stage(STAGE, len(specimens), "-") as tracker:
        flow = Flow(
            executor,
            journal,
            cfg.evolution.max_in_flight,
            1,
            lambda role, completion: tracker.answered(role, completion.completion_tokens),
        )
        flow.run(functools.partial(ask, flow, i, s) for i, s in enumerate(specimens))
    weights = dict(cfg.fitness.weights)
    scored: list[Scored] = []
    unreadable: Counter[str] = Counter()
    for i, specimen in enumerate(specimens):
        try:
            verdict = judge.read(answers[i], specimen)
        except Rejection as reason:
            unreadable[str(reason)] += 1
            continue
        scored.append(Scored(specimen.task, specimen.correct, judge_score(verdict, weights)))
    return scored, unreadable


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
