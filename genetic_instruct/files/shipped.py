"""Where the files shipped with the tool are: the Hydra config (conf/) and the builtin seeds.

Both live at the top of the source tree, where users and contributors read and edit them.
The wheel ships them inside the package (pyproject.toml maps `conf/` and `seeds/` to
`genetic_instruct/conf/` and `genetic_instruct/seeds/` at build time), so an installed tool
runs from any directory. A checkout on PYTHONPATH and an editable install import the
package from the source tree, where neither folder is inside it: they read the top-level
folders beside the package. (setuptools' editable finder does not serve a mapped folder
without an `__init__.py` as a subpackage, and a checkout on PYTHONPATH has no finder at
all, so the files are found by path here rather than imported.)
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
BUILTIN = "builtin"  # the `seeds` setting (and the scripted engine's judge_references) for them


def _shipped(folder: str, marker: str) -> Path:
    """`folder` inside the installed package, else at the top of the source tree. A folder
    counts only where it holds `marker`: a checkout can keep an empty leftover of it
    inside the package (untracked caches of an earlier layout)."""
    inside = _PACKAGE / folder
    return inside if (inside / marker).is_file() else _PACKAGE.parent / folder


def conf_dir() -> Path:
    """The folder holding config.yaml and its groups (Hydra's primary config)."""
    return _shipped("conf", "config.yaml")


def builtin_seeds_path() -> Path:
    """The seed file `seeds=builtin` reads."""
    return language_seeds_path("python")


def language_seeds_path(language: str) -> Path:
    """The shipped seed file of one language (seeds/<language>.jsonl)."""
    return _shipped("seeds", "python.jsonl") / f"{language}.jsonl"


def resolve_seeds_path(spec: str) -> Path:
    """The seed file a `seeds=` setting names: `builtin`, or a path."""
    return builtin_seeds_path() if spec == BUILTIN else Path(spec)
