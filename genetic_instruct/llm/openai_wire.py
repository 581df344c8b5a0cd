"""The OpenAI chat-completions wire format: our requests out, their answers in.

Pure functions, shared by the engine and the benchmark's bare HTTP client, so both send
byte-for-byte the same bodies.
"""

from __future__ import annotations

import json
from typing import Any

from genetic_instruct.llm.base import MAX_TOKEN_COUNT, ChatRequest, Completion, valid_text

CHAT_PATH = "/chat/completions"
# The schema's name is required by the API and shown in server logs; one schema, one name.
SCHEMA_NAME = "verdict"


# The most bytes one generated token takes in a JSON body: the longest tokens of common
# vocabularies are runs of about 80 spaces or '#' (SmolLM2's longest is 82 bytes escaped as
# JSON), and a \uXXXX escape is 6 bytes for a 1-byte control character. The answer and
# its reasoning share max_tokens; the rest of the body (ids, usage, logprobs we do not ask
# for) fits the envelope.
BYTES_PER_TOKEN = 128
ENVELOPE_BYTES = 64 * 1024


class BadResponse(ValueError):
    """A 200 whose body is not a chat completion we can use: one failed request.

    `reason` is counted (`bad_json`, `bad_response`, `too_large`); `detail` says what was
    wrong, for the log, without quoting the body; `retryable` when another try may differ
    (a garbled body from a proxy), not when the server means it.
    """

    def __init__(self, reason: str, detail: str, *, retryable: bool = False) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retryable = retryable


def redirect_refused(url: str, status: int, location: str | None) -> str:
    """Why a redirect is not followed, naming where it points: the URL to configure.

    Neither the preflight nor the engine follows one: the key would go with the request,
    and a redirect may point at any server. The location is the server's text, escaped.
    """
    return (
        f"{url} redirects (HTTP {status}) to {ascii(location or 'nowhere')}; redirects are "
        "not followed, so that the API key reaches no other server: set models.*.base_urls "
        "to where the API is"
    )


def max_body_bytes(max_tokens: int) -> int:
    """The largest answer body worth reading for a request of `max_tokens`: past it the
    server sends more than it was asked for, and the client stops reading."""
    return BYTES_PER_TOKEN * max_tokens + ENVELOPE_BYTES


def chat_payload(model: str, request: ChatRequest) -> dict[str, Any]:
    """The JSON body for POST {base_url}/chat/completions."""
    payload: dict[str, Any] = {
        "model": model,
        "messages": request.chat_messages(),
        "temperature": request.sampling.temperature,
        "top_p": request.sampling.top_p,
        "max_tokens": request.sampling.max_tokens,
        "seed": request.seed,
    }
    if request.chat_template_kwargs:
        payload["chat_template_kwargs"] = request.chat_template_kwargs  # vLLM, SGLang
    if request.json_schema is not None:
        # `strict` asks servers that support it (vLLM, SGLang, OpenAI) to constrain decoding
        # to the schema; the judge's tolerant parser still covers servers that ignore it.
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": request.json_schema, "strict": True},
        }
    return payload


def decode_body(raw: bytes) -> Any:
    """The JSON of a 200's body; BadResponse when it is not JSON, or nests too deep to read
    (the standard library's decoder stops at the interpreter's recursion limit)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadResponse("bad_json", "its body is not JSON", retryable=True) from None


def parse_chat_response(body: Any) -> Completion:
    """Text, finish reason and token counts of the first choice; `usage` may be absent.

    Only `content` is the answer: a server running a reasoning parser returns the thoughts
    apart (`reasoning_content`, or `reasoning`), kept as the completion's `reasoning`,
    which reaches a record only with export.reasoning=true. Every field
    is checked for its type, strings are made valid text (a lone surrogate is a valid JSON
    escape) and token counts are bounded, so nothing of a body can fail a later step.
    """
    try:
        choice = body["choices"][0]
        message = choice["message"]
        text = message.get("content") or ""  # null content: a refusal or tool call
        reasoning = message.get("reasoning_content") or message.get("reasoning") or None
        finish = choice.get("finish_reason") or "stop"
        usage = body.get("usage") or {}
        counts = [usage.get(name) for name in ("prompt_tokens", "completion_tokens")]
    except (KeyError, IndexError, TypeError, AttributeError):
        raise BadResponse("bad_response", "its body is not a chat completion") from None
    if not isinstance(text, str) or not isinstance(finish, str):
        raise BadResponse("bad_response", "its content or finish_reason is not a string")
    if not isinstance(reasoning, str | None):
        raise BadResponse("bad_response", "its reasoning_content is not a string")
    prompt_tokens, completion_tokens = (_token_count(count) for count in counts)
    return Completion(
        text=valid_text(text),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        finish_reason=valid_text(finish),
        reasoning=None if reasoning is None else valid_text(reasoning),
    )


def _token_count(value: Any) -> int:
    """A count as the server reports it: absent is 0; anything but an integer in
    0..MAX_TOKEN_COUNT is a server we cannot believe, rather than a number to clamp."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKEN_COUNT:
        raise BadResponse(
            "bad_response", f"a usage count is not an integer in 0..{MAX_TOKEN_COUNT}"
        )
    return value
