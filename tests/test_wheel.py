"""The package as a user installs it: a wheel in a venv without the source tree.

The wheel is built from this checkout (`python -m build --no-isolation`, offline) and
installed with --no-deps into a fresh venv; the dependencies come from this interpreter's
site-packages through a plain path line (a .pth line that is a path only adds the folder:
the editable install's finder there is never activated, which the test asserts). Every
command runs from a temporary directory, so nothing can be found beside the sources.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from genetic_instruct import __version__

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv holding only the wheel (and a path to its deps)."""
    root = tmp_path_factory.mktemp("wheel")
    # A copy of the sources: a build in the checkout would reuse its stale build/ folder.
    source = root / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "runs", "outputs"
        ),
    )
    dist = root / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=root,
    )
    (wheel,) = dist.glob("genetic_instruct-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        env=_clean_env(),
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return env_dir / "bin"


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH: a checkout on it would be found instead of the installed wheel."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_wheel_ships_config_seeds_and_prompts(installed: Path, tmp_path: Path) -> None:
    where = _run(
        installed,
        tmp_path,
        "python",
        "-c",
        (
            "import genetic_instruct, sys; print(genetic_instruct.__file__); "
            "print(any('genetic_instruct' in type(f).__module__ for f in sys.meta_path))"
        ),
    )
    assert where.returncode == 0, where.stderr
    module, editable_finder = where.stdout.split()
    assert module.startswith(str(installed.parent)), where.stdout
    assert editable_finder == "False"
    package = Path(module).parent
    assert (package / "conf" / "config.yaml").is_file()
    assert (package / "conf" / "engine" / "scripted.yaml").is_file()
    assert (package / "seeds" / "python.jsonl").is_file()
    assert (package / "py.typed").is_file()
    # What a run reads: the files inside the installed package, not a source tree's.
    found = _run(
        installed,
        tmp_path,
        "python",
        "-c",
        (
            "from genetic_instruct.files.shipped import builtin_seeds_path, conf_dir; "
            "print(conf_dir()); print(builtin_seeds_path())"
        ),
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == [str(package / "conf"), str(package / "seeds" / "python.jsonl")]


def test_pyproject_lists_every_package_of_the_source_tree() -> None:
    """`packages` is a list (find cannot map conf/ and seeds/ into the package): a new
    subpackage missing from it would be missing from the wheel."""
    tomllib = pytest.importorskip("tomllib")
    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "genetic_instruct").rglob("__init__.py")
    }
    assert set(listed["packages"]) == found | set(listed["package-dir"])


def test_run_inspect_export_and_cfg_from_any_directory(installed: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    common = [f"run_dir={run_dir}", "engine=scripted", "evolution.target_size=132"]
    done = _run(installed, tmp_path, "genetic-instruct", *common, "progress=false")
    assert done.returncode == 0, done.stderr
    assert (run_dir / "dataset.jsonl").is_file()

    version = _run(installed, tmp_path, "genetic-instruct", "--version")
    assert version.stdout.startswith(f"genetic-instruct {__version__}"), version.stdout

    job = _run(installed, tmp_path, "genetic-instruct", "--cfg", "job", *common)
    assert job.returncode == 0, job.stderr
    assert "engine: scripted" in job.stdout and "target_size: 132" in job.stdout

    inspect = _run(installed, tmp_path, "genetic-instruct", "inspect", f"run_dir={run_dir}")
    assert inspect.returncode == 0, inspect.stderr
    assert "population" in inspect.stdout

    out = tmp_path / "copy.jsonl"
    export = _run(
        installed,
        tmp_path,
        "genetic-instruct",
        "export",
        f"run_dir={run_dir}",
        f"export.path={out}",
    )
    assert export.returncode == 0, export.stderr
    assert out.read_bytes() == (run_dir / "dataset.jsonl").read_bytes()


def test_a_users_config_dir_and_seed_file_are_still_read(installed: Path, tmp_path: Path) -> None:
    mine = tmp_path / "myconf" / "experiment"
    mine.mkdir(parents=True)
    (mine / "tiny.yaml").write_text("# @package _global_\nevolution:\n  target_size: 77\n")
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(
        '{"instruction": "Return the sum of two integers a and b.", '
        '"solution": "def add(a, b):\\n    return a + b"}\n'
    )
    job = _run(
        installed,
        tmp_path,
        "genetic-instruct",
        "--config-dir",
        str(tmp_path / "myconf"),
        "--cfg",
        "job",
        "experiment=tiny",
        f"seeds={seeds.name}",
    )
    assert job.returncode == 0, job.stderr
    assert "target_size: 77" in job.stdout and "seeds: seeds.jsonl" in job.stdout


def test_a_checkout_on_pythonpath_reads_the_top_level_seeds_and_conf(tmp_path: Path) -> None:
    """A contributor who edits seeds/python.jsonl or conf/ sees it in the next run."""
    checkout = tmp_path / "checkout"
    for folder in ("genetic_instruct", "conf", "seeds"):
        shutil.copytree(
            REPO / folder, checkout / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    two_seeds = (REPO / "seeds" / "python.jsonl").read_text().splitlines()[:2]
    (checkout / "seeds" / "python.jsonl").write_text("\n".join(two_seeds) + "\n")
    config = checkout / "conf" / "config.yaml"
    config.write_text(config.read_text() + "\nevolution:\n  target_size: 2\n")
    done = subprocess.run(
        [sys.executable, "-m", "genetic_instruct.cli", "engine=scripted", "progress=false"],
        cwd=tmp_path,
        env={**_clean_env(), "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "reached the target: population 2 of evolution.target_size=2" in done.stdout
