"""A run made by an earlier version resumes when nothing that shapes its data changed.

settings_5dc264e.json is the fingerprint a run recorded at commit 5dc264e (0.2.0 before
other languages, attempts and reasoning joined the records; `genetic-instruct
engine=scripted execution.enabled=false seeds=<SEEDS below>`). Since then judge.txt
fences code in ```$fence instead of ```python, and seeds gained fields they leave unset:
neither changes what a Python run's models see or what its seeds hold.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from genetic_instruct.data_settings import fingerprint
from genetic_instruct.errors import ConfigError
from genetic_instruct.languages import Language
from genetic_instruct.llm.base import Completion
from genetic_instruct.prompts import load_templates
from genetic_instruct.prompts.languages import as_seen
from genetic_instruct.run.compatibility import check_resume
from genetic_instruct.seeding.seed_file import load_seeds, seeds_digest
from genetic_instruct.state.meta import SETTINGS
from genetic_instruct.state.store import RunStore

from .conftest import make_config

RECORDED = json.loads(Path(__file__).with_name("settings_5dc264e.json").read_text())
SEEDS = [
    {
        "instruction": "Write a function add(a, b) that returns the sum of two integers.",
        "solution": "def add(a, b):\n    return a + b",
        "tests": "assert add(1, 2) == 3\nassert add(-1, 1) == 0",
    },
    {
        "instruction": "Write a function is_even(n) that says whether an integer is even.",
        "solution": "def is_even(n):\n    return n % 2 == 0",
        "topic": "arithmetic",
    },
    {
        "instruction": "Write a function reverse_words(s) that reverses the order of the "
        "words in a sentence.",
        "solution": "def reverse_words(s):\n    return ' '.join(reversed(s.split()))",
        "id": "reverse-words",
    },
]


def _resume(tmp_path: Path, *overrides: str, seeds: list[dict] = SEEDS) -> dict:
    """check_resume of a run past its seeds that recorded RECORDED; the settings it keeps."""
    seed_file = tmp_path / "seeds.jsonl"
    seed_file.write_text("".join(json.dumps(seed) + "\n" for seed in seeds))
    cfg = make_config(
        "engine=scripted",
        "execution.enabled=false",
        f"seeds={seed_file}",
        f"run_dir={tmp_path / 'run'}",
        *overrides,
    )
    with RunStore(cfg.run_dir) as store:
        store.journal_write([("judge", "key", Completion("answer"))])  # past its seeds
        store.meta.set(SETTINGS, RECORDED)
        check_resume(store, cfg, seeds_digest(load_seeds(str(seed_file))))
        kept = store.meta.get(SETTINGS)
    assert kept is not None
    return kept


def test_a_run_made_before_this_versions_new_fields_and_prompts_resumes(tmp_path: Path) -> None:
    kept = _resume(tmp_path)
    assert kept["prompts.judge"] == RECORDED["prompts.judge"]
    assert kept["seeds.sha256"] == RECORDED["seeds.sha256"]


@pytest.mark.parametrize(
    ("overrides", "seeds", "changed"),
    [
        (["roles.judge.temperature=0.5"], SEEDS, ["roles.judge.temperature"]),
        ([], [{**SEEDS[0], "tests": "assert add(2, 2) == 4"}, *SEEDS[1:]], ["seeds.sha256"]),
        # C++ offspring: the judge fences their code in C++, and the others' prompts are used.
        (
            ["language=cpp"],
            [{**seed, "language": "python"} for seed in SEEDS],
            ["language", *(f"prompts.code_{r}" for r in ("coder", "crossover", "tester"))],
        ),
    ],
)
def test_a_run_whose_settings_changed_is_still_refused(
    tmp_path: Path, overrides: list[str], seeds: list[dict], changed: list[str]
) -> None:
    with pytest.raises(ConfigError, match="other settings: ") as refused:
        _resume(tmp_path, *overrides, seeds=seeds)
    named = re.findall(r"(?:settings: |; )([\w.]+) \(", str(refused.value))
    assert set(changed) <= set(named), named
    if not overrides or "language" not in overrides[0]:
        assert named == changed


def test_prompts_are_fingerprinted_as_the_runs_languages_see_them() -> None:
    templates = load_templates()
    judge = templates["judge"].text
    assert as_seen(templates, "judge", [Language.python]) == judge.replace("$fence", "python")
    both = as_seen(templates, "judge", [Language.python, Language.cpp])
    assert "```python" in both and "```cpp" in both and "$instruction" in both
    # code_coder.txt is the other languages' coder.txt: a Python run leaves it as written
    code_coder = templates["code_coder"].text
    assert as_seen(templates, "code_coder", [Language.python]) == code_coder
    assert "$fence" not in as_seen(templates, "code_coder", [Language.python, Language.go])
    python = fingerprint(make_config("engine=scripted"))
    cpp = fingerprint(make_config("engine=scripted", "language=cpp"))
    assert python["prompts.coder"] == cpp["prompts.coder"]  # Python's, used by neither
    assert python["prompts.judge"] != cpp["prompts.judge"]


def test_a_field_added_since_counts_in_the_seed_digest_where_a_seed_sets_it() -> None:
    seed = load_seeds("builtin")[0]
    for changed in ({"language": "cpp"}, {"difficulty": "hard"}, {"attempts": 3}):
        assert seeds_digest([replace(seed, **changed)]) != seeds_digest([seed]), changed
