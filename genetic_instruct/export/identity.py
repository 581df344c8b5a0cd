"""Which run an exported dataset belongs to, and whether it is still the file the run wrote.

Datasets and cards look alike from run to run, so ownership by content (files/ownership.py)
cannot tell run A's export from run B's. Before this module, `export run_dir=A
export.path=B/dataset.jsonl` replaced B's dataset and card, B's next generation appended
its records to A's, and `verify` of B said ok. Runs are now kept apart three ways:

- No run writes into another run's directory (a folder holding a state file), nor over
  the state files of its own.
- Each run has an id (meta `run_id`), written into its dataset card; a card carrying
  another run's id is not replaced, wherever it lies.
- The run's record of its dataset (meta `export`: path, confirmed bytes and records) holds
  a fingerprint of the confirmed bytes, their first and last 64 KiB. An export appends
  only to the file it fingerprinted and rewrites any other; `verify` reads the whole file
  and checks every record's id against the population.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson

from genetic_instruct.config import ExportConfig, ExportFormat
from genetic_instruct.console.engine_logs import LOG_FILE
from genetic_instruct.errors import InputError
from genetic_instruct.state.database import LOCK_FILE, state_files
from genetic_instruct.state.meta import EXPORT, RUN_ID, WITHHELD_SEEDS, ExportedDataset
from genetic_instruct.state.store import RunStore

_ID_LINE = re.compile(rb"<!-- genetic-instruct run: ([0-9a-f]{32}) -->")
_HEAD = 64 * 1024  # bytes of a card read for its id; bytes at each end of a fingerprint
_STATE_NAMES = frozenset({*(path.name for path in state_files(".")), LOCK_FILE, LOG_FILE})


class ForeignRun(InputError):
    """An output would replace a file that belongs to another run (or to this run's state)."""


def claim_run_id(store: RunStore) -> None:
    """Give the run an id if it has none (a new run, or one made before ids); callers hold
    the run's lock, so it is written once. A run on read-only media stays without."""
    if not store.read_only and store.meta.get(RUN_ID) is None:
        store.meta.set(RUN_ID, uuid.uuid4().hex)


def id_line(run_id: str) -> str:
    """The card's line naming its run: a Markdown comment, invisible on the Hub."""
    return f"<!-- genetic-instruct run: {run_id} -->"


def card_run_id(card: Path) -> str | None:
    """The id of the run that wrote `card`, or None (no card, or one without an id)."""
    try:
        with open(card, "rb") as file:
            found = _ID_LINE.search(file.read(_HEAD))
    except OSError:
        return None
    return None if found is None else found.group(1).decode()


def kept_in_export(origin: str, ident: str, include_seeds: bool, withheld: frozenset[str]) -> bool:
    """Whether a population record is in the dataset: seeds only with include_seeds, never
    a withheld (benchmark) one."""
    return origin != "seed" or (include_seeds and ident not in withheld)


def refuse_other_runs(run_dir: str | Path, output: Path, key: str) -> None:
    """Raise ForeignRun when `output` lies in another run's directory than `run_dir`, or is
    one of the run's own state files."""
    folder = output.parent.resolve()
    own = Path(run_dir).resolve()
    if folder != own and any(os.path.lexists(path) for path in state_files(folder)):
        raise ForeignRun(
            f"{output}: in the directory of another run ({folder}), not of the run in {own}; "
            f"a run never writes into another's: write elsewhere with {key}=..."
        )
    if folder == own and output.name in _STATE_NAMES:
        raise ForeignRun(f"{output}: a state file of the run in {own}; use another {key}=...")


def refuse_other_runs_card(run_dir: str | Path, run_id: str | None, card: Path) -> None:
    """Raise ForeignRun when `card` names another run than the one in `run_dir` (of id
    `run_id`, None for one without: a new run), outside its directory (what lies in it is
    the run's to rewrite)."""
    if card.parent.resolve() == Path(run_dir).resolve():
        return
    other = card_run_id(card)
    if other is not None and other != run_id:
        raise ForeignRun(
            f"{card}: the card of another run (run id {other}), not of the run in {run_dir} "
            f"(run id {run_id or 'none yet'}); export elsewhere with export.path=..., or give "
            "this run's card another name with export.card=..."
        )


def fingerprint(fd: int, size: int) -> str:
    """A hash of the first and last 64 KiB of the file's first `size` bytes."""
    digest = hashlib.sha256(str(size).encode())
    digest.update(os.pread(fd, min(size, _HEAD), 0))
    digest.update(os.pread(fd, min(size, _HEAD), max(0, size - _HEAD)))
    return digest.hexdigest()[:32]


def dataset_problems(store: RunStore, export: ExportConfig) -> list[str]:
    """What `verify` says of the run's JSONL datasets, one line per problem (a dataset's
    first fault only, with its line): the one the run keeps up to date, every confirmed
    record of it; and the one at export.path, if that is another file, as a copy of the
    population at some time (the run's records in order, as many as it holds)."""
    state = store.meta.get(EXPORT)
    problems = []
    if state is not None:
        problems += _file_problems(store, Path(state.path), export.card, state.include_seeds, state)
    configured = Path(export.path)
    tracked = state is not None and state.path == str(configured.resolve())
    if export.format == ExportFormat.jsonl and not tracked and os.path.lexists(configured):
        problems += _file_problems(store, configured, export.card, export.include_seeds, None)
    return problems


def _file_problems(
    store: RunStore,
    path: Path,
    card_name: str,
    include_seeds: bool,
    state: ExportedDataset | None,
) -> list[str]:
    """One dataset's problems; with the run's `state` of it, up to its confirmed bytes."""
    where = f"exported dataset {path}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return [f"{where}: a symbolic link, not a file the run wrote"]
        return [f"{where}: {error.strerror} (an export writes it again)"]
    with os.fdopen(fd, "rb") as file:
        size = os.fstat(fd).st_size
        confirmed = size if state is None else state.bytes
        expected = _exported_ids(store, state.seq if state else None, include_seeds)
        problems = _record_problems(file, min(size, confirmed), expected, where, state is None)
        if not problems and size < confirmed:
            problems.append(f"{where}: {size} bytes, fewer than the {confirmed} confirmed")
    card = path.parent / card_name
    other = card_run_id(card)
    if other is not None and other != store.meta.get(RUN_ID):
        problems.append(f"dataset card {card}: written for another run (run id {other})")
    return problems


def _exported_ids(store: RunStore, upto_seq: int | None, include_seeds: bool) -> Iterator[str]:
    withheld = frozenset(store.meta.get(WITHHELD_SEEDS) or ())
    for lineage in islice(store.lineages(), upto_seq):
        if kept_in_export(lineage.origin, lineage.id, include_seeds, withheld):
            yield lineage.id


def _record_problems(
    file: IO[bytes], confirmed: int, expected: Iterator[str], where: str, prefix: bool
) -> list[str]:
    """The first of the file's records (up to `confirmed` bytes) that is not the run's next
    exported record; unless the file may be a `prefix` of them, also records it lacks."""
    read = number = 0
    while read < confirmed:
        line = file.readline()
        number += 1
        read += len(line)
        if read > confirmed or not line.endswith(b"\n"):
            return [f"{where}:{number}: a record cut short"]
        found, wanted = _record_id(line), next(expected, None)
        if found != wanted:
            shown = "not a JSON record with an id" if found is None else f"record {found}"
            return [
                f"{where}:{number}: {shown}, where the run exported "
                + (f"record {wanted}" if wanted else "nothing more")
                + " (another run's dataset, or an edited one; an export rewrites it)"
            ]
    missing = 0 if prefix else sum(1 for _ in expected)
    if missing:
        return [f"{where}: ends after {number} records, {missing} fewer than the run exported"]
    return []


def _record_id(line: bytes) -> str | None:
    try:
        record: Any = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    ident = record.get("id") if isinstance(record, dict) else None
    return ident if isinstance(ident, str) else None
