"""The population as the operators see it: a sequence backed by the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np

from genetic_instruct.config import ParentWeighting
from genetic_instruct.evolution.operators import harder_weights
from genetic_instruct.individual import Individual
from genetic_instruct.languages import Language
from genetic_instruct.state.store import RunStore


class StoredPopulation(Sequence[Individual]):
    """The population as a sequence backed by the store: sampling parents reads only them.

    Holding 800k records in memory would cost gigabytes and make every resume re-read them
    all; parents are a few per offspring.
    """

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self._size = store.population_size()

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> Individual: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Individual]: ...
    def __getitem__(self, index: int | slice) -> Individual | Sequence[Individual]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if not 0 <= index < self._size:
            raise IndexError(index)
        return self._store.individual_at(index)

    def refresh(self) -> None:
        """Take in what the last commit added."""
        self._size = self._store.population_size()

    def parent_weights(self, weighting: ParentWeighting) -> np.ndarray | None:
        """Each member's probability of being drawn as a parent; None: uniform. Read from
        the stored pass rates once per generation (a float each, not the records)."""
        if weighting == ParentWeighting.uniform:
            return None
        return harder_weights(self._store.pass_rates())

    def languages(self) -> list[Language]:
        """Each member's language, read from the store once per generation (a short string
        each, not the records): only runs in several languages ask."""
        return [Language(name) for name in self._store.member_languages()]
