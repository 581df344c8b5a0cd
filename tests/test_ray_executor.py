"""executor=ray: colonies as Ray actors on a local Ray cluster that these tests share.

The scripted engine makes the fast tests; one test marked `model` gives each of two actors
its own vLLM engine on the embedded model. Actors are killed mid-generation by a hook on the
driver, right after an answer of a colony that still has unanswered requests.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from genetic_instruct import faults
from genetic_instruct.config import Config
from genetic_instruct.errors import ConfigError
from genetic_instruct.run import opening
from genetic_instruct.run.job import run
from genetic_instruct.state.store import RunStore

from .conftest import dataset_records, make_config, run_cli

ray = pytest.importorskip("ray")
from genetic_instruct.executors.ray_colonies import (  # noqa: E402  (needs Ray)
    ColonyEngine,
    ColonyLost,
    RayColonies,
)

pytestmark = pytest.mark.usefixtures("local_ray")


def _at(cfg: Config, run_dir: Path, **executor: object) -> Config:
    """`cfg` in another run directory, with executor settings."""
    return replace(
        cfg,
        run_dir=str(run_dir),
        export=replace(cfg.export, path=str(run_dir / "dataset.jsonl")),
        executor=replace(cfg.executor, **executor),
    )


def _with_engine_args(cfg: Config, **args: object) -> Config:
    model = cfg.models["default"]
    return replace(
        cfg, models={"default": replace(model, engine_args={**model.engine_args, **args})}
    )


def _result(cfg: Config) -> tuple[list[str], list[dict]]:
    store = RunStore(cfg.run_dir)
    ids = list(store.ids())
    assert store.integrity_problems() == []
    store.close()
    return ids, dataset_records(Path(cfg.export.path))


class ActorKiller:
    """Kills a colony's actor once, at the first answer from the `after`-th of the run on
    that leaves requests of its batch unanswered (the loop sends micro-batches).

    It picks the colony of that answer if the colony still has unanswered requests in the
    batch (else the other's), so the actor dies with work in flight. It also snapshots the
    journal at that moment: answers journaled before a kill must never be asked for again.
    """

    def __init__(self, after: int, run_dir: Path) -> None:
        self.after, self.run_dir = after, run_dir
        self.answers = 0
        self.killed: int | None = None
        self.journaled_before: set[str] = set()
        self.executors: list[RayColonies] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_open = opening.open_executor
        real_generate = ColonyEngine.generate

        def open_executor(*args: object) -> object:
            self.executors.append(real_open(*args))
            return self.executors[-1]

        def generate(engine: ColonyEngine, requests, on_complete=None):
            if self.killed is not None:
                return real_generate(engine, requests, on_complete)
            left = Counter(r.colony for r in requests)

            def answered(i: int, completion) -> None:
                left[requests[i].colony] -= 1
                self.answers += 1
                if on_complete is not None:
                    on_complete(i, completion)
                if self.killed is None and self.answers >= self.after:
                    busy = [c for c in (requests[i].colony, *left) if left[c] > 0]
                    if busy:
                        self._kill(busy[0])

            return real_generate(engine, requests, answered)

        monkeypatch.setattr(opening, "open_executor", open_executor)
        monkeypatch.setattr(ColonyEngine, "generate", generate)

    def _kill(self, colony: int) -> None:
        with sqlite3.connect(self.run_dir / "state.sqlite") as db:
            self.journaled_before = {k for (k,) in db.execute("SELECT key FROM journal")}
        ray.kill(self.executors[-1].actors[colony], no_restart=False)
        self.killed = colony


def _count_deliveries(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Answers handed to the journal, per role (the journal calls faults.point for each)."""
    delivered: Counter[str] = Counter()
    real_point = faults.point

    def point(name: str) -> None:
        delivered[name] += 1
        real_point(name)

    monkeypatch.setattr(faults, "point", point)
    return delivered


def _journal_rows(run_dir: Path) -> Counter[str]:
    with sqlite3.connect(run_dir / "state.sqlite") as db:
        return Counter(dict(db.execute("SELECT role, COUNT(*) FROM journal GROUP BY role")))


def _sent(log: Path) -> Counter[str]:
    return Counter(log.read_text().split())


@pytest.fixture
def local_result(scripted_config: Config, tmp_path: Path) -> tuple[list[str], list[dict]]:
    cfg = _at(scripted_config, tmp_path / "local")
    run(cfg)
    return _result(cfg)


def test_colonies_on_ray_actors_give_the_local_result(
    scripted_config: Config, tmp_path: Path, local_result
) -> None:
    cfg = _at(scripted_config, tmp_path / "ray", kind="ray")
    run(cfg)
    assert _result(cfg) == local_result


def test_a_killed_actor_is_restarted_and_only_unanswered_requests_are_sent_again(
    scripted_config: Config, tmp_path: Path, local_result, monkeypatch, capsys
) -> None:
    log = tmp_path / "sent.log"
    cfg = _at(
        _with_engine_args(scripted_config, latency_s=0.01, request_log=str(log)),
        tmp_path / "ray",
        kind="ray",
    )
    cfg = replace(cfg, progress=True)
    killer = ActorKiller(after=70, run_dir=tmp_path / "ray")  # in generation 2
    killer.install(monkeypatch)
    monkeypatch.setattr("genetic_instruct.state.journal.FLUSH_EVERY_N", 1)
    delivered = _count_deliveries(monkeypatch)
    run(cfg)
    assert killer.killed is not None
    assert killer.executors[0].losses[killer.killed] == 1
    assert f"colony {killer.killed}: its Ray actor was lost" in capsys.readouterr().err
    assert _result(cfg) == local_result
    # Each answer reached the journal once; what was journaled before the kill was not
    # sent again (only requests the dead actor had in hand are sent twice).
    rows = _journal_rows(tmp_path / "ray")
    assert {role: delivered[role] for role in rows} == rows
    sent_twice = {key for key, n in _sent(log).items() if n > 1}
    assert not sent_twice & killer.journaled_before


def test_an_actor_lost_too_often_stops_the_run_and_a_rerun_finishes_it(
    scripted_config: Config, tmp_path: Path, local_result, monkeypatch
) -> None:
    log = tmp_path / "sent.log"
    cfg = _at(
        _with_engine_args(scripted_config, latency_s=0.01, request_log=str(log)),
        tmp_path / "ray",
        kind="ray",
        max_restarts=0,
    )
    killer = ActorKiller(after=25, run_dir=tmp_path / "ray")  # in generation 1
    killer.install(monkeypatch)
    with pytest.raises(ColonyLost, match="executor.max_restarts=0"):
        run(cfg)
    store = RunStore(cfg.run_dir)
    journaled = store.journal_keys()
    store.close()
    assert journaled
    monkeypatch.undo()
    sent_before = _sent(log)
    run(cfg)  # the same command resumes, on fresh actors
    assert _result(cfg) == local_result
    assert not set(_sent(log) - sent_before) & journaled


def test_actors_that_cannot_be_placed_fail_fast_naming_the_key(
    scripted_config: Config, tmp_path: Path
) -> None:
    cfg = _at(
        scripted_config, tmp_path / "ray", kind="ray", num_gpus_per_colony=1, start_timeout_s=2
    )
    with pytest.raises(ConfigError, match="executor.num_gpus_per_colony"):
        run(cfg)


def test_executor_settings_are_checked_and_may_change_on_resume(
    scripted_config: Config, tmp_path: Path
) -> None:
    cfg = replace(scripted_config, evolution=replace(scripted_config.evolution, max_generations=1))
    run(cfg)
    with pytest.raises(ValueError, match="preloaded"):
        run(_at(cfg, Path(cfg.run_dir), kind="ray"), engines={"default": object()})
    resumed = _at(replace(cfg, evolution=scripted_config.evolution), Path(cfg.run_dir), kind="ray")
    assert run(resumed).generation == 3


def test_an_engine_lost_inside_an_actor_stops_the_run_as_engine_lost(tmp_path: Path) -> None:
    """EngineLost raised in a colony's actor is the engine's fault, not the actor's: the
    CLI (joining this module's cluster) stops with one line and exit 75, journal kept."""
    run_dir = tmp_path / "run"
    args = [
        "engine=scripted",
        "executor=ray",
        f"executor.address={ray.get_runtime_context().gcs_address}",
        f"run_dir={run_dir}",
        "progress=false",
        "evolution.max_generations=2",
        "+models.default.engine_args.lost_after=10",  # each colony's engine, in generation 1
    ]
    result = run_cli(*args)
    assert result.returncode == 75, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "engine lost: colony" in lines[0] and "engine_args.lost_after" in lines[0]
    with RunStore(run_dir) as store:
        assert store.generation == 0 and store.journal_keys()


def test_the_cli_selects_the_executor_group() -> None:
    cfg = make_config("engine=scripted", "executor=ray", "executor.address=auto")
    assert (cfg.executor.kind, cfg.executor.address) == ("ray", "auto")
    assert make_config("engine=scripted").executor.kind == "local"


# -- on the real embedded model --------------------------------------------------------------


@pytest.mark.model
@pytest.mark.skip(
    reason="streaming sends Ray colonies micro-batches: a vLLM actor answers its short "
    "batch in one engine step, so a kill at an answer lands after its work is done and no "
    "loss is seen; needs a kill point inside the actor (issue 17's closing note)"
)
def test_two_actors_with_their_own_vllm_engines_survive_a_kill(tmp_path: Path, monkeypatch) -> None:
    run_dir = tmp_path / "run"
    cfg = make_config(
        f"run_dir={run_dir}",
        "progress=false",
        "executor=ray",
        "evolution.max_generations=1",
        "evolution.colonies=2",
        "evolution.offspring_per_colony=2",
        "fitness.threshold=1",
        "roles.instructor.max_tokens=64",
        "roles.coder.max_tokens=96",
        "roles.judge.max_tokens=64",
    )
    # One torch thread per actor, and no core pinning: two engines share two cores.
    cfg = replace(
        cfg,
        executor=replace(
            cfg.executor, env={"OMP_NUM_THREADS": "1", "VLLM_CPU_OMP_THREADS_BIND": "nobind"}
        ),
    )
    # The first batch (every instructor request) holds both colonies: a kill is sure to come.
    killer = ActorKiller(after=1, run_dir=run_dir)
    killer.install(monkeypatch)
    result = run(cfg)
    assert killer.killed is not None and killer.executors[0].losses[killer.killed] == 1
    assert result.generation == 1
    verify = run_cli("verify", f"run_dir={run_dir}")
    assert verify.returncode == 0, verify.stderr
    stats = RunStore(run_dir).generation_stats()[-1]
    assert stats.tried == stats.accepted + sum(stats.rejected.values())
