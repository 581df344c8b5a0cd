"""Steps that keep an offspring or reject it with a counted reason (see base.py)."""

from genetic_instruct.evolution.filters.base import CandidateFilter, Filter
from genetic_instruct.evolution.filters.contamination import Contamination
from genetic_instruct.evolution.filters.instruction import CopyOfParent, InstructionLength
from genetic_instruct.evolution.filters.near_duplicates import NearDuplicates

__all__ = [
    "CandidateFilter",
    "Contamination",
    "CopyOfParent",
    "Filter",
    "InstructionLength",
    "NearDuplicates",
]
