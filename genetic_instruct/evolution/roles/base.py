"""What every LLM role shares: from a raw completion to its final answer, or a rejection.

A role object owns its prompt template, its structured-output schema (if any) and its
parser, in the spirit of distilabel's Task (`format_input` / `format_output`). The loop
only orders roles: `prompt(subject)` builds the request, `read(completion, subject)` returns
what the answer means for that subject or raises Rejection with a counted reason.

Before a role's own parser sees an answer, `read` turns away what no parser should read:
an engine error, an answer cut by max_tokens, reasoning that never ended, an empty final
answer, NUL bytes, and answers too large to be a task, a program or a verdict. And nothing a
parser raises escapes: an unexpected exception (RecursionError on deep nesting, say) is the
rejection `<role>_unparseable`, so one hostile answer, replayed from the journal on every
resume, can never wedge a run. Nor can what a parser returns: JSON it decoded may hold lone
surrogates (`"Fine \\ud800"`), so every string of a reading is made storable here, once for
all roles.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar, cast

from genetic_instruct.answers.text import final_answer
from genetic_instruct.llm.base import Completion, valid_text
from genetic_instruct.prompts import PromptTemplate
from genetic_instruct.rejection import Rejection, truncated_reason

Subject = TypeVar("Subject", contravariant=True)  # a role reads of its subject only
Reading = TypeVar("Reading")

# Far above any useful task, program or verdict (max_tokens caps real answers well below),
# and low enough that a parser's worst case over it stays milliseconds.
MAX_ANSWER_CHARS = 100_000


def storable(reading: Reading) -> Reading:
    """The reading with every string in it made valid text (llm.base.valid_text).

    Readings are strings, lists, tuples, dicts and dataclasses of them, and numbers; any
    other type is a bug of ours (TypeError), not a gap a string could slip through.
    """
    value: Any = reading
    if isinstance(value, str):
        return cast(Reading, valid_text(value))
    if isinstance(value, (list, tuple)):
        return cast(Reading, type(value)(storable(item) for item in value))
    if isinstance(value, dict):
        return cast(Reading, {storable(k): storable(v) for k, v in value.items()})
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: storable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return cast(Reading, dataclasses.replace(value, **fields))
    if value is None or isinstance(value, (bool, int, float)):
        return reading
    raise TypeError(f"storable: a reading holds a {type(value).__name__}; teach storable() it")


class Role(ABC, Generic[Subject, Reading]):
    """One kind of request to a model and the reading of its answers.

    `engine_role` names the roles.<name> config (model, sampling) that serves it; the two
    instructor roles share one.
    """

    engine_role: str
    json_schema: dict[str, Any] | None = None

    def __init__(self, template: PromptTemplate) -> None:
        self.template = template

    @abstractmethod
    def prompt(self, subject: Subject) -> str:
        """The request's text for this subject."""

    def template_for(self, subject: Subject) -> PromptTemplate:
        """The template this subject is asked with (its hash goes into the lineage)."""
        return self.template

    @abstractmethod
    def parse(self, answer: str, subject: Subject) -> Reading:
        """Read a final answer (reasoning already removed); raise Rejection if unusable."""

    def read(self, completion: Completion, subject: Subject) -> Reading:
        """What the completion says about the subject, or Rejection with a counted reason."""
        answer = self.final_text(completion)
        try:
            reading = self.parse(answer, subject)
        except Rejection:
            raise
        except Exception:  # untrusted text: no parser failure may escape
            raise Rejection(f"{self.engine_role}_unparseable") from None
        return storable(reading)

    def final_text(self, completion: Completion) -> str:
        """The final answer, if the completion holds a whole, readable one."""
        name = self.engine_role
        if completion.error is not None:
            raise Rejection(f"{name}_failed")
        if completion.finish_reason == "length":
            raise Rejection(truncated_reason(name))
        text = completion.text
        if len(text) > MAX_ANSWER_CHARS:
            raise Rejection(f"{name}_too_long")
        if "\x00" in text:
            raise Rejection(f"{name}_nul_byte")
        answer = final_answer(text)
        if answer is None:
            raise Rejection(f"{name}_reasoning_unfinished")
        if not answer.strip():
            raise Rejection(f"{name}_empty")
        return answer
