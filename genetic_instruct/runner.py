"""`run(cfg)`: the whole job — seeds, evolution (resuming from the run directory), export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from genetic_instruct.config import Config, validate
from genetic_instruct.display import RunDisplay
from genetic_instruct.evolution import evolve
from genetic_instruct.export import export_jsonl
from genetic_instruct.llm.base import Engine
from genetic_instruct.seeds import load_seeds
from genetic_instruct.store import RunStore


@dataclass(frozen=True)
class RunResult:
    population: int
    generation: int
    exported: int
    dataset: Path


def run(cfg: Config, engines: Mapping[str, Engine] | None = None) -> RunResult:
    """Validate everything cheap first, then evolve and export. `engines` share loaded models."""
    validate(cfg)
    seeds = load_seeds(cfg.seeds)  # a malformed seed file fails here, before any model loads
    display = RunDisplay(cfg.progress)
    store = RunStore(cfg.run_dir)
    try:
        evo = evolve(cfg, store, display, seeds, engines)
        exported = export_jsonl(evo.population, cfg.export.path, cfg.export.include_seeds)
        display.line(f"exported {exported} records to {cfg.export.path}")
        return RunResult(len(evo.population), store.generation or 0, exported, Path(cfg.export.path))
    finally:
        store.close()
