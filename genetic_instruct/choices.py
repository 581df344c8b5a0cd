"""Settings with fixed choices, as enums the type checker follows from config to use.

Hydra takes a member by name on the command line (`engine=vllm`); each member's value is
that same word, and the `str` mixin makes it print, compare and serialize (json, orjson,
saved configs) as the plain word, so records and reports read as before.
"""

from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    def __str__(self) -> str:
        return str(self.value)
