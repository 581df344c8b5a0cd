"""Per-role chat-template kwargs: they reach both engines and shape the journal key only
when set (journals written before they existed stay valid)."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from genetic_instruct.config import ROLES
from genetic_instruct.evolution.requests import request_seed
from genetic_instruct.llm.base import ChatRequest, Sampling
from genetic_instruct.llm.openai_wire import chat_payload, parse_chat_response
from genetic_instruct.llm.vllm_engine import _by_template_kwargs

_SAMPLING = Sampling(0.7, 0.9, 64)


def test_journal_key_without_kwargs_is_the_key_journals_already_hold() -> None:
    request = ChatRequest((("user", "hi"),), _SAMPLING, seed=3)
    before = json.dumps(
        ["m", request.messages, _SAMPLING.__dict__, 3, None], sort_keys=True, ensure_ascii=False
    )
    assert request.journal_key("m") == hashlib.blake2b(before.encode(), digest_size=16).hexdigest()
    thinking_off = ChatRequest(
        (("user", "hi"),), _SAMPLING, 3, chat_template_kwargs={"enable_thinking": False}
    )
    assert thinking_off.journal_key("m") != request.journal_key("m")


def test_kwargs_reach_the_openai_body_and_group_vllm_enqueues() -> None:
    off = {"enable_thinking": False}
    plain = ChatRequest((("user", "a"),), _SAMPLING, 1)
    thinking_off = ChatRequest((("user", "b"),), _SAMPLING, 2, chat_template_kwargs=off)
    assert chat_payload("m", thinking_off)["chat_template_kwargs"] == off
    assert "chat_template_kwargs" not in chat_payload("m", plain)
    assert _by_template_kwargs([plain, thinking_off, plain]) == [[0, 2], [1]]


def test_only_content_is_the_answer_and_bad_text_is_made_storable() -> None:
    body = {
        "choices": [
            {
                "message": {"content": "final \ud800", "reasoning_content": "thoughts"},
                "finish_reason": "length",
            }
        ]
    }
    completion = parse_chat_response(body)
    assert completion.text == "final \ufffd" and completion.finish_reason == "length"


def test_request_seeds_are_numpy_seed_sequences_first_words() -> None:
    """The seeds made a block at a time are the ones every run so far was sampled with
    (journals and datasets hold them): SeedSequence's, for run seeds of one and several
    32-bit words, every role, first and later attempts, indexes across blocks."""
    rng = np.random.default_rng(5)
    for run_seed in [0, 1, 1234, 2**32 - 1, 2**32, 2**63 + 7]:
        for role in ROLES:
            for attempt in (0, 1, 3):
                generation = int(rng.integers(0, 500))
                for index in [0, 1, 4095, 4096, int(rng.integers(0, 2**20)), 2**32 - 1]:
                    entropy = [run_seed, generation, ROLES.index(role), index]
                    entropy += [attempt] if attempt else []
                    expected = np.random.SeedSequence(entropy).generate_state(1)[0] & 0x7FFFFFFF
                    assert request_seed(run_seed, generation, role, index, attempt) == expected
