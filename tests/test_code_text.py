"""Comments as each language's parser sees them: dropped for near-duplicate detection,
kept alone as a benchmark prompt's problem statement; never a `#` or `//` inside a string."""

from __future__ import annotations

import json

import pytest

from genetic_instruct.dedup.code_text import comment_text, without_comments
from genetic_instruct.dedup.decontamination import BenchmarkSource, ContaminationChecker
from genetic_instruct.languages import Language

CASES = {
    Language.python: (
        'def f(s):  # strip a "#" prefix\n    # the rest\n    return s.lstrip("#")\n',
        'def f(s):\n    return s.lstrip("#")',
    ),
    Language.cpp: (
        '/* header\n   comment */\nint f() { // why\n  return "//x"[0]; }\n',
        'int f() {\n  return "//x"[0]; }',
    ),
    Language.java: (
        '/** Docs. */\nclass A { String s = "/* no */"; // trailing\n}\n',
        'class A { String s = "/* no */";\n}',
    ),
    Language.javascript: (
        "// lead\nconst t = `a // b ${x /* c */}`; /* d */\n",
        "const t = `a // b ${x }`;",
    ),
    Language.rust: (
        '/// doc\nfn f() -> &\'static str { /* a /* nested */ b */ r#"//"# }\n',
        'fn f() -> &\'static str {  r#"//"# }',
    ),
    Language.go: (
        "// Package doc.\npackage main\n\nvar s = `// raw` // end\n",
        "package main\nvar s = `// raw`",
    ),
}


@pytest.mark.parametrize("language", list(CASES))
def test_comments_go_and_strings_stay(language: Language) -> None:
    code, expected = CASES[language]
    assert without_comments(code, language) == expected


def test_the_comments_of_a_multipl_e_prompt_are_its_problem_statement() -> None:
    prompt = (
        "#include<assert.h>\n#include<bits/stdc++.h>\n"
        "// Check if in given vector of numbers, are any two numbers closer to each other than\n"
        "// given threshold.\n"
        "bool has_close_elements(std::vector<float> numbers, float threshold) {\n"
    )
    assert comment_text(prompt, Language.cpp) == (
        "Check if in given vector of numbers, are any two numbers closer to each other than\n"
        "given threshold."
    )


def test_a_multipl_e_file_decontaminates_tasks_in_its_language(tmp_path) -> None:
    """A MultiPL-E file (JSONL: name, language, prompt, tests) is a benchmark set as is:
    decontamination.benchmarks=[{name: ..., path: ..., text_fields: [prompt], id_field: name}]."""
    problem = {
        "name": "HumanEval_0_has_close_elements",
        "language": "cpp",
        "prompt": (
            "#include<assert.h>\n#include<bits/stdc++.h>\n// Check if in given vector of "
            "numbers, are any two numbers closer to each other than\n// given threshold.\n"
            "bool has_close_elements(std::vector<float> numbers, float threshold) {\n"
        ),
        "tests": "}\nint main() {\n    auto candidate = has_close_elements;\n}\n",
    }
    path = tmp_path / "humaneval-cpp.jsonl"
    path.write_text(json.dumps(problem) + "\n")
    checker = ContaminationChecker(
        [BenchmarkSource("multipl-e-cpp", str(path), ("prompt",), "name")], seed=3
    )
    copied = (
        "Write a C++ function `has_close_elements`. Check if in given vector of numbers, "
        "are any two numbers closer to each other than given threshold."
    )
    unrelated = "Write a C++ function `count_vowels(const std::string& s)` counting vowels."
    assert checker.check([copied, unrelated]) == [
        "multipl-e-cpp:HumanEval_0_has_close_elements",
        None,
    ]
