"""The user's cache folder: what is slow to make and the same from run to run.

The embedded model converted to a folder vLLM loads (llm/embedded.py), and the keys of
seed sets whose reference solutions passed their tests (seeding/reference_runs.py).
Nothing in it is needed: a cache that is gone or read-only only costs the work again.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where the cache lives; GENETIC_INSTRUCT_CACHE overrides (tests, read-only homes)."""
    root = os.environ.get("GENETIC_INSTRUCT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "genetic-instruct"
    )
    return Path(root)
