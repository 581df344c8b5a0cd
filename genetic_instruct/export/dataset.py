"""The dataset users train on: JSONL, one chat sample per line, with its lineage.

The dataset grows with the run: after each generation only the new records are appended.
Exactly-once across crashes comes from the store: it records how many bytes of the file
are confirmed and up to which population position, so a resume first cuts off whatever a
crash left half-written and then appends from there, provided the file still starts with
the bytes it confirmed (identity.py: another run's export, or an edit, is caught
there). A change of export settings (path, seeds in or out), or a file that is not the one
confirmed, rewrites the whole file atomically (temporary file, fsync, rename); a large
rewrite is split over the CPUs, each process writing a slice of the population to a part
file, and the parts joined in the kernel (copy_file_range) before the rename. No export
writes into another run's directory.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from genetic_instruct import faults
from genetic_instruct.config import ExportConfig, ExportFormat
from genetic_instruct.export.identity import (
    claim_run_id,
    fingerprint,
    kept_in_export,
    refuse_other_runs,
)
from genetic_instruct.export.parquet import NOTHING, Written, write_parquet
from genetic_instruct.files.atomic import atomic_file, sweep_debris, temp_beside
from genetic_instruct.files.ownership import refuse_foreign
from genetic_instruct.files.plain import refuse_links
from genetic_instruct.individual import Individual
from genetic_instruct.languages import Language
from genetic_instruct.prompts.languages import fence_tag
from genetic_instruct.spawning import spawn_without_main
from genetic_instruct.state.meta import (
    EXPORT,
    SHARDS,
    WITHHELD_SEEDS,
    ExportedDataset,
    ExportedShards,
)
from genetic_instruct.state.store import RunStore

PARALLEL_FROM = 50_000  # records; a smaller rewrite is done before worker processes start
MAX_WORKERS = 8


def sample(ind: Individual) -> dict[str, Any]:
    """One training sample: chat `messages`, the flat instruction/output pair, the lineage."""
    return sample_of_record(ind.to_dict())


def sample_of_record(record: dict[str, Any]) -> dict[str, Any]:
    """`sample` from a stored record (Individual.to_dict()), without building an Individual.

    The export streams stored records straight through this; at 800k records the dataclass
    round trip would cost more than reading and writing the file.
    """
    instruction = record["instruction"]
    output = as_markdown(record["solution"], record.get("language", "python"))
    answer = {"role": "assistant", "content": output}
    if record.get("reasoning"):  # where chat templates (Qwen3, DeepSeek-R1, ...) read it
        answer["reasoning_content"] = record["reasoning"]
    sample = {
        "id": record["id"],
        "messages": [{"role": "user", "content": instruction}, answer],
        "instruction": instruction,
        "output": output,
        **record,  # the lineage; id and instruction keep their places above
    }
    del sample["solution"]
    return sample


def _samples(
    records: Iterable[dict[str, Any]], include_seeds: bool, withheld: frozenset[str]
) -> Iterator[dict[str, Any]]:
    """The exported samples: seeds only with include_seeds, never a withheld (benchmark) one."""
    for record in records:
        if kept_in_export(record["origin"], record["id"], include_seeds, withheld):
            yield sample_of_record(record)


def _write(
    out: IO[bytes],
    records: Iterable[dict[str, Any]],
    include_seeds: bool,
    withheld: frozenset[str] = frozenset(),
) -> int:
    """Write the samples as JSON lines; return how many."""
    count = 0
    for sample in _samples(records, include_seeds, withheld):
        out.write(orjson.dumps(sample, option=orjson.OPT_APPEND_NEWLINE))
        count += 1
    return count


def _withheld(store: RunStore) -> frozenset[str]:
    """The seeds never exported (they match a benchmark); none for a run never screened."""
    return frozenset(store.meta.get(WITHHELD_SEEDS) or ())


def export_jsonl(population: Iterable[Individual], path: str | Path, include_seeds: bool) -> int:
    """Write the dataset atomically; return the number of records written."""
    with atomic_file(path) as out:
        return _write(out, (ind.to_dict() for ind in population), include_seeds)


def rewrite(
    store: RunStore, target: Path, include_seeds: bool, last_seq: int, workers: int = 0
) -> int:
    """Write the whole population to `target` atomically, in parallel slices when large.

    `workers` 0 means one per CPU (up to MAX_WORKERS) from PARALLEL_FROM records on.
    """
    if not workers:
        workers = 1 if last_seq < PARALLEL_FROM else min(os.cpu_count() or 1, MAX_WORKERS)
    edges = [last_seq * i // workers for i in range(workers + 1)]
    withheld = _withheld(store)
    with atomic_file(target) as out:
        if workers == 1:
            count = _write(out, store.records(upto_seq=last_seq), include_seeds, withheld)
        else:
            count = _write_in_slices(store, out, target, edges, include_seeds, withheld)
        faults.point("rewrite")  # written, not yet renamed: a kill here leaves the most debris
        return count


def _write_in_slices(
    store: RunStore,
    out: IO[bytes],
    target: Path,
    edges: list[int],
    include_seeds: bool,
    withheld: frozenset[str],
) -> int:
    """The first slice (positions up to edges[1]) written here, each other one by a worker
    process to a part file, the parts then appended to `out`; return the record count."""
    run_dir = str(store.path.parent)
    with (
        _part_files(target, len(edges) - 2) as parts,
        ProcessPoolExecutor(len(edges) - 2, mp_context=spawn_without_main()) as pool,
    ):
        others = [
            pool.submit(_write_slice, run_dir, part, lo, hi, include_seeds)
            for part, lo, hi in zip(parts, edges[1:-1], edges[2:])
        ]
        count = _write(out, store.records(upto_seq=edges[1]), include_seeds, withheld)
        count += sum(future.result() for future in others)
        out.flush()
        for part in parts:
            with open(part, "rb") as src:
                _append(src, out)
    return count


def _write_slice(
    run_dir: str, part: str, after_seq: int, upto_seq: int, include_seeds: bool
) -> int:
    """One worker's share of a rewrite: population positions (after_seq, upto_seq]."""
    with RunStore(run_dir, read_only=True) as store, open(part, "wb") as out:
        return _write(out, store.records(after_seq, upto_seq), include_seeds, _withheld(store))


def _append(src: IO[bytes], out: IO[bytes]) -> None:
    """Copy `src` to the end of `out` in the kernel where it can (no copy through Python)."""
    if not hasattr(os, "copy_file_range"):  # macOS
        shutil.copyfileobj(src, out)
        return
    remaining = os.fstat(src.fileno()).st_size
    while remaining:
        copied = os.copy_file_range(src.fileno(), out.fileno(), remaining)
        if copied == 0:
            raise OSError(f"copy_file_range stopped with {remaining} bytes left")
        remaining -= copied


@contextmanager
def _part_files(target: Path, n: int) -> Iterator[list[str]]:
    """Temporary files beside `target` for the workers' slices, removed afterwards."""
    with ExitStack() as stack:
        yield [stack.enter_context(temp_beside(target))[1] for _ in range(n)]


def sync_dataset(store: RunStore, export: ExportConfig) -> int:
    """The run's dataset brought up to date in export.format; return its record count.
    The caller holds the run's lock."""
    claim_run_id(store)  # before the card that names it
    if export.format == ExportFormat.parquet:
        return export_parquet(store, export)
    return sync_export(store, export.path, export.include_seeds)


def export_parquet(store: RunStore, export: ExportConfig, whole: bool = False) -> int:
    """The population as it is now, as Parquet shards beside export.path: after the full
    shards the run confirmed there, or all of them (`whole`, or nothing confirmed)."""
    refuse_other_runs(store.path.parent, Path(export.path), "export.path")
    withheld, last_seq = _withheld(store), store.population_size()
    target = str(Path(export.path).resolve())
    state = store.meta.get(SHARDS)
    kept = NOTHING
    if not whole and state is not None:
        if (state.path, state.include_seeds, state.rows_per_shard) == (
            target,
            export.include_seeds,
            export.rows_per_shard,
        ):
            kept = Written(state.full, state.seq, state.last)

    def samples_after(seq: int) -> Iterator[tuple[int, dict[str, Any]]]:
        records = store.records(after_seq=seq, upto_seq=last_seq)
        for position, record in enumerate(records, start=seq + 1):
            if kept_in_export(record["origin"], record["id"], export.include_seeds, withheld):
                yield position, sample_of_record(record)

    count, written = write_parquet(samples_after, export.path, export.rows_per_shard, kept)
    if not whole and not store.read_only:  # the run's own shards, kept up to date
        shards = ExportedShards(target, export.include_seeds, export.rows_per_shard, *written)
        store.meta.set(SHARDS, shards)
    return count


def is_run_dataset(store: RunStore, path: str | Path) -> bool:
    """Whether `path` is the file the run keeps up to date (or the run has none yet)."""
    state = store.meta.get(EXPORT)
    return state is None or state.path == str(Path(path).resolve())


def copy_export(store: RunStore, path: str | Path, include_seeds: bool) -> int:
    """Write the population as it is now to `path`, leaving the run's state alone; a file
    there must be recognisably ours (ForeignFile otherwise, and nothing is written)."""
    refuse_other_runs(store.path.parent, Path(path), "export.path")
    refuse_foreign([(Path(path), "export.path")])
    return rewrite(store, Path(path), include_seeds, store.population_size())


def sync_export(store: RunStore, path: str | Path, include_seeds: bool) -> int:
    """Bring the dataset file up to date with the store; return its record count.

    From a read-only store (a run on read-only media) the file is written whole and nothing
    is confirmed in the store. A file at `path` that this run did not export there must be
    recognisably ours (ForeignFile otherwise, and nothing is written); one in another run's
    directory is refused (ForeignRun).
    """
    target = Path(path)
    refuse_other_runs(store.path.parent, target, "export.path")
    refuse_links([target], "the file at export.path")
    claim_run_id(store)
    exported = store.meta.get(EXPORT)
    last_seq = store.population_size()
    ours = exported if exported is not None and exported.path == str(target.resolve()) else None
    if ours is None:
        refuse_foreign([(target, "export.path")])
    sweep_debris(target)  # an append makes no temporary file: sweep what a killed rewrite left
    fd = None
    if ours is not None and not store.read_only:
        fd = _open_confirmed(target, ours, include_seeds)
    try:
        if fd is None or ours is None:
            count = rewrite(store, target, include_seeds, last_seq)
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        else:
            count = ours.count + _append_new(fd, store, ours, include_seeds)
        size = os.fstat(fd).st_size
        mark = fingerprint(fd, size)
    finally:
        if fd is not None:
            os.close(fd)
    faults.point("export")
    if store.read_only:
        return count
    store.meta.set(
        EXPORT, ExportedDataset(str(target.resolve()), include_seeds, size, last_seq, count, mark)
    )
    return count


def _append_new(fd: int, store: RunStore, state: ExportedDataset, include_seeds: bool) -> int:
    """Append the records after the confirmed ones; return how many."""
    with open(fd, "r+b", closefd=False) as out:
        out.truncate(state.bytes)  # drop what a crash left after the last confirmation
        out.seek(state.bytes)
        count = _write(out, store.records(after_seq=state.seq), include_seeds, _withheld(store))
        out.flush()
        os.fsync(fd)  # durable before the store confirms these bytes
    return count


def _open_confirmed(target: Path, state: ExportedDataset, include_seeds: bool) -> int | None:
    """The run's dataset, open for appending, if it is still the plain file that starts with
    the bytes the run confirmed and holds the same records; None: it is rewritten."""
    if state.include_seeds != include_seeds:
        return None
    try:
        fd = os.open(target, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # gone, or a link put there since the check: rewritten
        return None
    info = os.fstat(fd)
    if (
        stat.S_ISREG(info.st_mode)
        and info.st_nlink == 1  # another name would see the appends too
        and info.st_size >= state.bytes
        and fingerprint(fd, state.bytes) == state.fingerprint
    ):
        return fd
    os.close(fd)
    return None


def as_markdown(code: str, language: str = "python") -> str:
    """How a solution is shown as the assistant's message in the exported chat, fenced with
    its language's tag."""
    return f"```{fence_tag(Language(language))}\n{code}\n```"
