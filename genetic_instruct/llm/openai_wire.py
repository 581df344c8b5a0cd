"""The OpenAI chat-completions wire format: our requests out, their answers in.

Pure functions, shared by the engine and the benchmark's bare HTTP client, so both send
byte-for-byte the same bodies.
"""

from __future__ import annotations

from typing import Any

from genetic_instruct.llm.base import ChatRequest, Completion, valid_text

CHAT_PATH = "/chat/completions"
# The schema's name is required by the API and shown in server logs; one schema, one name.
SCHEMA_NAME = "verdict"


class BadResponse(ValueError):
    """A 200 whose body is not a chat completion: the server speaks another API."""


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


def parse_chat_response(body: Any) -> Completion:
    """Text, finish reason and token counts of the first choice; `usage` may be absent.

    Only `content` is the answer: a server running a reasoning parser returns the thoughts
    apart (`reasoning_content`, or `reasoning`), and they never reach a record. Lone
    surrogates (valid JSON escapes, invalid text) are replaced, so the answer can be stored.
    """
    try:
        choice = body["choices"][0]
        text = choice["message"].get("content") or ""  # null content: a refusal or tool call
        finish = choice.get("finish_reason") or "stop"
        text = valid_text(str(text))
    except (KeyError, IndexError, TypeError, AttributeError):
        raise BadResponse("bad_response") from None
    usage = body.get("usage") or {}
    return Completion(
        text=str(text),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=str(finish),
    )
