"""Named crash points, so tests can kill the process at an exact place (never used otherwise).

`GENETIC_INSTRUCT_CRASH_AT=commit:3` makes the third pass through `point("commit")` kill
the process with SIGKILL, as a preempted node or the OOM killer would; `commit:3:SIGSTOP`
stops it there instead (a test then acts beside a writer frozen at a known place). Unset,
`point` is a dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "GENETIC_INSTRUCT_CRASH_AT"


def _parse(spec: str) -> tuple[str, int, int] | None:
    if not spec:
        return None
    name, _, rest = spec.partition(":")
    count, _, signame = rest.partition(":")
    return name, int(count or 1), signal.Signals[signame or "SIGKILL"]


_TARGET = _parse(os.environ.get(ENV, ""))
_SEEN: dict[str, int] = {}


def point(name: str) -> None:
    """Mark a place where a crash must be survivable."""
    if _TARGET is None or _TARGET[0] != name:
        return
    _SEEN[name] = _SEEN.get(name, 0) + 1
    if _SEEN[name] == _TARGET[1]:
        os.kill(os.getpid(), _TARGET[2])
