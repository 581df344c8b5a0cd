"""What goes wrong, told apart by whose fault it is; the CLI turns each into one line and
an exit code, wherever in the package it was raised.

- InputError and its kinds: the user's input (a config key, a seed file, a run directory,
  a file in the way) is bad; the message names what and where. Exit 2.
- SandboxUnavailable: the platform refuses the isolation generated code must run in. Exit
  2, with the ways out (the CLI names them).
- EngineLost: an engine that can no longer answer anyone. The run stops at a safe point,
  and the same command resumes once the engine is back. Exit 75.
- Interrupted: SIGINT or SIGTERM, acted on at a safe point. Exit 128 + the signal.

A model's bad answer is none of these: it is the offspring's fault, a counted Rejection
(rejection.py), and never stops a run.
"""

from __future__ import annotations

import signal


class InputError(Exception):
    """Bad input from the user (a file, a config key); the message names what and where."""


class ConfigError(InputError):
    """A configuration value is invalid; the message starts with the key."""


class SeedFileError(InputError):
    """A seed file is malformed; the message starts with file:line."""


class SandboxUnavailable(RuntimeError):
    """The platform refused an isolation the limits ask for.

    Raised instead of running the code with less protection than requested: a silent
    fallback would let generated code reach the network or the file system unnoticed.
    """


class EngineLost(RuntimeError):
    """An engine can no longer answer anyone (server gone past its outage deadline, model
    no longer served, key refused): not the offspring's fault, so the run stops at a safe
    point instead of counting every request as a rejection. The message names the URL and
    the cause."""


class Interrupted(Exception):
    """Raised at a safe point after SIGINT or SIGTERM."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
