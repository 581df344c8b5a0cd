"""Re-checking an exported dataset against benchmark sets after the fact (real files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genetic_instruct.dedup.decontamination import (
    BenchmarkSource,
    ContaminationChecker,
    humaneval_source,
    read_problems,
)
from genetic_instruct.export.dataset import export_jsonl
from genetic_instruct.export.recheck import DatasetFormatError, output_paths, recheck_dataset
from genetic_instruct.individual import Individual, content_id

from .conftest import run_cli

MBPP_TASK = "Write a python function to find the first repeated character in a given string."
CLEAN = [
    "Write a function that parses an ISO-8601 timestamp and returns the name of its weekday.",
    "Given a grid of 0s and 1s, count the islands, treating diagonal cells as connected.",
    "Implement an LRU cache with get and put in O(1) time, without OrderedDict.",
]


def _offspring(instruction: str, generation: int = 1) -> Individual:
    return Individual(
        id=content_id(instruction),
        instruction=instruction,
        solution="def f():\n    return 1\n",
        origin="mutation",
        generation=generation,
        method="add_constraints",
    )


@pytest.fixture
def mbpp(tmp_path: Path) -> Path:
    path = tmp_path / "mbpp.jsonl"
    rows = [{"task_id": 602, "text": MBPP_TASK}, {"task_id": 603, "text": "Sum a list."}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A real export: three clean offspring, a HumanEval prompt pasted into a longer
    instruction, a paraphrase of another, and an MBPP task reworded around its words."""
    prompts = dict(read_problems(humaneval_source()))
    words = prompts["humaneval:HumanEval/12"].split(" ")
    paraphrase = " ".join("such" if i % 12 == 5 else word for i, word in enumerate(words))
    planted = [
        "Solve the following, then add tests.\n" + prompts["humaneval:HumanEval/7"],
        paraphrase,
        "Please " + MBPP_TASK.lower() + " Return None when there is none.",
    ]
    texts = (CLEAN[0], planted[0], CLEAN[1], *planted[1:], CLEAN[2])
    population = [_offspring(text) for text in texts]
    path = tmp_path / "run" / "dataset.jsonl"
    export_jsonl(population, path, include_seeds=False)
    return path


def test_planted_benchmark_items_are_dropped_and_reported(export: Path, mbpp: Path) -> None:
    checker = ContaminationChecker(
        [humaneval_source(), BenchmarkSource("mbpp", str(mbpp), ("text",), id_field="task_id")]
    )
    result = recheck_dataset(export, checker, {"sets": ["humaneval", "mbpp"]})

    assert (result.checked, result.dropped) == (6, 3)
    lines = export.read_text().splitlines(keepends=True)
    assert result.clean_path.read_text() == "".join(lines[i] for i in (0, 2, 5))  # byte for byte
    report = json.loads(result.report_path.read_text())
    assert (report["checked"], report["kept"], report["dropped"]) == (6, 3, 3)
    assert report["checked_against"] == {"sets": ["humaneval", "mbpp"]}
    by_line = {r["line"]: r for r in report["records"]}
    assert by_line.keys() == {2, 4, 5}
    assert by_line[2]["problem"] == "humaneval:HumanEval/7"
    assert by_line[2]["method"] == "ngram"
    assert len(by_line[2]["shared_words"].split()) == 13
    assert by_line[2]["id"] == json.loads(lines[1])["id"]
    assert by_line[4]["problem"] == "humaneval:HumanEval/12"
    assert by_line[4]["method"] == "minhash" and by_line[4]["similarity"] >= 0.6
    assert by_line[5]["problem"] == "mbpp:602"
    assert report["by_method"] == {"ngram": 2, "minhash": 1}


def test_a_chat_only_dataset_is_checked_by_its_user_turn(tmp_path: Path) -> None:
    prompt = dict(read_problems(humaneval_source()))["humaneval:HumanEval/3"]
    path = tmp_path / "chat.jsonl"

    def turn(role: str, content: str) -> dict[str, str]:
        return {"role": role, "content": content}

    rows = [
        {"messages": [turn("system", "Be brief."), turn("user", prompt)]},
        {"messages": [turn("user", CLEAN[0]), turn("assistant", "x")]},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = recheck_dataset(path, ContaminationChecker([humaneval_source()]), {})
    assert result.dropped == 1
    assert json.loads(result.clean_path.read_text()) == rows[1]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"instruction": ', "dataset.jsonl:3: invalid JSON"),
        ("[1]", "dataset.jsonl:3: expected a JSON object, got list"),
        ('{"messages": [{"role": "assistant", "content": "x"}]}', "jsonl:3: no 'instruction'"),
    ],
)
def test_a_bad_line_fails_naming_file_and_line_and_writes_nothing(
    export: Path, line: str, message: str
) -> None:
    clean, report = output_paths(export)
    checker = ContaminationChecker([humaneval_source()])
    recheck_dataset(export, checker, {})  # an earlier check's files
    earlier = clean.read_text(), report.read_text()
    lines = export.read_text().splitlines(keepends=True)
    export.write_text("".join([*lines[:2], line + "\n", *lines[2:]]))
    with pytest.raises(DatasetFormatError, match=message) as error:
        recheck_dataset(export, checker, {})
    assert "\n" not in str(error.value)
    assert (clean.read_text(), report.read_text()) == earlier
    assert sorted(p.name for p in export.parent.iterdir()) == sorted(
        [clean.name, report.name, export.name]
    )


def test_cli_rechecks_a_run_export_against_new_benchmark_files(
    export: Path, mbpp: Path, tmp_path: Path
) -> None:
    benchmarks = f"decontamination.benchmarks=[{{name: mbpp, path: {mbpp}, text_fields: [text]}}]"
    run_dir = f"run_dir={export.parent}"
    result = run_cli(
        "decontaminate", run_dir, "decontamination.humaneval=false", benchmarks, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "checked 6 records" in result.stdout and "dropped 1, kept 5" in result.stdout
    report = json.loads((export.parent / "dataset.contamination.json").read_text())
    assert [(r["line"], r["problem"]) for r in report["records"]] == [(5, "mbpp:1")]
    assert len((export.parent / "dataset.clean.jsonl").read_text().splitlines()) == 5


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = run_cli("decontaminate", f"export.path={tmp_path / 'none.jsonl'}", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"genetic-instruct: error: {tmp_path / 'none.jsonl'}: cannot read: "
        f"[Errno 2] No such file or directory: '{tmp_path / 'none.jsonl'}'"
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a"}\n\n{"instruction": 1, \n')
    result = run_cli("decontaminate", f"export.path={bad}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"genetic-instruct: error: {bad}:3: invalid JSON: "
        "Expecting property name enclosed in double quotes"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]
