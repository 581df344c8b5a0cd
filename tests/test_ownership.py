"""Nothing the tool did not write is overwritten: cards, datasets, reports, clean copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genetic_instruct.files.ownership import TEXT_MARKER

from .conftest import run_cli

HAND_WRITTEN = "# My project\n\nNotes I wrote by hand.\n"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("ownership") / "run"
    result = run_cli(
        "engine=scripted", "progress=false", "evolution.max_generations=1", f"run_dir={run_dir}"
    )
    assert result.returncode == 0, result.stderr
    return run_dir


def test_a_hand_written_readme_beside_an_export_path_survives(
    finished_run: Path, tmp_path: Path
) -> None:
    (tmp_path / "README.md").write_text(HAND_WRITTEN)
    data = tmp_path / "data.jsonl"
    refused = run_cli("export", f"run_dir={finished_run}", f"export.path={data}")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"genetic-instruct: error: {tmp_path / 'README.md'}: a file genetic-instruct did not "
        "write is there and is left as it is; move it, or write elsewhere with export.card=..."
    )
    assert (tmp_path / "README.md").read_text() == HAND_WRITTEN
    assert not data.exists()  # refused before the dataset was written
    for _ in range(2):  # a card of ours is rewritten by the next export
        named = run_cli(
            "export",
            f"run_dir={finished_run}",
            f"export.path={data}",
            "export.card=DATASET_CARD.md",
        )
        assert named.returncode == 0, named.stderr
    assert "genetic-instruct" in (tmp_path / "DATASET_CARD.md").read_text()
    assert (tmp_path / "README.md").read_text() == HAND_WRITTEN


def test_a_second_export_to_the_run_directory_rewrites_its_own_card(finished_run: Path) -> None:
    """Also a card of an earlier version, written before the marker line existed."""
    card = finished_run / "README.md"
    earlier = card.read_text().replace(TEXT_MARKER + "\n", "")
    card.write_text(earlier.replace("synthetic Python", "SYNTHETIC"))
    result = run_cli("export", f"run_dir={finished_run}")
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC" not in card.read_text() and TEXT_MARKER in card.read_text()


def test_a_dataset_from_elsewhere_at_export_path_is_not_overwritten(
    finished_run: Path, tmp_path: Path
) -> None:
    theirs = tmp_path / "train.jsonl"
    theirs.write_text('{"prompt": "p", "completion": "c"}\n')
    result = run_cli(
        "export", f"run_dir={finished_run}", f"export.path={theirs}", "export.card=CARD.md"
    )
    assert result.returncode == 2
    assert f"{theirs}: a file genetic-instruct did not write" in result.stderr
    assert theirs.read_text() == '{"prompt": "p", "completion": "c"}\n'
    ours = tmp_path / "ours.json"  # recognised by content, whatever its name
    for include_seeds in ("false", "true"):  # the second rewrites the whole file
        again = run_cli(
            "export",
            f"run_dir={finished_run}",
            f"export.path={ours}",
            "export.card=CARD.md",
            f"export.include_seeds={include_seeds}",
        )
        assert again.returncode == 0, again.stderr


def test_a_report_or_clean_copy_that_is_not_ours_survives(
    finished_run: Path, tmp_path: Path
) -> None:
    (tmp_path / "report.json").write_text("{}\n")
    result = run_cli("report", f"run_dir={finished_run}", f"report_dir={tmp_path}")
    assert result.returncode == 2 and "report_dir=..." in result.stderr
    assert (tmp_path / "report.json").read_text() == "{}\n"
    assert not (tmp_path / "report.html").exists()
    dataset = tmp_path / "data.jsonl"
    shutil.copy(finished_run / "dataset.jsonl", dataset)
    (tmp_path / "data.clean.jsonl").write_text("mine\n")
    refused = run_cli("decontaminate", f"run_dir={finished_run}", f"export.path={dataset}")
    assert refused.returncode == 2 and "data.clean.jsonl" in refused.stderr
    assert (tmp_path / "data.clean.jsonl").read_text() == "mine\n"


def test_a_new_run_beside_a_hand_written_readme_is_refused_before_writing(
    tmp_path: Path,
) -> None:
    (tmp_path / "README.md").write_text(HAND_WRITTEN)
    result = run_cli("engine=scripted", "progress=false", f"run_dir={tmp_path}")
    assert result.returncode == 2
    assert "export.card=..." in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]
