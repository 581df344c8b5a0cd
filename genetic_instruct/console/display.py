"""What the user watches: a progress bar per stage and one summary line per generation.

A stage's bar shows requests done/total, tokens per second, acceptance so far, elapsed
time, and the ETA to evolution.target_size at the population's growth rate so far. Engine
and library logs are kept off this terminal (engine_logs.py).

Everything is printed as text, never as rich markup: paths and model text hold `[red]`,
`[/]` and `:name:` as often as anything else, and read as markup they printed the wrong
path or ended a finished run with a MarkupError (text_console)."""

from __future__ import annotations

import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.style import StyleType

REFRESH_S = 0.1  # the bar is redrawn ~10 times a second; updating it per answer costs ~30 us


def text_console(**options: Any) -> Console:
    """A rich console that prints strings as they are: no markup, no emoji codes."""
    return Console(markup=False, emoji=False, highlight=False, **options)


def terminal_safe(text: str) -> str:
    """Model text as it can be shown on a terminal: control characters other than newline
    and tab (escape sequences a terminal would act on) written out as escapes."""
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) != "Cc" else repr(ch)[1:-1] for ch in text
    )


def _text_column(template: str, style: StyleType = "") -> TextColumn:
    """A progress column whose fields are shown as text (no markup in them, or around)."""
    return TextColumn(template, style=style, markup=False)


class StageTracker:
    """Counts one stage's finished requests and tokens; feeds the bar if there is one.

    The bar is updated at most every REFRESH_S, so a 20k-request stage pays for ~100 bar
    updates, not 20k.
    """

    def __init__(self, progress: Progress | None, task: Any, accepted_so_far: str) -> None:
        self._progress = progress
        self._task = task
        self._accepted = accepted_so_far
        self._start = time.monotonic()
        self._shown_at = self._start
        self.done = 0
        self.tokens = 0
        self.by_role: Counter[str] = Counter()  # answers per role, when several share a bar

    def answered(self, role: str, completion_tokens: int) -> None:
        """One answer, of `role`, that cost `completion_tokens`."""
        self.by_role[role] += 1
        self.done += 1
        self.tokens += completion_tokens
        if self._progress is None:
            return
        now = time.monotonic()
        if now - self._shown_at >= REFRESH_S:
            self._progress.update(
                self._task,
                completed=self.done,
                speed=f"{self.tokens_per_s:,.0f} tok/s",
                roles=" ".join(f"{role} {n}" for role, n in self.by_role.items()),
                acc=self._accepted,
            )
            self._shown_at = now

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._start

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)


class RunDisplay:
    """Rich output when enabled; silent (for tests and logs) otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.console = text_console(stderr=True, quiet=not enabled)
        # Live bars only on a terminal; logs get the summary lines alone.
        self.enabled = enabled and self.console.is_terminal
        self._growth: list[tuple[float, int]] = []  # (time, population) at generation ends
        self._target = 0

    def population(self, size: int, target: int) -> None:
        """The population now (at the start, and after each generation), for the ETA."""
        self._growth.append((time.monotonic(), size))
        self._target = target

    def eta_to_target(self) -> str:
        """Time until the population reaches the target at its growth rate so far."""
        if len(self._growth) < 2:
            return "-"
        (t0, p0), (t1, p1) = self._growth[0], self._growth[-1]
        if p1 >= self._target:
            return "0s"
        if p1 <= p0:
            return "-"
        seconds = (self._target - p1) * (t1 - t0) / (p1 - p0)
        return _duration(seconds)

    @contextmanager
    def stage(self, name: str, total: int | None, accepted_so_far: str) -> Iterator[StageTracker]:
        if not self.enabled:
            yield StageTracker(None, None, accepted_so_far)
            return
        with Progress(
            _text_column("{task.description:<11}", style="bold"),
            BarColumn(),
            MofNCompleteColumn(),
            _text_column("{task.fields[speed]}"),
            _text_column("{task.fields[roles]}"),
            _text_column("accepted so far {task.fields[acc]}"),
            TimeElapsedColumn(),
            _text_column("ETA to target {task.fields[eta]}"),
            console=self.console,
            transient=True,
        ) as progress:
            task = progress.add_task(
                name,
                total=total,
                speed="",
                roles="",
                acc=accepted_so_far,
                eta=self.eta_to_target(),
            )
            yield StageTracker(progress, task, accepted_so_far)

    def line(self, text: str) -> None:
        self.console.print(text, soft_wrap=True)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
