"""Lineage depth: how many operator applications separate an individual from the seeds.

Depth is the shortest distance to a seed through parent links (a seed is 0, a mutation of a
seed 1, a crossover shown a seed and a depth-3 task is 1). It is computed by one
breadth-first walk from all seeds at once over the child links: every individual and every
parent link is visited once, so the cost stays linear in the population (about 800k records
in a paper-sized run) and no recursion depth limit applies to long mutation chains. The walk
does not rely on parents being stored before their children.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence


def lineage_depths(parents: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Depth per id, for ids linked to a seed (an id with no parents); others are absent."""
    children: dict[str, list[str]] = {}
    frontier: deque[str] = deque()
    depths: dict[str, int] = {}
    for ident, links in parents.items():
        has_parent = False
        for parent in links:
            has_parent = True
            children.setdefault(parent, []).append(ident)
        if not has_parent:
            depths[ident] = 0
            frontier.append(ident)
    while frontier:
        ident = frontier.popleft()
        below = depths[ident] + 1
        for child in children.get(ident, ()):
            if child not in depths:
                depths[child] = below
                frontier.append(child)
    return depths
