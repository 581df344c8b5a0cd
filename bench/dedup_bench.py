"""Near-duplicate dedup benchmark: our NearDuplicateIndex next to datasketch.

Streams a synthetic corpus of ~360-word coding problems (``SyntheticCorpus``: 20% edited
copies, generated from a seed, never held in memory) through the evolution loop's
protocol in batches: signatures, query against the index, within the batch, add the
kept texts. docs/s counts only those calls (not generating the corpus). Each (engine,
size) runs in a process of its own, so its peak RSS (ru_maxrss) is its own.

datasketch runs as its users would: a regex tokenizer with the same normalization,
``MinHash.bulk`` (its default 128 permutations), ``MinHashLSH`` with its default band
choice, and each candidate verified with ``MinHash.jaccard``, one text at a time (query,
then insert if kept: the same sequential semantics).

Ours runs twice per size: with its default worker count (the cores the process may use:
the benchmark process plus helper processes signing texts) and with one worker (no
helper), which shows what the second core buys. Peak RSS is the benchmark process's;
a helper's own peak is reported apart (``ru_maxrss`` of children, once they have exited).

From the repository root (the corpus is bench/synthetic_corpus.py, not shipped):

    nice -n 10 .venv/bin/python -m bench.dedup_bench          # full run, ~20 min
    .venv/bin/python -m bench.dedup_bench --sizes 20000       # a quick look
    .venv/bin/python -m bench.dedup_bench --break-even        # when helpers start to pay
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from datetime import date
from importlib.metadata import version

import numpy as np
from datasketch import MinHash, MinHashLSH

from bench.synthetic_corpus import SyntheticCorpus, deduplicate, score
from genetic_instruct.dedup import NearDuplicateIndex, minhash
from genetic_instruct.dedup.minhash import MinHasher
from genetic_instruct.dedup.parallel import available_cores, shutdown_helpers
from genetic_instruct.dedup.shingles import Shingler

THRESHOLD = 0.7
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _Stream:
    """Batches of the corpus, keeping the CPU seconds spent generating them, so the
    dedup's own CPU time can be told apart from the benchmark's."""

    def __init__(self, corpus: SyntheticCorpus, batch: int) -> None:
        self.corpus, self.batch, self.generating_cpu_s = corpus, batch, 0.0

    def __call__(self, start: int, stop: int) -> Iterator[tuple[int, list[str]]]:
        for first in range(start, stop, self.batch):
            began = time.process_time()
            texts = self.corpus.texts(first, min(first + self.batch, stop))
            self.generating_cpu_s += time.process_time() - began
            yield first, texts


def _datasketch_shingles(text: str) -> list[bytes]:
    tokens = _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())
    if len(tokens) < 3:
        return [" ".join(tokens).encode()] if tokens else []
    return list({" ".join(tokens[i : i + 3]).encode() for i in range(len(tokens) - 2)})


class DatasketchEngine:
    """The same protocol with datasketch's MinHash.bulk and MinHashLSH."""

    def __init__(self, num_perm: int = 128) -> None:
        self.num_perm = num_perm
        self.lsh = MinHashLSH(threshold=THRESHOLD, num_perm=num_perm)
        self.kept: dict[str, MinHash] = {}

    def deduplicate(
        self, batches: Iterator[tuple[int, list[str]]], timings: dict[str, float]
    ) -> list[int | None]:
        partners: list[int | None] = []
        for start, texts in batches:
            began = time.perf_counter()
            minhashes = MinHash.bulk(
                [_datasketch_shingles(t) for t in texts], num_perm=self.num_perm
            )
            signed = time.perf_counter()
            for row, signature in enumerate(minhashes):
                best = max(
                    ((signature.jaccard(self.kept[k]), k) for k in self.lsh.query(signature)),
                    default=(0.0, ""),
                )
                if best[0] >= THRESHOLD:
                    partners.append(int(best[1]))
                else:
                    key = str(start + row)
                    self.lsh.insert(key, signature)
                    self.kept[key] = signature
                    partners.append(None)
            timings["signatures"] = timings.get("signatures", 0.0) + signed - began
            timings["query+insert"] = (
                timings.get("query+insert", 0.0) + time.perf_counter() - signed
            )
        return partners


def run_stream(engine: str, size: int, batch: int, seed: int, quality: bool, workers: int) -> dict:
    """One configuration, in this process. The last tenth of the stream is timed on its
    own: that is the rate once the index holds ~90% of ``size``. docs/s counts wall time
    in the dedup calls; "CPU docs/s" the CPU time of this process outside corpus
    generation plus that of its helpers, which other work on the machine disturbs less."""
    corpus = SyntheticCorpus(size, seed=seed)
    stream = _Stream(corpus, batch)
    base_rss = _peak_rss_mb()
    tail_start = size - max(batch, size // 10) // batch * batch
    head, tail = {}, {}
    began_cpu = time.process_time()
    if engine == "ours":
        index = NearDuplicateIndex(workers=workers)
        partners = deduplicate(index, stream(0, tail_start), head)
        partners += deduplicate(index, stream(tail_start, size), tail)
        extra = {"index_mb": index.nbytes / 2**20, "bands": f"{index.bands}x{index.rows_per_band}"}
        num_perm = index.num_perm
    else:
        sketch = DatasketchEngine()
        partners = sketch.deduplicate(stream(0, tail_start), head)
        partners += sketch.deduplicate(stream(tail_start, size), tail)
        extra = {"bands": f"{sketch.lsh.b}x{sketch.lsh.r}"}
        num_perm, workers = sketch.num_perm, 1
    shutdown_helpers()  # joined, so their CPU time and peak RSS are in RUSAGE_CHILDREN
    helpers = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = time.process_time() - began_cpu - stream.generating_cpu_s
    cpu_s += helpers.ru_utime + helpers.ru_stime
    result = {
        "engine": engine,
        "workers": workers,
        "size": size,
        "num_perm": num_perm,
        "docs_per_s": size / (sum(head.values()) + sum(tail.values())),
        "cpu_docs_per_s": size / cpu_s,
        "tail_docs_per_s": (size - tail_start) / sum(tail.values()),
        "phases_s": {k: head.get(k, 0.0) + tail.get(k, 0.0) for k in head},
        "peak_rss_mb": _peak_rss_mb(),
        "helper_rss_mb": helpers.ru_maxrss / 1024,
        "helper_cpu_s": helpers.ru_utime + helpers.ru_stime,
        "base_rss_mb": base_rss,
        "flagged": size - partners.count(None),
        **extra,
    }
    if quality:
        q = score(corpus, partners, Shingler(size=3, normalize="code", seed=1), THRESHOLD)
        result.update(recall=q.recall, precision=q.precision, duplicates=q.duplicates)
    return result


def run_restore(size: int, batch: int, seed: int) -> dict:
    """Rebuild an index from ``size`` stored signatures: join the bytes the store keeps
    per record, view them as an array, ``add`` (what the loop's restore does)."""
    corpus = SyntheticCorpus(size, seed=seed)
    index = NearDuplicateIndex()
    stored = [
        row.tobytes()
        for _, texts in _Stream(corpus, batch)(0, size)
        for row in index.signatures(texts)
    ]
    keys = [str(i) for i in range(size)]
    began = time.perf_counter()
    joined = b"".join(stored)
    del stored
    restored = NearDuplicateIndex()
    restored.add(keys, np.frombuffer(joined, dtype=restored.signature_dtype))
    seconds = time.perf_counter() - began
    return {"engine": "restore", "size": size, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def run_break_even(seed: int, workers: int) -> str:
    """Seconds to sign batches of growing size with one worker and with ``workers``
    (helpers started beforehand), best of 7: where helpers start to pay."""
    texts = SyntheticCorpus(10_000, seed=seed).texts(0, 10_000)
    one = MinHasher(num_perm=256, shingler=Shingler(size=3, normalize="code", seed=1), seed=1)
    many = MinHasher(num_perm=256, shingler=one.shingler, seed=1, workers=workers)
    minhash._MIN_ROWS_FOR_HELPERS = 2 * minhash._BLOCK_ROWS  # helpers from two blocks on
    lines = [f"| texts | 1 worker, ms | {workers} workers, ms | speed-up |"]
    lines.append("| ---: | ---: | ---: | ---: |")
    many.signatures(texts)  # starts the helpers
    for size in (256, 512, 768, 1024, 2048, 4096, 10_000):
        batch = texts[:size]
        timings = []
        for hasher in (one, many):
            best = float("inf")
            for _ in range(7):
                began = time.perf_counter()
                hasher.signatures(batch)
                best = min(best, time.perf_counter() - began)
            timings.append(best * 1000)
        one_ms, many_ms = timings
        lines.append(f"| {size:,} | {one_ms:.1f} | {many_ms:.1f} | {one_ms / many_ms:.2f} |")
    return "\n".join(lines)


def _child(argv: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.dedup_bench", *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    if done.returncode:
        raise SystemExit(f"{argv} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def _read(path: str) -> str:
    with open(path) as file:
        return file.read()


def _machine() -> str:
    cpu = re.search(r"model name\s*:\s*(.*)", _read("/proc/cpuinfo"))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu.group(1) if cpu else '?'}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
        f"no GPU; Python {platform.python_version()}, "
        f"numpy {np.__version__}, datasketch {version('datasketch')}; {date.today()}"
    )


_COLUMNS = (
    ("engine", lambda r: r["engine"]),
    ("workers", lambda r: str(r["workers"])),
    ("texts", lambda r: f"{r['size']:,}"),
    ("perms, bands", lambda r: f"{r['num_perm']}, {r['bands']}"),
    ("docs/s", lambda r: f"{r['docs_per_s']:,.0f}"),
    ("docs/s, last 10%", lambda r: f"{r['tail_docs_per_s']:,.0f}"),
    ("CPU docs/s", lambda r: f"{r['cpu_docs_per_s']:,.0f}"),
    ("signatures s", lambda r: f"{r['phases_s']['signatures']:.1f}"),
    ("query s", lambda r: f"{r['phases_s'].get('query', r['phases_s'].get('query+insert')):.1f}"),
    ("within s", lambda r: f"{r['phases_s'].get('within_batch', 0.0):.1f}"),
    ("add s", lambda r: f"{r['phases_s'].get('add', 0.0):.1f}"),
    ("peak RSS MB", lambda r: f"{r['peak_rss_mb']:,.0f}"),
    ("helper RSS MB", lambda r: f"{r['helper_rss_mb']:,.0f}" if r["workers"] > 1 else "-"),
    ("index MB", lambda r: f"{r['index_mb']:,.0f}" if "index_mb" in r else "-"),
    ("recall", lambda r: f"{r['recall']:.3f}" if "recall" in r else "-"),
    ("precision", lambda r: f"{r['precision']:.3f}" if "precision" in r else "-"),
)


def _report(results: list[dict], restore: dict, loads: tuple[str, str]) -> str:
    ours = {r["size"]: r for r in results if r["engine"] == "ours" and r["workers"] > 1}
    ours = ours or {r["size"]: r for r in results if r["engine"] == "ours"}
    ratios = [
        f"{r['size']:,}: {ours[r['size']]['docs_per_s'] / r['docs_per_s']:.1f}x wall, "
        f"{ours[r['size']]['cpu_docs_per_s'] / r['cpu_docs_per_s']:.1f}x CPU"
        for r in results
        if r["engine"] == "datasketch" and r["size"] in ours
    ]
    return "\n".join(
        [
            f"Machine: {_machine()}",
            f"Load average (1, 5, 15 min) before / after: {loads[0]} / {loads[1]}",
            "",
            "| " + " | ".join(name for name, _ in _COLUMNS) + " |",
            "| --- " * len(_COLUMNS) + "|",
            *("| " + " | ".join(cell(r) for _, cell in _COLUMNS) + " |" for r in results),
            "",
            f"Speed ratio ours / datasketch: {'; '.join(ratios) or '-'}",
            (
                f"Restore of {restore['size']:,} stored signatures: {restore['seconds']:.1f} s"
                f" (peak RSS {restore['peak_rss_mb']:,.0f} MB)"
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000, 800_000])
    parser.add_argument(
        "--batch", type=int, default=10_000, help="texts per generation-sized batch"
    )
    parser.add_argument(
        "--datasketch-max", type=int, default=200_000, help="largest size datasketch runs at"
    )
    parser.add_argument(
        "--quality-max", type=int, default=200_000, help="largest size scored against exact Jaccard"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers",
        type=int,
        default=available_cores(),
        help="ours: processes signing texts (this one and workers - 1 helpers)",
    )
    parser.add_argument(
        "--child", choices=["ours", "datasketch", "restore"], help=argparse.SUPPRESS
    )
    parser.add_argument("--no-quality", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--break-even", action="store_true", help="only time signing small batches, 1 vs N workers"
    )
    args = parser.parse_args()
    if args.break_even:
        print(run_break_even(args.seed, max(args.workers, 2)))
        return
    if args.child == "restore":
        print(json.dumps(run_restore(max(args.sizes), args.batch, args.seed)))
        return
    if args.child:
        (size,) = args.sizes
        print(
            json.dumps(
                run_stream(
                    args.child,
                    size,
                    args.batch,
                    args.seed,
                    size <= args.quality_max and not args.no_quality,
                    args.workers,
                )
            )
        )
        return

    before = " ".join(_read("/proc/loadavg").split()[:3])
    common = [
        "--batch",
        str(args.batch),
        "--seed",
        str(args.seed),
        "--quality-max",
        str(args.quality_max),
    ]
    runs = [["--child", "ours", "--workers", str(args.workers)]]
    if args.workers > 1:  # the same signatures and answers, so not scored again
        runs.append(["--child", "ours", "--workers", "1", "--no-quality"])
    runs.append(["--child", "datasketch"])
    results = []
    for size in args.sizes:
        for run in runs:
            if run[1] == "datasketch" and size > args.datasketch_max:
                continue
            results.append(_child([*run, "--sizes", str(size), *common]))
            print(json.dumps(results[-1]), file=sys.stderr)
    restore = _child(["--child", "restore", "--sizes", str(max(args.sizes)), *common])
    after = " ".join(_read("/proc/loadavg").split()[:3])
    print(_report(results, restore, (before, after)))


if __name__ == "__main__":
    main()
