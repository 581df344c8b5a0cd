"""Engine and library logs go to the run's log file, so the terminal keeps the progress.

vLLM logs dozens of INFO lines while a model loads, through its own `vllm` logger, and its
EngineCore runs in a child process that inherits this process's stdout and stderr (and,
when spawned, configures logging afresh from VLLM_* variables). So for a run, unless
`verbose=true`:

- the loggers of vLLM, Ray, httpx, huggingface_hub and transformers write INFO and above to
  run_dir/run.log and only warnings and errors to the terminal; vLLM is pointed at the same
  configuration (VLLM_LOGGING_CONFIG_PATH), which its child processes read when they start;
- while an engine starts (`engine_output`), file descriptors 1 and 2 point at the log file:
  the engine's child processes keep them for their life, and whatever they or the model
  loader print (progress bars, C++ logs) goes there too.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genetic_instruct.files.plain import open_plain, refuse_links

LOG_FILE = "run.log"
LIBRARIES = ("vllm", "ray", "httpx", "httpx2", "huggingface_hub", "transformers")


class _Routing:
    log: Path | None = None  # the current run's log file, while its logs are routed


def logging_config(log: Path) -> dict[str, Any]:
    """The libraries' loggers: INFO to the log file, warnings and errors to the terminal."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "line": {"format": "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"}
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(log),
                "level": "INFO",
                "formatter": "line",
                "delay": True,
            },
            "terminal": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "level": "WARNING",
                "formatter": "line",
            },
        },
        "loggers": {
            name: {"handlers": ["file", "terminal"], "level": "INFO", "propagate": False}
            for name in LIBRARIES
        },
    }


@contextmanager
def routed(run_dir: str | Path, verbose: bool) -> Iterator[None]:
    """Route the libraries' logs to run_dir/run.log for the block (run_dir must exist)."""
    if verbose:
        yield
        return
    log = Path(run_dir).resolve() / LOG_FILE
    refuse_links([log], "the run's log")  # logging's FileHandler would write through it
    config = logging_config(log)
    saved = {name: _logger_state(name) for name in LIBRARIES}
    env = {"VLLM_CONFIGURE_LOGGING": "1"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="gi-logging-") as file:
        json.dump(config, file)
        file.flush()
        env["VLLM_LOGGING_CONFIG_PATH"] = file.name
        old_env = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        logging.config.dictConfig(config)
        _Routing.log = log
        try:
            yield
        finally:
            _Routing.log = None
            for name, state in saved.items():
                _restore(name, state)
            for key, value in old_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextmanager
def engine_output() -> Iterator[None]:
    """While an engine starts: this process's stdout and stderr go to the run's log file,
    and so do its child processes' for their life (they inherit the descriptors)."""
    log = _Routing.log
    if log is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    target = open_plain(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, "the run's log")
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)


_State = tuple[list[logging.Handler], int, bool]


def _logger_state(name: str) -> _State:
    logger = logging.getLogger(name)
    return list(logger.handlers), logger.level, logger.propagate


def _restore(name: str, state: _State) -> None:
    logger = logging.getLogger(name)
    for handler in logger.handlers:
        if handler not in state[0]:
            handler.close()
    logger.handlers, logger.level, logger.propagate = state
