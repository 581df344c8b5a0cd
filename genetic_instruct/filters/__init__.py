"""Steps that keep an offspring or reject it with a counted reason (see base.py)."""

from genetic_instruct.filters.base import CandidateFilter, Filter
from genetic_instruct.filters.contamination import Contamination
from genetic_instruct.filters.instruction import CopyOfParent, InstructionLength
from genetic_instruct.filters.near_duplicates import NearDuplicates

__all__ = [
    "CandidateFilter",
    "Contamination",
    "CopyOfParent",
    "Filter",
    "InstructionLength",
    "NearDuplicates",
]
