"""The run's meta table, every key typed: its name, the type of its value, and its shape as
stored, in this one module.

The meta table maps a name to a JSON value, beside the population (store.py). Readers once
named its keys by string and guessed at their shapes; here each key is a `Key` holding its
name and the functions between the stored JSON and its type, so `store.meta.get(RUN_END)`
is a RunEnd or None, and a mistyped key does not type-check. Values keep the shapes that
earlier versions stored, so old run directories read as they are.

    SCHEMA_VERSION  int              the state's layout (store.py refuses another)
    GENERATION      int              the last committed generation: the commit marker
    SETTINGS        dict             the data-shaping settings the run was made with
                                     (data_settings.fingerprint; run/compatibility.py)
    FORCED_RESUMES  list[list[str]]  the changes each force_resume=true let through
    RUN_ID          str              the run's id, written into its dataset card
    EXPORT          ExportedDataset  the dataset the run keeps up to date, as confirmed
    SHARDS          ExportedShards   its Parquet shards, as confirmed
    WITHHELD_SEEDS  list[str]        seeds that match a benchmark: parents, never exported
    FAILING_SEEDS   list[str]        seeds kept although their solution fails its tests
    CALIBRATION     Calibration      the judge's calibration (calibration/)
    TEST_ORACLE     TestOracle       how well agreement's kept asserts tell right from wrong,
                                     on the seeds (calibration/test_oracle.py)
    REPRODUCIBILITY Reproducibility  whether the engines answer the same again (llm/)
    RUN_END         RunEnd           why the run stopped; unset while it has not
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Key(Generic[T]):
    """A meta key: its stored name, and its value to and from JSON."""

    name: str
    load: Callable[[Any], T]
    dump: Callable[[T], Any]


class RunMeta:
    """The meta table of one store, read and written by typed key."""

    def __init__(self, read: Callable[[str], Any], write: Callable[[str, Any], None]) -> None:
        self._read = read
        self._write = write

    def get(self, key: Key[T]) -> T | None:
        """The key's value, or None where the run never set it."""
        stored = self._read(key.name)
        return None if stored is None else key.load(stored)

    def set(self, key: Key[T], value: T) -> None:
        self._write(key.name, key.dump(value))


# -- why a run stopped -------------------------------------------------------------------
# Said the same way on the terminal, in report.json/html and in the dataset card; the CLI
# turns each reason into its exit code.
TARGET_REACHED = "target_reached"
MAX_GENERATIONS = "max_generations"
STALLED = "stalled"
INTERRUPTED = "interrupted"
ENGINE_LOST = "engine_lost"


@dataclass(frozen=True)
class RunEnd:
    reason: str  # one of the names above
    message: str  # one line for a person

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunEnd:
        return cls(data["reason"], data["message"])


# -- the dataset a run keeps up to date --------------------------------------------------
@dataclass(frozen=True)
class ExportedDataset:
    """What the run confirmed of its dataset file (export/dataset.py appends after it)."""

    path: str  # resolved
    include_seeds: bool
    bytes: int  # confirmed: a resume cuts off whatever a crash left after them
    seq: int  # the population position the confirmed records reach
    count: int  # records in the confirmed bytes
    fingerprint: str | None = None  # of the confirmed bytes (export/identity.py); older: none

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportedDataset:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ExportedShards:
    """The Parquet shards the run confirmed (export/parquet.py adds to them)."""

    path: str  # export.path, resolved
    include_seeds: bool
    rows_per_shard: int
    full: int  # shards 0..full-1 hold rows_per_shard rows each and never change
    seq: int  # the population position their last record is at
    last: int  # the population position of the last record in any shard

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportedShards:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


# -- the judge's calibration -------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """What a calibration measured, the threshold it found, and whether to gate on it.

    The report, the dataset card and a resumed run read these same figures; calibration/
    measures them and writes them to run_dir/calibration.json too.
    """

    key: str  # digest of what it depends on (judge, prompt, seeds, settings)
    judge_model: str
    tasks: int
    correct: int  # readable verdicts on correct solutions
    faulty: int  # readable verdicts on faulty ones
    unreadable: dict[str, int]  # rejection reason -> verdicts that could not be read
    auc: float | None  # None: nothing to compare (no faulty or no correct verdict)
    auc_interval: tuple[float, float] | None
    confidence: float
    keep_correct: float
    threshold: float | None  # the highest that keeps keep_correct of the correct solutions
    correct_kept: float | None  # share of correct ones reaching it (ties: keep_correct or more)
    faulty_let_through: float | None  # share of faulty ones reaching that threshold
    gates: bool  # the AUC is clearly above chance: the threshold may gate survival
    scores: dict[str, dict[str, int]] = field(default_factory=dict)  # correct/faulty -> hist
    faulty_by_operator: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # sandbox (variants), judge

    def line(self) -> str:
        """The one line a user reads."""
        measured = (
            f"{self.correct} correct and {self.faulty} faulty solutions of {self.tasks} tasks"
        )
        if self.unreadable:
            measured += f" ({sum(self.unreadable.values())} verdicts unreadable)"
        if self.auc is None or self.auc_interval is None:
            needs = "" if self.tasks else "; it needs seed tasks with tests that pass"
            return (
                f"judge calibration: nothing to compare ({measured}{needs}); its verdict "
                "will not gate survival"
            )
        auc = f"AUC {self.auc:.2f} [{self.auc_interval[0]:.2f}, {self.auc_interval[1]:.2f}]"
        if not self.gates:
            return (
                f"judge calibration: the judge does not separate correct from faulty "
                f"solutions: {auc} over {measured}; its verdict will not gate survival"
            )
        return (
            f"judge calibration: {auc} over {measured}; threshold {self.threshold:g} keeps "
            f"{self.correct_kept:.0%} of correct solutions and lets "
            f"{self.faulty_let_through:.0%} of faulty ones through"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "line": self.line()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        interval = known.get("auc_interval")
        return cls(**{**known, "auc_interval": tuple(interval) if interval else None})


# -- the test oracle ----------------------------------------------------------------------
@dataclass(frozen=True)
class TestOracle:
    """Agreement's kept asserts at telling right programs from wrong ones, measured on seed
    tasks with one wrong assert added (calibration/test_oracle.py says how). `by_right`:
    per number of right attempts among the `independent` voters, {tasks, recall,
    precision, wrong_assert_dropped, right_asserts_dropped}; `as_written`: no vote."""

    __test__ = False  # not a pytest test class, despite its name

    key: str
    tasks: int
    independent: int
    by_right: dict[str, dict[str, Any]]
    as_written: dict[str, Any]

    def line(self) -> str:
        """The one line a user reads."""
        if not self.tasks:
            return "test oracle: not measured (no seed with asserts and a wrong variant)"

        def scores(found: dict[str, Any]) -> str:
            return f"recall {_share(found['recall'])}, precision {_share(found['precision'])}"

        votes = "; ".join(
            f"{right} of {self.independent} right: {scores(found)}, wrong assert dropped in "
            f"{_share(found['wrong_assert_dropped'])}"
            for right, found in self.by_right.items()
        )
        return (
            f"test oracle on {self.tasks} seed tasks, each with one wrong assert added, "
            f"{self.independent} independent attempts voting: {votes} (tests as written: "
            f"{scores(self.as_written)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "line": self.line()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestOracle:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


# -- reproducibility ------------------------------------------------------------------------
@dataclass(frozen=True)
class Reproducibility:
    """Whether the same config and seed make the same dataset again, per the engines: the
    loop decides by offspring number, never by arrival, but an engine's answer itself may
    depend on the batch it ran in (llm/reproducibility.py)."""

    reproducible: bool | None  # None: the engine's server decides, unknown here
    why: str

    def line(self) -> str:
        verdict = {True: "yes", False: "no", None: "unknown"}[self.reproducible]
        return f"reproducible: {verdict}: {self.why}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reproducibility:
        return cls(data["reproducible"], data["why"])


def _as_is(value: Any) -> Any:
    return value


SCHEMA_VERSION: Key[int] = Key("schema_version", int, _as_is)
GENERATION: Key[int] = Key("generation", int, _as_is)
SETTINGS: Key[dict[str, Any]] = Key("config", dict, _as_is)
FORCED_RESUMES: Key[list[list[str]]] = Key("forced_resumes", list, _as_is)
RUN_ID: Key[str] = Key("run_id", str, _as_is)
EXPORT: Key[ExportedDataset] = Key("export", ExportedDataset.from_dict, asdict)
SHARDS: Key[ExportedShards] = Key("parquet_shards", ExportedShards.from_dict, asdict)
WITHHELD_SEEDS: Key[list[str]] = Key("withheld_seeds", list, _as_is)
FAILING_SEEDS: Key[list[str]] = Key("failing_seeds", list, _as_is)
CALIBRATION: Key[Calibration] = Key("calibration", Calibration.from_dict, Calibration.to_dict)
RUN_END: Key[RunEnd] = Key("run_end", RunEnd.from_dict, asdict)
TEST_ORACLE: Key[TestOracle] = Key("test_oracle", TestOracle.from_dict, TestOracle.to_dict)
REPRODUCIBILITY: Key[Reproducibility] = Key("reproducibility", Reproducibility.from_dict, asdict)
