"""Cheap checks on a new instruction, before any code is paid for."""

from __future__ import annotations

from genetic_instruct.config import FilterConfig
from genetic_instruct.evolution.candidate import Candidate
from genetic_instruct.evolution.filters.base import CandidateFilter


class InstructionLength(CandidateFilter):
    """Too short to be a task, or too long to be one (a model that rambled)."""

    def __init__(self, limits: FilterConfig) -> None:
        self.min_words = limits.min_instruction_words
        self.max_words = limits.max_instruction_words

    def reason(self, cand: Candidate) -> str | None:
        words = len(cand.instruction.split())
        if words < self.min_words:
            return "instruction_too_short"
        if words > self.max_words:
            return "instruction_too_long"
        return None


class CopyOfParent(CandidateFilter):
    """A parent handed back unchanged (up to whitespace)."""

    def reason(self, cand: Candidate) -> str | None:
        parent_ids = {p.id for p in cand.plan.parents}
        return "copy_of_parent" if cand.id in parent_ids else None
