"""Reading a model's raw answer as text: its final answer, its code fences, its chatter.

Shared by every role's parser. All of it runs in time linear in the answer (no regular
expression that can backtrack over a whole answer), because the text comes from models we
have never seen, including ones that loop until max_tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Reasoning models write their thoughts between these tags (DeepSeek-R1, Qwen3 and QwQ use
# <think>; others <thinking> or <reasoning>). Chat templates that open the tag themselves
# leave only the closing one in the answer.
_REASONING_TAGS = ("think", "thinking", "reasoning", "thought")
_OPEN = re.compile(rf"<({'|'.join(_REASONING_TAGS)})>", re.IGNORECASE)
_CLOSE = re.compile(rf"</({'|'.join(_REASONING_TAGS)})>", re.IGNORECASE)
# gpt-oss's harmony format, when a server returns it raw: analysis then final channel.
_HARMONY_FINAL = "<|channel|>final<|message|>"
_HARMONY_ANALYSIS = "<|channel|>analysis"
_HARMONY_END = re.compile(r"<\|(?:return|end|call)\|>")


def final_answer(text: str) -> str | None:
    """The answer without its reasoning, or None when the reasoning never ended.

    Everything up to the last closing reasoning tag is reasoning (the opening tag may be in
    the prompt); an opening tag with no closing tag after it means the model was still
    thinking when it stopped: there is no answer.
    """
    if _HARMONY_FINAL in text:
        text = text[text.rindex(_HARMONY_FINAL) + len(_HARMONY_FINAL) :]
        return _HARMONY_END.split(text, maxsplit=1)[0]
    if _HARMONY_ANALYSIS in text:
        return None
    closes = list(_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    if _OPEN.search(text):
        return None
    return text


def inline_reasoning(text: str) -> str | None:
    """The thoughts an answer holds before its final answer (inside reasoning tags, or a
    harmony analysis channel), without the tags; None when it holds none, or when they
    never ended (there is no final answer to keep them beside)."""
    if final_answer(text) is None:
        return None
    if _HARMONY_FINAL in text:
        before = text[: text.rindex(_HARMONY_FINAL)]
        start = before.find(_HARMONY_ANALYSIS)
        if start < 0:
            return None
        thoughts = before[start + len(_HARMONY_ANALYSIS) :].replace("<|message|>", "", 1)
        thoughts = _HARMONY_END.split(thoughts, maxsplit=1)[0]
    else:
        closes = list(_CLOSE.finditer(text))
        if not closes:
            return None
        thoughts = _OPEN.sub("", text[: closes[-1].start()])
    return thoughts.strip() or None


@dataclass(frozen=True)
class Fence:
    """A fenced code block: its language tag (lower case, "" when none) and its code."""

    language: str
    code: str
    start: int  # offset of the opening fence line in the text
    end: int  # offset just past the closing fence line (the text's end when unclosed)


# The line ends Python counts (and ast's line numbers with it), and CommonMark's.
# str.splitlines() also ends lines at \x0b, \x0c, \x1c-\x1e, \x85, U+2028 and U+2029, which
# may stand inside a string literal (or \x0c in indentation): cut there, a program lost or
# doubled lines of its tests, or broke a string in two and no longer parsed.
_LINE_END = re.compile(r"(\r\n|\r|\n)")


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """`text`'s lines at \r\n, \r and \n only; `keepends` keeps each line's end, and then
    yields no empty last line (as str.splitlines does)."""
    pieces = _LINE_END.split(text)  # line, end, line, end, ..., last line
    if not keepends:
        return pieces[::2]
    lines = [pieces[i] + pieces[i + 1] for i in range(0, len(pieces) - 1, 2)]
    return lines + [pieces[-1]] if pieces[-1] else lines


_FENCE_OPEN = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*([^`\s]*)[^`\n]*$")
PYTHON_TAGS = frozenset({"python", "python3", "py", "py3", "pycon"})


def fences(text: str) -> list[Fence]:
    """Fenced blocks in order, CommonMark-style: a closing fence is the same character, at
    least as long, alone on its line; an unclosed block runs to the end of the text.

    Fences indented inside list items are accepted, and their code is dedented by the
    fence's own indent.
    """
    found: list[Fence] = []
    lines = split_lines(text, keepends=True)
    offset = 0
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i].rstrip("\r\n"))
        if opening is None:
            offset += len(lines[i])
            i += 1
            continue
        indent, marker, tag = opening.group(1), opening.group(2), opening.group(3)
        start = offset
        offset += len(lines[i])
        body: list[str] = []
        i += 1
        while i < len(lines):
            line = lines[i]
            offset += len(line)
            i += 1
            stripped = line.strip()
            if stripped.startswith(marker[0] * len(marker)) and set(stripped) == {marker[0]}:
                break
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip(" \t"))
        code = "".join(body).rstrip("\r\n")
        found.append(Fence(tag.lower(), code, start, offset))
    return found


def outside_fences(text: str, blocks: list[Fence]) -> list[tuple[int, int]]:
    """The (start, end) spans of the text that lie outside every fenced block."""
    spans, cursor = [], 0
    for block in blocks:
        spans.append((cursor, block.start))
        cursor = block.end
    spans.append((cursor, len(text)))
    return [(a, b) for a, b in spans if b > a]


# -- chatter ----------------------------------------------------------------------------
# Lines a model writes about its answer rather than in it: what Evol-Instruct's elimination
# step removes (leads, sign-offs, prompt copies). Matched on one line at a time, without its
# Markdown decoration. A lead is an affirmation, or an announcement that ends in a colon or
# names what follows ("Here is a harder version of the task"); a task's own first sentence
# ("Here is a list of numbers; ...") is neither.
_AFFIRMATION = re.compile(
    r"^(?:sure|certainly|of course|okay|ok|absolutely|great|alright|understood)\b.{0,200}$",
    re.IGNORECASE,
)
_ANNOUNCEMENT = re.compile(
    r"^(?:here(?:'s| is| are)|below is|the following is|i(?:'ve| have) (?:rewritten|created|"
    r"made|written|come up with)|let me)\b.{0,200}(?::|\b(?:task|tasks|version|problem|"
    r"problems|prompt|question|questions|exercise|exercises|rewrite)\W{0,3})$",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^(?:let me know|i hope|hope this|feel free|if you (?:need|want|would|'d)|"
    r"would you like|do you want|happy coding|good luck|enjoy|"
    r"this (?:new |revised |rewritten |modified |updated |harder |more difficult )"
    r"(?:task|prompt|problem|question)|"
    r"this (?:new |revised |rewritten |modified |updated |harder )?version\b|"
    r"(?:the )?(?:changes|modifications) (?:made|i made)|explanation of (?:the )?changes|"
    r"i(?:'ve| have) (?:added|increased|made|introduced|replaced|included))\b",
    re.IGNORECASE,
)
_SOLUTION_INTRO = re.compile(
    r"^(?:here(?:'s| is) (?:a |the |my |one )?(?:possible |sample |reference |example |"
    r"python |correct )?(?:solution|implementation)|(?:reference |sample |possible |example |"
    r"python |correct )?(?:solution|implementation|answer)\s*:?$)",
    re.IGNORECASE,
)
_MISDIRECTION = re.compile(r"erroneous|buggy|incorrect|faulty|wrong|broken|flawed", re.I)
_REFUSAL = re.compile(
    r"^(?:i'm sorry|i am sorry|sorry,|i apologi[sz]e|i can(?:no|')t (?:help|assist|"
    r"comply|provide|do that|create|write)|i cannot (?:help|assist|comply|provide|create|"
    r"write)|as an ai\b|i(?:'m| am) (?:unable|not able) to)",
    re.IGNORECASE,
)
# Scaffolding of our own prompts, or Evol-Instruct's, copied into an answer.
PROMPT_ECHO = re.compile(
    r"#\s*(?:given|rewritten|created)\s+prompt\s*#|^\W*original task\W*:|"
    r"increase the difficulty of the given",
    re.IGNORECASE | re.MULTILINE,
)
_DECORATION = " \t*_#>\"'"


def plain(line: str) -> str:
    """A line without Markdown emphasis, heading marks and quotes, for matching."""
    return line.strip().strip(_DECORATION).strip()


# "... Here is the new task, starting with "New task":" anywhere in a short line.
_ANNOUNCED = re.compile(
    r"\bhere(?:'s| is| are) (?:the |a |an |your |my )?(?:new |rewritten |revised |modified |"
    r"harder |updated |more difficult )+(?:task|version|prompt|problem|question)s?\b",
    re.IGNORECASE,
)


def is_lead(line: str) -> bool:
    text = plain(line)
    if len(text) > 240:
        return False
    return bool(_AFFIRMATION.match(text) or _ANNOUNCEMENT.match(text) or _ANNOUNCED.search(text))


def is_sign_off(line: str) -> bool:
    return bool(_SIGN_OFF.match(plain(line)))


def is_solution_intro(line: str) -> bool:
    text = plain(line)
    return bool(_SOLUTION_INTRO.match(text)) and not _MISDIRECTION.search(text)


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL.match(plain(text.strip().split("\n", 1)[0])))


def units(text: str) -> list[str]:
    """The text as lines outside fences and whole fenced blocks, in order, so a trim of
    leading or trailing chatter never cuts into a block."""
    blocks = fences(text)
    out: list[str] = []
    cursor = 0
    for block in blocks:
        if block.start > cursor:  # the lines before the block, without the last line break
            out.extend(text[cursor : block.start - 1].split("\n"))
        out.append(text[block.start : block.end].rstrip("\n"))
        cursor = block.end
    if cursor < len(text):
        out.extend(text[cursor:].split("\n"))
    return out


def is_fence_unit(unit: str) -> bool:
    return bool(_FENCE_OPEN.match(unit.split("\n", 1)[0]))


def trim_chatter(text: str) -> str:
    """The text without leading announcements, a trailing solution the model added anyway,
    and trailing sign-offs; fenced blocks inside it (examples, erroneous code) stay whole."""
    parts = units(text)
    while parts and (not parts[0].strip() or (not is_fence_unit(parts[0]) and is_lead(parts[0]))):
        parts.pop(0)
    is_fence = [is_fence_unit(part) for part in parts]
    last_fence = max((i for i, fence in enumerate(is_fence) if fence), default=-1)
    for i, part in enumerate(parts):
        if is_fence[i] or not part.strip():
            continue
        following = next((j for j in range(i + 1, len(parts)) if parts[j].strip()), None)
        solution_follows = (
            following is not None and is_fence[following] and (is_solution_intro(part))
        )
        if solution_follows or (i > last_fence and is_sign_off(part)):
            parts = parts[:i]
            break
    return "\n".join(parts).strip().strip("*_").strip()
