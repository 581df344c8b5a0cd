"""The Instructor's two roles: crossover (Self-Instruct) and mutation (Evol-Instruct).

Both keep what belongs to a task: code fences inside it (an example, the erroneous code of
the `erroneous_code` method) and everything written after them. They drop what does not:
reasoning, announcements ("Sure! Here's a harder version:"), sign-offs ("Let me know..."),
a solution the model added anyway, copies of our prompt's scaffolding. An answer that is
only chatter, or a refusal, is a counted rejection.
"""

from __future__ import annotations

import re

from genetic_instruct.answers.text import (
    PROMPT_ECHO,
    fences,
    is_refusal,
    outside_fences,
    trim_chatter,
)
from genetic_instruct.evolution.language_choice import TRANSLATION
from genetic_instruct.evolution.operators import OffspringPlan
from genetic_instruct.evolution.roles.base import Role
from genetic_instruct.languages import SYNTAX, Language
from genetic_instruct.prompts import PromptTemplate
from genetic_instruct.prompts.languages import LanguagePrompts
from genetic_instruct.rejection import Rejection

# "Task 1:", "**Task 2.**", "### Problem 3 -" ... at the start of a line, outside code. Bare
# "1." is not a header: tasks themselves often contain numbered lists of requirements.
_TASK_HEADER = re.compile(
    r"^[ \t]*[#>*_ \t]*(?:new\s+)?(?:task|problem|question|exercise)\s*#?\s*\d+"
    r"\s*[:.)\-]*[*_ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
# "New task:", "**Rewritten Task:**", "#Rewritten Prompt#:" at the start of a line.
_MUTATION_LEAD = re.compile(
    r"^[ \t]*[#*_ ]*(?:new|rewritten|revised|modified|harder|evolved)\s+"
    r"(?:task|question|problem|prompt|version)\s*#?[ \t]*[*_]*[ \t]*[:.\-]+[*_ \t]*",
    re.IGNORECASE | re.MULTILINE,
)


def _outside_code(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """Matches of a line-anchored pattern that do not start inside a fenced block."""
    spans = outside_fences(text, fences(text))
    return [m for start, end in spans for m in pattern.finditer(text, start, end)]


def _task(text: str) -> str:
    """One task, cleaned of chatter; "" when nothing of a task is left."""
    task = trim_chatter(text)
    if not task or is_refusal(task):
        return ""
    return task


def _reject_empty(answer: str) -> Rejection:
    return Rejection("instructor_refusal" if is_refusal(answer) else "instructor_no_task")


class CrossoverRole(Role[OffspringPlan, list[str]]):
    """New tasks in the style of k parents, split on their "Task N:" headers; in the
    plan's language (code_crossover.txt for the languages other than Python)."""

    engine_role = "instructor"

    def __init__(self, prompts: LanguagePrompts) -> None:
        super().__init__(prompts.python)
        self.prompts = prompts

    def template_for(self, plan: OffspringPlan) -> PromptTemplate:
        return self.prompts.template(Language(plan.language))

    def prompt(self, plan: OffspringPlan) -> str:
        examples = "\n\n".join(
            f"Example {i}:\n{parent.instruction.strip()}"
            for i, parent in enumerate(plan.parents, 1)
        )
        return self.prompts.render(
            Language(plan.language), k=len(plan.parents), n=plan.n_tasks, examples=examples
        )

    def parse(self, answer: str, plan: OffspringPlan) -> list[str]:
        """At most n tasks; an answer without any header counts as one task (small models
        often write one). Text before the first header is the model's preamble."""
        headers = _outside_code(_TASK_HEADER, answer)
        if not headers:
            parts = [answer]
        else:
            ends = [h.start() for h in headers[1:]] + [len(answer)]
            parts = [answer[h.end() : end] for h, end in zip(headers, ends)]
        tasks = [task for task in map(_task, parts) if task and not PROMPT_ECHO.search(task)]
        if not tasks:
            raise _reject_empty(answer)
        return tasks[: plan.n_tasks]


class MutationRole(Role[OffspringPlan, list[str]]):
    """One parent rewritten with one evolution method."""

    engine_role = "instructor"

    def __init__(
        self, template: PromptTemplate, methods: dict[str, str], translation: PromptTemplate
    ) -> None:
        super().__init__(template)
        self.methods = methods
        self.translation = translation

    def template_for(self, plan: OffspringPlan) -> PromptTemplate:
        return self.translation if plan.method == TRANSLATION else self.template

    def prompt(self, plan: OffspringPlan) -> str:
        assert plan.method is not None
        parent = plan.parents[0]
        if plan.method == TRANSLATION:  # the same task, asked for in the plan's language
            return self.translation.render(
                source=SYNTAX[Language(parent.language)].title,
                target=SYNTAX[Language(plan.language)].title,
                instruction=parent.instruction,
            )
        return self.template.render(
            method=self.methods[plan.method], instruction=parent.instruction
        )

    def parse(self, answer: str, plan: OffspringPlan) -> list[str]:
        """The text after the last "New task:" lead (a model may first restate the original),
        cleaned of chatter."""
        leads = _outside_code(_MUTATION_LEAD, answer)
        task = _task(answer[leads[-1].end() :] if leads else answer)
        if not task:
            raise _reject_empty(answer)
        if PROMPT_ECHO.search(task):
            raise Rejection("instructor_prompt_echo")
        return [task]
