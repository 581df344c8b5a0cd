"""The one interface every engine implements: a batch of chat requests in, completions out.

The engine (vLLM's continuous batching, or many HTTP requests in flight) decides how to keep
the device busy. The loop feeds engines request by request as offspring become ready
(llm/stream.py); `generate` is the whole-batch form, and what engines without a stream are
fed through.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    max_tokens: int


# The journal key's JSON, one encoder for every request: json.dumps with these options
# builds a new encoder per call, a third of a key's cost. Keys are the same bytes as ever.
_KEY_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class ChatRequest:
    """One call to a model. `seed` is derived from the run seed and the request's place.

    `colony` only says where the request runs (executor=ray routes it to that colony's
    actor); it does not shape the answer, so it is not part of the journal key.
    """

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs
    sampling: Sampling
    seed: int
    json_schema: dict[str, Any] | None = None
    colony: int = 0
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)

    def journal_key(self, model: str) -> str:
        """Hash of everything that determines the answer: the journal's primary key.

        Chat-template kwargs join the key only when set, so keys of requests without them
        (every journal written before they existed) stay what they were.
        """
        parts: list[Any] = [
            model,
            self.messages,
            self.sampling.__dict__,
            self.seed,
            self.json_schema,
        ]
        if self.chat_template_kwargs:
            parts.append(self.chat_template_kwargs)
        payload = _KEY_JSON.encode(parts)
        return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()

    def chat_messages(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]


# Code points UTF-8 cannot encode: what a JSON escape such as \ud800 decodes to when no
# second half follows. SQLite, orjson and every file we write refuse them.
_SURROGATES = re.compile("[\ud800-\udfff]")


# A count no request can reach: above the longest context served today (10M tokens), and
# low enough that a run's sums stay well inside the 64-bit integers that SQLite, orjson and
# Parquet store (a billion requests at this bound is 1.7e16 < 9.2e18). A server reporting
# more is one we cannot believe (openai_wire.py), and so is a journal (Completion.from_stored).
MAX_TOKEN_COUNT = 2**24


def valid_text(text: str) -> str:
    """The text with each lone surrogate replaced by U+FFFD, so that it can be stored.

    Model and server text is decoded from JSON, where such escapes are valid; everything
    we store or show must be encodable, or one answer stops a run at its commit.
    """
    return text if text.isascii() else _SURROGATES.sub("\ufffd", text)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    error: str | None = None  # set when the engine gave up on this request
    # The thoughts a server returned apart from `text` (`reasoning_content` of vLLM's
    # --reasoning-parser, SGLang, DeepSeek's API); thoughts written inline stay in `text`.
    reasoning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_stored(cls, data: Any) -> Completion | None:
        """A completion read back from the journal, or None where it is not one we would
        write today: journals of earlier versions kept whatever a server said (a token count
        of 10**400, a lone surrogate), and a replay must not commit what a fresh answer
        would have been refused for. None is asked again."""
        if not isinstance(data, dict) or set(data) - {f.name for f in fields(cls)}:
            return None
        text, finish = data.get("text"), data.get("finish_reason", "stop")
        counts = (data.get("prompt_tokens", 0), data.get("completion_tokens", 0))
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            return None
        if not all(0 <= c <= MAX_TOKEN_COUNT for c in counts):
            return None
        if not isinstance(text, str) or not isinstance(finish, str):
            return None
        if not isinstance(data.get("error"), str | None):
            return None
        reasoning = data.get("reasoning")
        if not isinstance(reasoning, str | None):
            return None
        return cls(
            **{
                **data,
                "text": valid_text(text),
                "finish_reason": valid_text(finish),
                "reasoning": None if reasoning is None else valid_text(reasoning),
            }
        )


# Called as each request finishes, with its position in the batch: the journal persists it
# at once (a crash loses only requests still in flight) and the display counts it.
CompletionCallback = Callable[[int, Completion], None]


class Engine(Protocol):
    """A loaded model. `model_name` identifies it in lineage and in journal keys."""

    model_name: str

    def generate(
        self, requests: Sequence[ChatRequest], on_complete: CompletionCallback | None = None
    ) -> list[Completion]:
        """Answer every request, in order; a failed request is a Completion with `error`."""
        ...

    def close(self) -> None: ...
