"""Files and run directories, tried as an attacker (or an unlucky user) would try them
(issue 26, items 8 to 13): another run's directory as export.path, links planted at state
files, markup in paths, exports killed mid-write, seed files that are not text, and
solutions holding characters that str.splitlines() takes for line ends.

The CLI runs in child processes on the synthetic engine, as a user would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from genetic_instruct.console.engine_logs import LOG_FILE
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.operators import MUTATION, OffspringPlan
from genetic_instruct.evolution.roles import CoderRole
from genetic_instruct.files.jsonl import JsonlFormatError, read_jsonl
from genetic_instruct.files.shipped import builtin_seeds_path
from genetic_instruct.llm.base import Completion
from genetic_instruct.prompts import load_templates
from genetic_instruct.prompts.languages import language_prompts
from genetic_instruct.state.database import LOCK_FILE, STATE_FILE

from .conftest import one_error, run_cli, run_snapshot

SMALL = ["engine=scripted", "progress=false", "evolution.max_generations=1"]
MARKUP = "x[/]y [red]z[/red] :smile: [bold"  # rich would read each part as markup or emoji


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two small finished runs with different seeds (so different records), A and B."""
    base = tmp_path_factory.mktemp("finished")
    runs = base / "A", base / "B"
    for run_dir, seed in zip(runs, ("seed=1", "seed=2")):
        result = run_cli(*SMALL, f"run_dir={run_dir}", seed)
        assert result.returncode == 0, result.stderr
    return runs


@pytest.fixture
def runs(finished: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    copies = tmp_path / "A", tmp_path / "B"
    for source, copy in zip(finished, copies):
        shutil.copytree(source, copy)
    return copies


# -- 8: another run's directory, card and dataset ---------------------------------------------


@pytest.mark.parametrize("name", ["dataset.jsonl", "other.jsonl"])
@pytest.mark.parametrize("command", ["export", "run"])
def test_an_export_into_another_runs_directory_is_refused_naming_both(
    runs: tuple[Path, Path], command: str, name: str
) -> None:
    a, b = runs
    before = run_snapshot(b)
    args = [*SMALL, "seed=1"] if command == "run" else ["export"]
    error = one_error(run_cli(*args, f"run_dir={a}", f"export.path={b / name}"))
    assert f"{b / name}: in the directory of another run ({b}), not of the run in {a}" in error
    assert run_snapshot(b) == before
    if command == "run":  # a new run is refused before it has any state
        new = a.parent / "new"
        error = one_error(run_cli(*SMALL, f"run_dir={new}", f"export.path={b / name}"))
        assert f"{b / name}" in error  # B's dataset: refused as an orphaned run's first
        assert not (new / STATE_FILE).exists()
        assert run_snapshot(b) == before


def test_a_card_of_another_run_is_not_replaced_wherever_it_lies(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = runs
    shared = tmp_path / "published"
    assert run_cli("export", f"run_dir={a}", f"export.path={shared / 'a.jsonl'}").returncode == 0
    before = run_snapshot(shared)
    error = one_error(run_cli("export", f"run_dir={b}", f"export.path={shared / 'b.jsonl'}"))
    assert f"{shared / 'README.md'}: the card of another run" in error
    assert run_snapshot(shared) == before
    again = run_cli("export", f"run_dir={a}", f"export.path={shared / 'a.jsonl'}")
    assert again.returncode == 0, again.stderr  # its own card, rewritten


@pytest.mark.parametrize("repair", ["export", "run"])
def test_a_dataset_replaced_behind_a_runs_back_fails_verify_and_is_rewritten(
    runs: tuple[Path, Path], tmp_path: Path, repair: str
) -> None:
    """Another run's dataset and card in place of B's, as a324ee6's `export run_dir=A
    export.path=B/dataset.jsonl` put them; A's records three times over, so that B's file
    is not shorter than B confirmed (a length check alone would pass it). B is made here,
    not copied: the run's record of its dataset names where it was made."""
    a, b = runs[0], tmp_path / "fresh-B"
    assert run_cli(*SMALL, f"run_dir={b}").returncode == 0  # seed 0: not A's records
    (b / "dataset.jsonl").write_bytes((a / "dataset.jsonl").read_bytes() * 3)
    shutil.copy(a / "README.md", b / "README.md")
    verify = run_cli("verify", f"run_dir={b}")
    assert verify.returncode == 1
    assert f"{b}: exported dataset {b / 'dataset.jsonl'}:1: record " in verify.stderr
    assert "another run's dataset, or an edited one" in verify.stderr
    args = ["export"] if repair == "export" else [*SMALL, "evolution.max_generations=2"]
    assert run_cli(*args, f"run_dir={b}").returncode == 0
    verified = run_cli("verify", f"run_dir={b}")
    assert verified.returncode == 0 and verified.stdout.startswith(f"{b}: ok"), verified.stderr
    copy = tmp_path / "copy" / "b.jsonl"
    assert run_cli("export", f"run_dir={b}", f"export.path={copy}").returncode == 0
    assert (b / "dataset.jsonl").read_bytes() == copy.read_bytes()
    ids_of_a = {r["id"] for r in _records(a / "dataset.jsonl")}
    assert not ids_of_a & {r["id"] for r in _records(copy)}


def test_verify_names_the_first_line_that_is_not_the_runs(runs: tuple[Path, Path]) -> None:
    _, b = runs
    dataset = b / "dataset.jsonl"
    lines = dataset.read_bytes().splitlines(keepends=True)
    dataset.write_bytes(b"".join([*lines[:2], b'{"id": "half\n', *lines[3:]]))
    verify = run_cli("verify", f"run_dir={b}")
    assert verify.returncode == 1
    assert f"{dataset}:3: not a JSON record with an id, where the run exported record " in (
        verify.stderr
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (STATE_FILE, "a state file of the run in"),
        (f"{STATE_FILE}-wal", "a state file of the run in"),
        (LOCK_FILE, "a state file of the run in"),
        (".hydra", "not a file"),
    ],
)
def test_an_export_over_the_runs_own_state_is_refused(
    runs: tuple[Path, Path], name: str, expected: str
) -> None:
    a, _ = runs
    before = run_snapshot(a)
    error = one_error(run_cli("export", f"run_dir={a}", f"export.path={a / name}"))
    assert f"{a / name}: " in error and expected in error
    assert run_snapshot(a) == before


# -- 9: links planted at state files and outputs ----------------------------------------------


@pytest.mark.parametrize(
    "name", [LOCK_FILE, STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm", LOG_FILE]
)
def test_a_state_file_that_is_a_symbolic_link_is_refused_and_its_target_untouched(
    runs: tuple[Path, Path], tmp_path: Path, name: str
) -> None:
    a, _ = runs
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n" if name != STATE_FILE else (a / STATE_FILE).read_bytes())
    before = victim.read_bytes()
    (a / name).unlink(missing_ok=True)
    (a / name).symlink_to(victim)
    error = one_error(run_cli(*SMALL, f"run_dir={a}", "seed=1", "evolution.max_generations=2"))
    assert f"{a / name}: a symbolic link to {victim}; " in error
    assert error.endswith(": remove the link")
    assert victim.read_bytes() == before


def test_a_lock_that_is_a_dangling_link_or_a_hard_link_is_refused(tmp_path: Path) -> None:
    run_dir, victim = tmp_path / "run", tmp_path / "victim"
    run_dir.mkdir()
    (run_dir / LOCK_FILE).symlink_to(victim)
    error = one_error(run_cli(*SMALL, f"run_dir={run_dir}"))
    assert f"{run_dir / LOCK_FILE}: a symbolic link" in error
    assert not victim.exists()
    (run_dir / LOCK_FILE).unlink()
    victim.write_bytes(b"precious\n")
    os.link(victim, run_dir / LOCK_FILE)
    error = one_error(run_cli(*SMALL, f"run_dir={run_dir}"))
    assert f"{run_dir / LOCK_FILE}: a hard link" in error
    assert victim.read_bytes() == b"precious\n"


@pytest.mark.parametrize("output", ["dataset", "card"])
def test_an_output_that_is_a_symbolic_link_is_refused_and_its_target_untouched(
    runs: tuple[Path, Path], tmp_path: Path, output: str
) -> None:
    a, _ = runs
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.jsonl"
    shutil.copy(a / "dataset.jsonl", victim)  # looks like ours: the link is what is refused
    link = out / ("data.jsonl" if output == "dataset" else "README.md")
    link.symlink_to(victim)
    error = one_error(run_cli("export", f"run_dir={a}", f"export.path={out / 'data.jsonl'}"))
    assert f"{link}: a symbolic link to {victim}" in error
    assert victim.read_bytes() == (a / "dataset.jsonl").read_bytes()
    assert link.is_symlink()


# -- 10: markup in paths ------------------------------------------------------------------------


def test_paths_with_rich_markup_are_printed_as_they_are(tmp_path: Path) -> None:
    run_dir = tmp_path / MARKUP
    done = run_cli("engine=scripted", "evolution.max_generations=1", f"run_dir='{run_dir}'")
    assert done.returncode == 0, done.stderr
    last = done.stderr.splitlines()[-1]
    assert f" records to {run_dir / 'dataset.jsonl'} (card: {run_dir / 'README.md'})" in last
    inspected = run_cli("inspect", f"run_dir='{run_dir}'")
    assert inspected.returncode == 0, inspected.stderr
    assert f"{run_dir}: generation 1" in inspected.stdout


# -- 11: exports stopped mid-write ------------------------------------------------------------


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_an_export_stopped_by_sigterm_removes_what_it_was_writing(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    a, _ = runs
    out = tmp_path / "out"
    stopped = run_cli(
        "export", f"run_dir={a}", f"export.path={out / 'd.jsonl'}", crash_at="rewrite:1:SIGTERM"
    )
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
    assert stopped.stderr.splitlines() == [
        "genetic-instruct: stopped by SIGTERM; nothing was half-written (the files being "
        "written were removed)"
    ]
    assert list(out.iterdir()) == []


def test_the_next_export_sweeps_a_killed_exports_debris_but_not_a_live_writers(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    from genetic_instruct.files.atomic import temp_beside  # new: imported here, so that this file
    # also runs against the code before it, where every test of it must fail

    a, _ = runs
    out = tmp_path / "out"
    export = ["export", f"run_dir={a}", f"export.path={out / 'd.jsonl'}"]
    killed = run_cli(*export, crash_at="rewrite:1:SIGKILL")
    assert killed.returncode == -signal.SIGKILL
    (debris,) = _hidden(out)
    assert debris.startswith(".d.jsonl.genetic-instruct-tmp-")
    with temp_beside(out / "d.jsonl") as (_, live):  # another export, still writing
        assert run_cli(*export).returncode == 0
        assert _hidden(out) == [Path(live).name]


def test_an_export_sweeps_earlier_versions_debris_and_never_a_file_of_the_user(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    a, _ = runs
    out = tmp_path / "out"
    out.mkdir()
    old = out / ".d.jsonl-k3q_9zx2"  # what a324ee6's killed exports left: private, our records
    shutil.copy(a / "dataset.jsonl", old)
    old.chmod(0o600)
    users = {
        ".d.jsonl-backup01": 0o644,  # the same name pattern, but shared: not a temporary file
        ".d.jsonl-notes.txt": 0o600,
        ".d.jsonl.genetic-instruct-tmp": 0o600,
        "d.jsonl.bak": 0o600,
    }
    for name, mode in users.items():
        shutil.copy(a / "dataset.jsonl", out / name)
        (out / name).chmod(mode)
    assert run_cli("export", f"run_dir={a}", f"export.path={out / 'd.jsonl'}").returncode == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*users, "d.jsonl", "README.md"])


def test_a_runs_own_dataset_debris_is_swept_by_its_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    killed = run_cli(*SMALL, f"run_dir={run_dir}", crash_at="rewrite:1:SIGKILL")
    assert killed.returncode == -signal.SIGKILL
    assert [n for n in _hidden(run_dir) if n.startswith(".dataset.jsonl")]
    assert run_cli(*SMALL, f"run_dir={run_dir}").returncode == 0
    assert not [n for n in _hidden(run_dir) if n.startswith(".dataset.jsonl")]


# -- 12: seed and benchmark files that are not text -----------------------------------------


_GOOD_SEED = builtin_seeds_path().read_bytes().split(b"\n", 1)[0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            rb'{"instruction": "Write f(x) \ud800.", "solution": "def f(x): return x"}',
            r":2: a string holds a lone surrogate (\ud800): not text",
        ),
        (
            rb'{"instruction": "Write f(x).", "solution": "def f(x): return \"\udc80\""}',
            r":2: a string holds a lone surrogate (\udc80): not text",
        ),
        (
            rb'{"instruction": "Write f(x).", "solution": "def f(x): return x", "\udbff": "a"}',
            r":2: a string holds a lone surrogate (\udbff): not text",
        ),
        (
            b'{"instruction": "Write f(x) \xed\xa0\x80.", "solution": "def f(x): return x"}',
            ":2: not UTF-8 text (byte 0xed at column 29)",
        ),
        ((b"[" * 100_000), ":2: invalid JSON: nested too deeply"),
    ],
    ids=["high-in-instruction", "low-in-solution", "in-a-key", "raw-bytes", "deep"],
)
def test_a_seed_file_that_is_not_text_is_one_line_naming_file_and_line(
    tmp_path: Path, line: bytes, expected: str
) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_bytes(_GOOD_SEED + b"\n" + line + b"\n")
    error = one_error(run_cli(*SMALL, f"run_dir={tmp_path / 'run'}", f"seeds={seeds}"))
    assert error.startswith(f"genetic-instruct: error: {seeds}{expected}"), error
    assert not (tmp_path / "run").exists()


def test_a_surrogate_pair_is_text_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "bench.jsonl"
    path.write_bytes(b'{"prompt": "a"}\n{"prompt": "smile \\ud83d\\ude00"}\n')
    assert [record["prompt"] for _, _, record in read_jsonl(str(path))] == ["a", "smile 😀"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"prompt": "b \\ud800"}', r"bench.jsonl:2: a string holds a lone surrogate (\ud800)"),
        (b'{"prompt": "b \xff"}', "bench.jsonl:2: not UTF-8 text (byte 0xff at column 15)"),
    ],
)
def test_a_benchmark_line_that_is_not_text_names_file_and_line(
    tmp_path: Path, line: bytes, expected: str
) -> None:
    path = tmp_path / "bench.jsonl"
    path.write_bytes(b'{"prompt": "a"}\n' + line + b"\n")
    with pytest.raises(JsonlFormatError) as error:
        list(read_jsonl(str(path)))
    assert str(error.value).startswith(f"{tmp_path / expected}")


# -- 13: characters str.splitlines() takes for line ends ---------------------------------


_SEPARATORS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
_CODER = CoderRole(language_prompts(load_templates(), "coder_tests"), 8000)


def _coder_reads(answer: str) -> tuple[str, str]:
    plan = OffspringPlan(0, MUTATION, (), 1, "add_constraints")
    task = "Write a function `join_fields(parts)` that joins the fields with a separator."
    solved = _CODER.read(Completion(answer), Candidate(plan, task))
    return solved.solution, solved.tests


@pytest.mark.parametrize("sep", _SEPARATORS, ids=[f"U+{ord(s):04X}" for s in _SEPARATORS])
def test_a_solution_with_a_line_separator_in_a_string_is_read_whole(sep: str) -> None:
    program = (
        "SEPARATOR = '" + sep + "'\n\n\n"
        "def join_fields(parts):\n"
        '    """Join with the record separator."""\n'
        "    return SEPARATOR.join(parts)"
    )
    tests = "assert join_fields(['a', 'b']) == 'a" + sep + "b'\nassert join_fields([]) == ''"
    answer = (
        "Here is the solution. It uses a separator character that never occurs in the "
        "fields:\n\n```python\n" + program + "\n\n\n" + tests + "\n```\n\n"
        "The function is O(n) in the total length of the fields."
    )
    solution, own_tests = _coder_reads(answer)
    assert solution == program
    assert own_tests == tests
    namespace: dict = {}
    exec(compile(solution + "\n" + own_tests, "<answer>", "exec"), namespace)


@pytest.mark.parametrize("sep", ["\x0c", "\u2028"], ids=["U+000C", "U+2028"])
def test_a_fence_indented_in_a_list_item_keeps_its_lines_whole(sep: str) -> None:
    """Inside a list item the fence and its code are indented; the code is dedented line by
    line, so a line cut early would lose its indentation after the separator."""
    program = "def join_fields(parts):\n    return '" + sep + "    |'.join(parts)"
    tests = "assert join_fields(['a', 'b']) == 'a" + sep + "    |b'"
    block = "\n".join("   " + line for line in f"```python\n{program}\n\n{tests}\n```".split("\n"))
    answer = f"1. The solution:\n\n{block}\n\n2. It runs in O(n)."
    solution, own_tests = _coder_reads(answer)
    assert (solution, own_tests) == (program, tests)


def test_a_failing_assert_after_a_form_feed_names_its_own_line() -> None:
    """The harness quotes the failing assert's source to the judge: counted as Python counts
    lines, not as str.splitlines() does."""
    from genetic_instruct.sandbox import SandboxLimits, run_tests

    tests = "SEP = '\x0c'\nassert SEP == '\x0c'\nassert 1 == 2, 'the third line'\n"
    result = run_tests("x = 1\n", tests, SandboxLimits(wall_seconds=20))
    assert result.status == "failed", result
    assert "line 3: assert 1 == 2, 'the third line'" in result.detail, result.detail


def test_a_form_feed_between_sections_stays_where_it_was() -> None:
    """PEP 8 allows ^L between sections; it ended a line for splitlines, not for ast."""
    program = "import math\n\x0c\ndef join_fields(parts):\n    return ','.join(parts)"
    answer = f"```python\n{program}\n\nassert join_fields(['a', 'b']) == 'a,b'\n```"
    solution, tests = _coder_reads(answer)
    assert solution == program
    assert tests == "assert join_fields(['a', 'b']) == 'a,b'"
