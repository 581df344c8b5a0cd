"""Realistic answers per role and model family, and what each must be read as.

Written for this project (no model output copied) after the styles these families use:
inline reasoning (DeepSeek-R1, QwQ, Qwen3 thinking: <think>...</think>, sometimes with the
opening tag in the chat template), reasoning returned apart by the server (only `content`
reaches us), chatty instruct models (Llama-3.x: leads, sign-offs, several fences, a shell
block), terse coders (Qwen2.5-Coder), gpt-oss's harmony channels, the embedded demo's
SmolLM2 (announcements in mid-line), and answers cut by max_tokens. `expected` is the exact
reading, or the rejection reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

R1_CROSSOVER = """<think>
The user wants 2 new tasks. Let me draft.
Task 1: DRAFT reverse a list (too easy, drop it).
Task 2: DRAFT sum of digits.
Better ideas: interval merging and a run-length encoder.
</think>

Task 1: Write a function `merge_ranges(ranges)` that merges overlapping closed integer ranges given as (start, end) tuples and returns them sorted.

Task 2: Write a function `rle_encode(text)` that returns the run-length encoding of a string, for example:

```python
rle_encode("aaabcc")  # -> "a3b1c2"
```

The input may be empty; an empty string encodes to an empty string."""

R1_CROSSOVER_TASKS = [
    "Write a function `merge_ranges(ranges)` that merges overlapping closed integer ranges "
    "given as (start, end) tuples and returns them sorted.",
    "Write a function `rle_encode(text)` that returns the run-length encoding of a string, "
    'for example:\n\n```python\nrle_encode("aaabcc")  # -> "a3b1c2"\n```\n\nThe input may be '
    "empty; an empty string encodes to an empty string.",
]

LLAMA_CROSSOVER = """Sure! Here are two new Python coding tasks:

**Task 1:** Implement a class `MinStack` with `push(x)`, `pop()` and `get_min()`, each in O(1) time.

**Task 2:** Write a function `is_balanced(expr)` that returns True when the brackets `()[]{}` in a string are balanced.

Here is a possible solution for Task 2:
```python
def is_balanced(expr):
    return True
```

Let me know if you'd like more tasks or different difficulty levels!"""

LLAMA_CROSSOVER_TASKS = [
    "Implement a class `MinStack` with `push(x)`, `pop()` and `get_min()`, each in O(1) time.",
    "Write a function `is_balanced(expr)` that returns True when the brackets `()[]{}` in a "
    "string are balanced.",
]

QWQ_MUTATION_ERRONEOUS = """Okay, so I need to make this harder by adding erroneous code.
New task: DRAFT count vowels with a bug
Hmm, better to keep the original idea.
</think>

New task: Write a function `second_largest(nums)` that returns the second largest distinct value in a list of integers, or None when there is none. The list may contain duplicates and negative numbers.

Here is a piece of erroneous code for reference:

```python
def second_largest(nums):
    nums.sort()
    return nums[-2]
```

It fails on duplicates and on lists with fewer than two distinct values; your function must not."""

QWQ_MUTATION_TASK = (
    "Write a function `second_largest(nums)` that returns the second largest distinct value in "
    "a list of integers, or None when there is none. The list may contain duplicates and "
    "negative numbers.\n\nHere is a piece of erroneous code for reference:\n\n```python\n"
    "def second_largest(nums):\n    nums.sort()\n    return nums[-2]\n```\n\nIt fails on "
    "duplicates and on lists with fewer than two distinct values; your function must not."
)

LLAMA_MUTATION = """Sure! Here's a harder version of the task:

#Rewritten Prompt#:
Write a function `word_frequencies(text)` that returns a dictionary mapping each word to its count, ignoring case and punctuation, and sorted by descending count then alphabetically.

This new task adds case folding, punctuation handling and a sort order.
Let me know if you need the solution too!"""

LLAMA_MUTATION_TASK = (
    "Write a function `word_frequencies(text)` that returns a dictionary mapping each word to "
    "its count, ignoring case and punctuation, and sorted by descending count then "
    "alphabetically."
)

SMOLLM2_MUTATION = """It is possible to achieve the task described. Here is the new task, starting with "New task:":

You can also create a new task for yourself. Here is the new task.
Write a function `common_free_slots(calendars, min_minutes)` that returns the free slots of at least min_minutes shared by every calendar."""

SMOLLM2_MUTATION_TASK = (
    "Write a function `common_free_slots(calendars, min_minutes)` that returns the free slots "
    "of at least min_minutes shared by every calendar."
)

REFUSAL = "I'm sorry, but I can't help with rewriting this task."
META_ONLY = "Sure! Here is the rewritten task:\n\nLet me know if you'd like any changes!"

R1_CODER_SOLUTION = """def merge_ranges(ranges):
    merged = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged"""

R1_CODER = f"""<think>
First attempt:
```python
def merge_ranges(ranges):
    return ranges  # DRAFT
```
That ignores overlaps. Sort first, then sweep.
</think>

To merge the ranges, sort them by start and sweep once.

```bash
pip install nothing-needed
```

```python
{R1_CODER_SOLUTION}
```

```python
assert merge_ranges([(1, 3), (2, 6), (8, 10)]) == [(1, 6), (8, 10)]
assert merge_ranges([]) == []
```

This runs in O(n log n) time."""

LLAMA_CODER_UNITTEST = """Here's a solution with unit tests:

```python
import unittest

def rle_encode(text):
    \"\"\"Run-length encode a string.\"\"\"
    out = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        out.append(f"{text[i]}{j - i}")
        i = j
    return "".join(out)


class TestRle(unittest.TestCase):
    def test_basic(self):
        self.assertEqual(rle_encode("aaabcc"), "a3b1c2")

    def test_empty(self):
        self.assertEqual(rle_encode(""), "")


if __name__ == "__main__":
    unittest.main()
```

Example usage:

```python
print(rle_encode("aabb"))
```

I hope this helps!"""

QWEN_CODER_TERSE = """```python
def is_balanced(expr):
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for ch in expr:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack
```
```python
def test_balanced():
    assert is_balanced("([]{})")

def test_unbalanced():
    assert not is_balanced("(]")

if __name__ == "__main__":
    assert is_balanced("")
```"""

TRUNCATED_CODER = """```python
def merge_ranges(ranges):
    merged = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:"""

UNFINISHED_THINK = "<think>\nLet me think about the intervals. First sort them, then"

R1_JUDGE = """<think>
Draft verdict: {"rationale": "draft", "correctness": 2, "quality": 2}
Wait, the sweep handles touching ranges too. The solution is right.
</think>
{"rationale": "Correct single sweep after sorting; clear task.", "correctness": 9, "quality": 9}"""

LLAMA_JUDGE_REVISED = """Let me evaluate. My first impression:
{"rationale": "looks wrong", "correctness": 3, "quality": 5}
On a closer look the edge cases are handled, so my final verdict is:
```json
{"rationale": "Handles empty input and duplicates.", "correctness": 8, "quality": 7}
```"""

JUDGE_LOOSE_100 = "Correctness: 100\nQuality: 9"
JUDGE_LOOSE = "Correctness: 7/10\nQuality - 6\nThe code works."

HARMONY_JUDGE = (
    '<|channel|>analysis<|message|>Check the loop. {"rationale": "x", "correctness": 1, '
    '"quality": 1}<|end|><|start|>assistant<|channel|>final<|message|>'
    '{"rationale": "Correct and idiomatic.", "correctness": 10, "quality": 8}<|return|>'
)


@dataclass(frozen=True)
class Case:
    family: str
    role: str  # crossover | mutation | coder | coder_tests | tester | judge
    answer: str
    expected: Any  # the reading, or "reject:<reason>"
    finish_reason: str = "stop"
    subject: str = ""  # the instruction the answer is about (coder, tester, judge)
    n_tasks: int = 2


CASES = [
    Case("deepseek-r1 inline think", "crossover", R1_CROSSOVER, R1_CROSSOVER_TASKS),
    Case("llama-3 chatty", "crossover", LLAMA_CROSSOVER, LLAMA_CROSSOVER_TASKS),
    Case(
        "qwq think opened by the template", "mutation", QWQ_MUTATION_ERRONEOUS, [QWQ_MUTATION_TASK]
    ),
    Case("llama-3 chatty", "mutation", LLAMA_MUTATION, [LLAMA_MUTATION_TASK]),
    Case("smollm2 rambling", "mutation", SMOLLM2_MUTATION, [SMOLLM2_MUTATION_TASK]),
    Case("llama-3 refusal", "mutation", REFUSAL, "reject:instructor_refusal"),
    Case("llama-3 meta only", "mutation", META_ONLY, "reject:instructor_no_task"),
    Case(
        "qwen3 unfinished think",
        "mutation",
        UNFINISHED_THINK,
        "reject:instructor_truncated",
        finish_reason="length",
    ),
    Case(
        "qwen3 think without end",
        "crossover",
        UNFINISHED_THINK,
        "reject:instructor_reasoning_unfinished",
    ),
    Case(
        "deepseek-r1 inline think",
        "coder_tests",
        R1_CODER,
        (
            R1_CODER_SOLUTION,
            "assert merge_ranges([(1, 3), (2, 6), (8, 10)]) == [(1, 6), (8, 10)]"
            "\nassert merge_ranges([]) == []",
        ),
        subject=R1_CROSSOVER_TASKS[0],
    ),
    Case(
        "llama-3 unittest class",
        "coder_tests",
        LLAMA_CODER_UNITTEST,
        "unittest:2",
        subject=R1_CROSSOVER_TASKS[1],
    ),
    Case(
        "qwen2.5-coder terse",
        "coder_tests",
        QWEN_CODER_TERSE,
        "asserts:3",
        subject=LLAMA_CROSSOVER_TASKS[1],
    ),
    Case(
        "truncated",
        "coder_tests",
        TRUNCATED_CODER,
        "reject:coder_truncated",
        finish_reason="length",
        subject=R1_CROSSOVER_TASKS[0],
    ),
    Case("deepseek-r1 inline think", "judge", R1_JUDGE, {"correctness": 9.0, "quality": 9.0}),
    Case(
        "llama-3 revised verdict",
        "judge",
        LLAMA_JUDGE_REVISED,
        {"correctness": 8.0, "quality": 7.0},
    ),
    Case("gpt-oss harmony", "judge", HARMONY_JUDGE, {"correctness": 10.0, "quality": 8.0}),
    Case("loose lines", "judge", JUDGE_LOOSE, {"correctness": 7.0, "quality": 6.0}),
    Case("score out of range", "judge", JUDGE_LOOSE_100, "reject:judge_score_out_of_range"),
    Case("deep nesting", "judge", "[" * 5000 + "{", "reject:judge_unparseable"),
    Case("deep objects", "judge", '{"a": ' * 3000 + "1" + "}" * 3000, "reject:judge_missing_score"),
    Case(
        "deep code",
        "coder_tests",
        "```python\nx = " + "(" * 3000 + "\n```",
        "reject:code_syntax_error",
    ),
    Case(
        "nul byte",
        "coder_tests",
        "```python\ndef f():\n    return '\x00'\n```",
        "reject:coder_nul_byte",
    ),
]
