"""An OpenAI-compatible model that answers in the styles real model families write in.

Served by tests/fault_proxy.FaultServer(answer=styled_answer). Each answer's style is
picked by the request's seed: reasoning inline with drafts inside it (DeepSeek-R1, QwQ,
Qwen3), reasoning returned apart in `reasoning_content` (vLLM's --reasoning-parser), chatty
instruct (Llama-3.x: leads, sign-offs, a shell block before the code, a solution nobody asked
for), terse coders, gpt-oss harmony channels, and answers cut by max_tokens. The content is
drawn from a small catalogue of real tasks with working solutions, so survivors pass their
tests in the sandbox. Every piece that must never reach a dataset carries a LEAK marker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

LEAKS = (
    "<think>",
    "</think>",
    "DRAFT",
    "Sure!",
    "Let me know",
    "I hope",
    "#Rewritten Prompt#",
    "```bash",
    "pip install",
    "CUT-HERE",
    "<|channel|>",
    "REASONING-APART",
    "possible solution",
)
AFTER_EXAMPLE = "Keep the original order of equal elements."


@dataclass(frozen=True)
class Task:
    name: str
    text: str
    solution: str
    erroneous: str
    tests: tuple[str, ...]


CATALOGUE = (
    Task(
        "merge_ranges",
        "Write a function `merge_ranges(ranges)` that merges overlapping closed "
        "integer ranges given as (start, end) tuples and returns them sorted by start.",
        "def merge_ranges(ranges):\n    merged = []\n    for start, end in sorted(ranges):\n"
        "        if merged and start <= merged[-1][1]:\n"
        "            merged[-1] = (merged[-1][0], max(merged[-1][1], end))\n"
        "        else:\n            merged.append((start, end))\n    return merged",
        "def merge_ranges(ranges):\n    return sorted(ranges)",
        ("merge_ranges([(1, 3), (2, 6), (8, 10)]) == [(1, 6), (8, 10)]", "merge_ranges([]) == []"),
    ),
    Task(
        "rle_encode",
        "Implement `rle_encode(text)` returning the run-length encoding of a "
        "string as letter-count pairs, so that runs of repeated characters shrink.",
        "def rle_encode(text):\n    out, i = [], 0\n    while i < len(text):\n        j = i\n"
        "        while j < len(text) and text[j] == text[i]:\n            j += 1\n"
        "        out.append(f'{text[i]}{j - i}')\n        i = j\n    return ''.join(out)",
        "def rle_encode(text):\n    return text",
        ("rle_encode('aaabcc') == 'a3b1c2'", "rle_encode('') == ''"),
    ),
    Task(
        "second_largest",
        "Create `second_largest(nums)`, which finds the second biggest "
        "distinct integer of a list, giving None whenever no such value exists.",
        "def second_largest(nums):\n    values = sorted(set(nums))\n"
        "    return values[-2] if len(values) > 1 else None",
        "def second_largest(nums):\n    nums.sort()\n    return nums[-2]",
        ("second_largest([3, 1, 3, 2]) == 2", "second_largest([5, 5]) is None"),
    ),
    Task(
        "is_balanced",
        "Decide with `is_balanced(expr)` whether every bracket among ()[]{} in "
        "an expression closes in proper nesting order.",
        "def is_balanced(expr):\n    pairs = {')': '(', ']': '[', '}': '{'}\n    stack = []\n"
        "    for ch in expr:\n        if ch in '([{':\n            stack.append(ch)\n"
        "        elif ch in pairs:\n            if not stack or stack.pop() != pairs[ch]:\n"
        "                return False\n    return not stack",
        "def is_balanced(expr):\n    return expr.count('(') == expr.count(')')",
        ("is_balanced('([]{})')", "not is_balanced('(]')"),
    ),
    Task(
        "word_lengths",
        "Produce a dictionary from `word_lengths(sentence)` that maps every "
        "whitespace separated token to how many characters it has.",
        "def word_lengths(sentence):\n    return {w: len(w) for w in sentence.split()}",
        "def word_lengths(sentence):\n    return {}",
        ("word_lengths('hi there') == {'hi': 2, 'there': 5}", "word_lengths('') == {}"),
    ),
    Task(
        "rotate_left",
        "Shift a list cyclically: `rotate_left(items, k)` moves the first k "
        "elements to its end, with k possibly exceeding the length.",
        "def rotate_left(items, k):\n    if not items:\n        return []\n    k %= len(items)\n"
        "    return items[k:] + items[:k]",
        "def rotate_left(items, k):\n    return items[k:] + items[:k]",
        ("rotate_left([1, 2, 3], 1) == [2, 3, 1]", "rotate_left([1, 2, 3], 4) == [2, 3, 1]"),
    ),
    Task(
        "digit_root",
        "Repeatedly add the decimal digits of a non-negative integer until one "
        "digit remains; expose this as `digit_root(n)`.",
        "def digit_root(n):\n    while n >= 10:\n        n = sum(int(d) for d in str(n))\n"
        "    return n",
        "def digit_root(n):\n    return n % 10",
        ("digit_root(9875) == 2", "digit_root(0) == 0"),
    ),
    Task(
        "chunked",
        "Split a sequence into consecutive pieces of size n with `chunked(seq, n)`; "
        "the final piece may be shorter.",
        "def chunked(seq, n):\n    return [seq[i:i + n] for i in range(0, len(seq), n)]",
        "def chunked(seq, n):\n    return [seq[:n]]",
        ("chunked([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]", "chunked([], 3) == []"),
    ),
    Task(
        "count_islands",
        "Given a grid of '1' land and '0' water strings, `count_islands(grid)` "
        "counts the four-directionally connected land masses.",
        "def count_islands(grid):\n    seen = set()\n    rows = len(grid)\n"
        "    cols = len(grid[0]) if grid else 0\n    count = 0\n    for r in range(rows):\n"
        "        for c in range(cols):\n            if grid[r][c] == '1' and (r, c) not in seen:\n"
        "                count += 1\n                todo = [(r, c)]\n                while todo:\n"
        "                    y, x = todo.pop()\n"
        "                    if (y, x) in seen or not (0 <= y < rows and 0 <= x < cols):\n"
        "                        continue\n                    if grid[y][x] != '1':\n"
        "                        continue\n                    seen.add((y, x))\n"
        "                    todo += [(y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)]\n"
        "    return count",
        "def count_islands(grid):\n    return sum(row.count('1') for row in grid)",
        ("count_islands(['110', '010', '001']) == 2", "count_islands([]) == 0"),
    ),
    Task(
        "caesar_shift",
        "Encrypt lowercase letters using `caesar_shift(message, k)`: each "
        "letter advances k places around the alphabet, other symbols stay.",
        "def caesar_shift(message, k):\n    return ''.join(\n"
        "        chr((ord(ch) - 97 + k) % 26 + 97) if 'a' <= ch <= 'z' else ch for ch in message\n"
        "    )",
        "def caesar_shift(message, k):\n    return ''.join(chr(ord(ch) + k) for ch in message)",
        ("caesar_shift('xyz', 3) == 'abc'", "caesar_shift('a b!', 1) == 'b c!'"),
    ),
    Task(
        "pascal_row",
        "Return row number r of Pascal's triangle, counting from zero, via "
        "`pascal_row(r)` using only integer arithmetic.",
        "def pascal_row(r):\n    row = [1]\n    for _ in range(r):\n"
        "        row = [a + b for a, b in zip([0] + row, row + [0])]\n    return row",
        "def pascal_row(r):\n    return [1] * (r + 1)",
        ("pascal_row(4) == [1, 4, 6, 4, 1]", "pascal_row(0) == [1]"),
    ),
    Task(
        "flatten_once",
        "Remove exactly one level of nesting with `flatten_once(lists)`, "
        "concatenating inner lists while leaving deeper structure alone.",
        "def flatten_once(lists):\n    return [x for inner in lists for x in inner]",
        "def flatten_once(lists):\n    return lists",
        ("flatten_once([[1, [2]], [3]]) == [1, [2], 3]", "flatten_once([]) == []"),
    ),
)
_BY_NAME = {task.name: task for task in CATALOGUE}


def _pick(seed: int, k: int = 0) -> Task:
    return CATALOGUE[(seed * 7 + k * 5) % len(CATALOGUE)]


def _task_in(prompt: str) -> Task:
    for name, task in _BY_NAME.items():
        if f"`{name}(" in prompt:
            return task
    return CATALOGUE[0]


def _with_example(task: Task) -> str:
    """The task with a fenced example and a requirement written after it."""
    call = task.tests[0].split(" == ")[0]
    return f"{task.text} For example:\n\n```python\n{call}\n```\n\n{AFTER_EXAMPLE}"


def _crossover(seed: int, n: int, style: int) -> tuple[str, str | None]:
    tasks = [_pick(seed, k) for k in range(n)]
    body = "\n\n".join(
        f"Task {i}: {_with_example(t) if i == 1 else t.text}" for i, t in enumerate(tasks, 1)
    )
    if style == 0:
        drafts = "\n".join(f"Task {i}: DRAFT idea {i}" for i in range(1, n + 1))
        return (
            f"<think>\nLet me brainstorm.\n{drafts}\nNow the real ones.\n</think>\n\n{body}",
            None,
        )
    if style == 1:
        return body, "REASONING-APART: thinking about the tasks."
    first = tasks[0]
    return (
        f"Sure! Here are {n} new Python coding tasks:\n\n{body}\n\nHere is a possible "
        f"solution for Task 1:\n```python\n{first.solution}\n```\n\nLet me know if you'd "
        f"like more tasks!"
    ), None


def _mutation(seed: int, prompt: str, style: int) -> tuple[str, str | None]:
    task = _pick(seed)
    text = task.text
    if "erroneous code" in prompt:
        text += (
            f"\n\nHere is a piece of erroneous code for reference:\n\n```python\n"
            f"{task.erroneous}\n```\n\nYour function must also handle the cases it gets wrong."
        )
    else:
        text += " Handle empty input explicitly."
    if style == 0:
        draft = "<think>\nNew task: DRAFT something easier\nNo, go harder.\n</think>\n"
        return f"{draft}New task: {text}", None
    if style == 1:
        return (
            f"Sure! Here's a harder version of the task:\n\n#Rewritten Prompt#:\n{text}\n\n"
            f"I hope this helps! Let me know if you need the solution."
        ), None
    return (
        f"<|channel|>analysis<|message|>New task: DRAFT plan<|end|><|start|>assistant"
        f"<|channel|>final<|message|>New task: {text}<|return|>"
    ), None


def _coder(prompt: str, style: int) -> tuple[str, str | None]:
    task = _task_in(prompt)
    asserts = "\n".join(f"assert {t}" for t in task.tests)
    if style == 0:
        return (
            f"<think>\nDraft:\n```python\ndef {task.name}(*args):\n    return None  # DRAFT\n"
            f"```\nThat is wrong.\n</think>\n\nInstall nothing:\n\n```bash\npip install "
            f"pytest\n```\n\n```python\n{task.solution}\n```\n\n```python\n{asserts}\n```"
        ), None
    if style == 1:
        methods = "\n".join(
            f"    def test_{i}(self):\n        self.assertTrue({t})"
            for i, t in enumerate(task.tests)
        )
        return (
            f"Sure! Here's the solution with tests:\n\n```python\nimport unittest\n\n"
            f"{task.solution}\n\n\nclass Test{task.name.title()}(unittest.TestCase):\n"
            f"{methods}\n\n\nif __name__ == '__main__':\n    unittest.main()\n```\n\n"
            f"I hope this helps!"
        ), "REASONING-APART"
    functions = "\n\n".join(f"def test_{i}():\n    assert {t}" for i, t in enumerate(task.tests))
    return f"```python\n{task.solution}\n```\n```python\n{functions}\n```", None


def _judge(prompt: str, style: int) -> tuple[str, str | None]:
    ran = re.search(r"(\d+) of (\d+) passed", prompt)
    good = ran is not None and ran.group(1) == ran.group(2)
    score = 9 if good else 3
    final = json.dumps(
        {"rationale": "Checked against the tests.", "correctness": score, "quality": 8}
    )
    if style == 0:
        draft = json.dumps({"rationale": "DRAFT", "correctness": 10 - score, "quality": 1})
        return f"<think>\nDraft verdict: {draft}\nLet me check again.\n</think>\n{final}", None
    if style == 1:
        return final, "REASONING-APART"
    guess = json.dumps({"correctness": 1, "quality": 1, "rationale": "DRAFT"})
    return f"Let me know... no. My first guess was {guess}.\nFinal:\n{final}", None


def styled_answer(body: dict[str, Any]) -> dict[str, Any]:
    """The chat-completion response body for one request."""
    prompt = body["messages"][-1]["content"]
    seed = int(body.get("seed") or 0)
    style = seed % 3
    finish = "stop"
    if "Original task:" in prompt:
        content, reasoning = _mutation(seed, prompt, style)
    elif "Write unit tests" not in prompt and "Solve the following" in prompt:
        content, reasoning = _coder(prompt, style)
    elif "response_format" in body or "strict reviewer" in prompt:
        content, reasoning = _judge(prompt, style)
    else:
        n = int(re.search(r"Write (\d+) new", prompt).group(1))  # type: ignore[union-attr]
        content, reasoning = _crossover(seed, n, style)
    if seed % 5 == 4:  # cut by max_tokens: must never be kept, even where it would parse
        content, finish = content[: len(content) // 2] + " CUT-HERE", "length"
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(content.split())},
    }
