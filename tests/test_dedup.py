"""Near-duplicate index: determinism, agreement with datasketch, quality against exact
Jaccard on a labelled corpus, normalization, short texts, semantics, restore."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from bench.synthetic_corpus import SyntheticCorpus, deduplicate, score
from genetic_instruct.dedup import NearDuplicateIndex, minhash, parallel
from genetic_instruct.dedup.banding import candidate_probability, choose_bands
from genetic_instruct.dedup.buckets import BucketRuns
from genetic_instruct.dedup.shingles import Shingler

SAMPLE = [
    "Write `count_distinct_elements(xs)`: the number of distinct items.",
    "def f(x):\n    return x + 1",
    "",
]


def test_signatures_have_the_documented_shape_and_dtype() -> None:
    index = NearDuplicateIndex()
    sigs = index.signatures(SAMPLE)
    assert sigs.shape == (3, 256)
    assert sigs.dtype == index.signature_dtype == np.dtype("<u2")


def test_signatures_are_the_same_in_another_process() -> None:
    """Stored signature bytes must stay valid across processes (Python's hash() is
    salted per process) and across releases: the golden prefix guards the latter."""
    script = (
        "import sys; from genetic_instruct.dedup import NearDuplicateIndex;"
        f"sys.stdout.write(NearDuplicateIndex().signatures({SAMPLE!r}).tobytes().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    here = NearDuplicateIndex().signatures(SAMPLE)
    assert bytes.fromhex(other.stdout) == here.tobytes()
    assert here[0, :4].tolist() == [34536, 58149, 3647, 58149]


def test_answers_do_not_depend_on_the_worker_count() -> None:
    corpus = SyntheticCorpus(5000, dup_share=0.3, seed=6)
    texts = corpus.texts(0, corpus.size)  # blocks of 256 rows: many per batch
    one, three = NearDuplicateIndex(workers=1), NearDuplicateIndex(workers=3)
    for _ in range(3):  # the first call may find the helpers still starting
        assert np.array_equal(three.signatures(texts), one.signatures(texts))
    batches = [(start, texts[start : start + 2500]) for start in (0, 2500)]
    assert deduplicate(three, iter(batches)) == deduplicate(one, iter(batches))


def test_a_helper_process_signs_exactly_as_the_caller() -> None:
    """Signed in a spawned helper (by hand: in ``signatures`` the caller may take every
    block itself), with another hash seed there, a block's bytes are the caller's."""
    texts = [*SAMPLE, *SyntheticCorpus(300, seed=4).texts(0, 300), "Ünïcödé ＦＵＬＬ"]
    index = NearDuplicateIndex(seed=5, shingle_size=4, normalize="text", workers=1)
    spec = index._hasher.spec
    assert spec[2:4] == (4, "text")
    helper = parallel._process_pool(1).submit(minhash._sign_in_helper, spec, texts)
    assert helper.result(timeout=60).tobytes() == index.signatures(texts).tobytes()


def test_blocks_with_helpers_covers_every_block_once_and_uses_the_helpers() -> None:
    seen_remote = False
    for _ in range(20):  # until the helper has started and taken a block
        blocks = sorted(
            parallel.blocks_with_helpers(
                2000,
                100,
                _block_pid,
                lambda start, stop: (_block_pid, (start, stop)),
                helpers=1,
            )
        )
        assert [(start, stop) for start, stop, _ in blocks] == [
            (s, min(s + 100, 2000)) for s in range(0, 2000, 100)
        ]
        assert all(result[:2] == (start, stop) for start, stop, result in blocks)
        seen_remote |= any(result[2] != os.getpid() for _, _, result in blocks)
        if seen_remote:
            break
    assert seen_remote


def _block_pid(start: int, stop: int) -> tuple[int, int, int]:
    time.sleep(0.005)  # long enough for the helper to take some
    return start, stop, os.getpid()


def test_signing_survives_a_killed_helper() -> None:
    texts = SyntheticCorpus(3000, seed=8).texts(0, 3000)
    two = NearDuplicateIndex(workers=2)
    want = NearDuplicateIndex(workers=1).signatures(texts)
    assert np.array_equal(two.signatures(texts), want)
    for process in list(parallel._process_pool(1)._processes.values()):
        process.kill()
        process.join()
    assert np.array_equal(two.signatures(texts), want)  # a broken pool: signed here
    assert np.array_equal(two.signatures(texts), want)  # and a new pool next time


def test_helpers_do_not_import_the_callers_main(tmp_path: Path) -> None:
    """A script without an ``if __name__ == "__main__"`` guard must not run again in
    the helpers (plain spawn would run it there: the whole loop, engines and all)."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from genetic_instruct.dedup import NearDuplicateIndex, parallel\n"
        "from genetic_instruct.dedup.minhash import _sign_in_helper\n"
        "print('main ran', flush=True)\n"
        "index = NearDuplicateIndex(workers=2)\n"
        "index.signatures(['a b c d'] * 2000)\n"
        "spec = index._hasher.spec\n"
        "parallel._process_pool(1).submit(_sign_in_helper, spec, ['x']).result(timeout=60)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.count("main ran") == 1, done.stdout + done.stderr


def test_seed_changes_signatures() -> None:
    assert not np.array_equal(
        NearDuplicateIndex(seed=1).signatures(SAMPLE), NearDuplicateIndex(seed=2).signatures(SAMPLE)
    )


def test_shingles_match_a_reference_tokenizer() -> None:
    """Each shingle hash stands for exactly one tuple of tokens, as a plain regex
    tokenizer sees them (code normalization): long tokens, unicode, punctuation runs."""
    texts = [
        "Sort the list; return `very_long_identifier_name_over_16_bytes` == x+1!",
        "sort THE list ; return very_long_identifier_name_over_16_bytez==x + 1 !",
        "Ünïcödé wörds, naïve café — and ＦＵＬＬ width",
        "a b c a b c a b c",
        *SyntheticCorpus(20, seed=9).texts(0, 20),
    ]
    token = re.compile(r"[0-9a-z_\u0080-\U0010ffff]+|[!-/:-@\[-`{-~]")
    shingler = Shingler(size=3, normalize="code", seed=1)
    seen: dict[int, tuple[str, ...]] = {}
    for text in texts:
        tokens = token.findall(unicodedata.normalize("NFKC", text).lower())
        windows = [tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)]
        hashes = shingler.hashes([text])[0].tolist()
        assert len(hashes) == len(windows)
        for h, window in zip(hashes, windows):
            assert seen.setdefault(h, window) == window
    assert len(set(seen.values())) == len(seen)


def _pairs_with_exact_jaccard(count: int) -> tuple[list[tuple[str, str]], np.ndarray, Shingler]:
    corpus = SyntheticCorpus(4 * count, dup_share=0.5, max_edit=0.3, seed=7)
    pairs = [
        (corpus.text(i), corpus.text(src))
        for i in range(corpus.size)
        if (src := corpus.source(i)) is not None
    ]
    shingler = Shingler(size=3, normalize="code", seed=1)
    exact = []
    for a, b in pairs[:count]:
        sa, sb = (set(shingler.hashes([t])[0].tolist()) for t in (a, b))
        exact.append(len(sa & sb) / len(sa | sb))
    return pairs[:count], np.array(exact), shingler


def test_jaccard_estimates_agree_with_datasketch_within_sampling_error() -> None:
    """Same shingles, two MinHash schemes: datasketch's classic one (256 permutations)
    and ours (one-permutation hashing, 16-bit values). Both must be unbiased against the
    exact Jaccard, and differ from each other only by sampling noise."""
    pairs, exact, shingler = _pairs_with_exact_jaccard(150)
    index = NearDuplicateIndex()

    def datasketch_minhash(text: str) -> MinHash:
        minhash = MinHash(num_perm=256)
        minhash.update_batch([h.tobytes() for h in shingler.hashes([text])[0]])
        return minhash

    ours, theirs = [], []
    for a, b in pairs:
        sa, sb = index.signatures([a, b])
        ours.append(np.mean(sa == sb))
        theirs.append(datasketch_minhash(a).jaccard(datasketch_minhash(b)))
    ours, theirs = np.array(ours), np.array(theirs)
    assert exact.min() < 0.5 and exact.max() > 0.9  # the pairs span the interesting range

    sd = np.sqrt(np.maximum(exact * (1 - exact), 0.01) / 256)  # one estimate's sampling sd
    assert np.all(np.abs(ours - theirs) <= 4.5 * math.sqrt(2) * sd)
    assert abs(np.mean(ours - exact)) <= 3 * np.sqrt(np.mean(sd**2) / len(exact))  # unbiased
    assert abs(np.mean(theirs - exact)) <= 3 * np.sqrt(np.mean(sd**2) / len(exact))
    assert np.sqrt(np.mean((ours - exact) ** 2)) <= 1.2 * np.sqrt(np.mean((theirs - exact) ** 2))


def test_recall_and_precision_against_exact_jaccard() -> None:
    """4,000 synthetic coding problems, 30% of them edited copies spread over Jaccard
    ~0.35..1, deduplicated in batches of 1,000 as the loop does."""
    corpus = SyntheticCorpus(4000, dup_share=0.3, seed=1)
    index = NearDuplicateIndex()
    partners = deduplicate(
        index, ((s, corpus.texts(s, s + 1000)) for s in range(0, corpus.size, 1000))
    )
    quality = score(corpus, partners, Shingler(size=3, normalize="code", seed=1), threshold=0.7)
    assert quality.duplicates > 500
    assert quality.recall >= 0.92, quality
    assert quality.precision >= 0.93, quality
    assert len(index) == partners.count(None)


def test_unrelated_synthetic_problems_stay_far_below_the_threshold() -> None:
    """What ``score`` assumes: pairs across families are never near-duplicates."""
    corpus = SyntheticCorpus(600, dup_share=0.0, seed=3)
    shingler = Shingler(size=3, normalize="code", seed=1)
    sets = [set(shingler.hashes([t])[0].tolist()) for t in corpus.texts(0, corpus.size)]
    rng = np.random.default_rng(0)
    worst = max(
        len(sets[a] & sets[b]) / len(sets[a] | sets[b])
        for a, b in rng.integers(0, 600, (3000, 2))
        if a != b
    )
    assert worst < 0.2


def test_short_texts_do_not_collapse_into_one_signature() -> None:
    texts = ["sort list", "reverse list", "sum", "add two", "x", "print", "List sort", "a b", "b a"]
    index = NearDuplicateIndex()
    sigs = index.signatures(texts)
    assert len({row.tobytes() for row in sigs}) == len(texts)
    assert index.within_batch(sigs) == [None] * len(texts)
    assert index.within_batch(index.signatures(["sort list", "Sort  list"])) == [None, 0]


@pytest.mark.parametrize(
    ("normalize", "a", "b", "same"),
    [
        ("code", "def f(a,b):\n    return a+b", "DEF F( a , b ) :  return  a + b", True),
        ("code", "return a + b", "return a - b", False),
        ("code", "Ｒeturn ｘ", "return x", True),  # NFKC folds full-width letters
        ("text", "Hello, world! Sort it.", "hello world sort it", True),
        ("text", "a+b", "a-b", True),  # punctuation dropped
        ("none", "Sort the list", "sort the list", False),
        ("none", "sort  the\n list", "sort the list", True),
    ],
)
def test_normalization(normalize: str, a: str, b: str, same: bool) -> None:
    sigs = NearDuplicateIndex(normalize=normalize).signatures([a, b])
    assert np.array_equal(sigs[0], sigs[1]) == same


def _variant(base: np.ndarray, positions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A signature agreeing with ``base`` except at ``positions``."""
    out = base.copy()
    out[positions] = (
        out[positions].astype(np.int64) + rng.integers(1, 1000, positions.size)
    ) % 65536
    return out


def test_within_batch_keeps_rows_whose_only_match_was_dropped() -> None:
    """A ~ B (J 0.75) and B ~ C (J 0.75) but A !~ C (J 0.5): sequential dedup keeps
    A, drops B, and keeps C; an exact copy of A points at A."""
    rng = np.random.default_rng(0)
    index = NearDuplicateIndex()
    a = index.signatures(["some long enough task text " * 40])[0]
    b = _variant(a, np.arange(0, 64), rng)
    c = _variant(b, np.arange(64, 128), rng)
    assert index.within_batch(np.stack([a, b, c, a])) == [None, 0, None, 0]


def test_query_returns_the_most_similar_indexed_key() -> None:
    rng = np.random.default_rng(1)
    index = NearDuplicateIndex()
    a = index.signatures(["another long enough task text " * 40])[0]
    index.add(
        ["far", "near", "other"],
        np.stack(
            [
                _variant(a, np.arange(60), rng),
                _variant(a, np.arange(10), rng),
                _variant(a, np.arange(256), rng),
            ]
        ),
    )
    assert index.query(np.stack([a, _variant(a, np.arange(200), rng)])) == ["near", None]


def test_restore_from_stored_signature_bytes() -> None:
    corpus = SyntheticCorpus(1500, dup_share=0.3, seed=2)
    texts = corpus.texts(0, corpus.size)
    original = NearDuplicateIndex()
    sigs = original.signatures(texts[:1000])
    original.add([str(i) for i in range(1000)], sigs)
    stored = [row.tobytes() for row in sigs]  # what the store keeps per record

    restored = NearDuplicateIndex()
    restored.add(
        [str(i) for i in range(1000)],
        np.frombuffer(b"".join(stored), dtype=restored.signature_dtype),
    )
    probe = original.signatures(texts[1000:])
    before = restored.query(probe)
    assert len(restored) == len(original) == 1000
    assert before == original.query(probe)
    assert any(hit is not None for hit in before)
    restored.add([f"new{i}" for i in range(len(probe))], probe)  # grows past the restored rows
    after = restored.query(probe)
    assert all(hit == f"new{i}" for i, hit in enumerate(after) if before[i] is None)


def test_an_index_in_a_directory_reopens_with_the_items_it_wrote_whole(tmp_path: Path) -> None:
    corpus = SyntheticCorpus(1500, dup_share=0.3, seed=2)
    texts = corpus.texts(0, corpus.size)
    original = NearDuplicateIndex(directory=tmp_path, workers=1)
    sigs = original.signatures(texts[:1000])
    keys = [str(i) for i in range(1000)]
    for start, stop in [(0, 800), (800, 900), (900, 1000)]:  # runs [0, 800) and [800, 1000)
        original.add(keys[start:stop], sigs[start:stop])
    probe = original.signatures(texts[1000:])
    want = original.query(probe)
    assert any(hit is not None for hit in want)

    reopened = NearDuplicateIndex(directory=tmp_path, workers=1)
    assert len(reopened) == 1000 and reopened.query(probe) == want

    # A crash: the newest run's file never written, the signature file torn.
    newest = max((tmp_path / "buckets").glob("*.npy"))
    newest.unlink()
    with open(tmp_path / "signatures.u16", "r+b") as torn:
        torn.truncate(torn.seek(0, 2) - 100)
    again = NearDuplicateIndex(directory=tmp_path, workers=1)
    have = len(again)
    assert have == 800 and [again.key(i) for i in range(have)] == keys[:have]
    again.add(keys[have:], sigs[have:])
    assert again.query(probe) == want

    assert len(NearDuplicateIndex(directory=tmp_path, seed=9)) == 0  # other settings


def test_bucket_runs_match_a_dict_through_merges_keeping_a_keys_first_ids() -> None:
    rng = np.random.default_rng(5)
    table, reference = BucketRuns(max_per_key=64), {}
    crowded = rng.integers(0, 2**32, dtype=np.uint32)
    for batch in range(12):
        size = 40_000 if batch % 5 else 160_000  # runs of unequal sizes: some merge, some wait
        keys = rng.integers(0, 2**32, size, dtype=np.uint32)
        keys[::4000] = crowded  # 10 or 40 ids per batch, more than 64 in all
        keys[1::5000] = 2**32 - 1  # the largest key: its range ends at the top of uint64
        first = sum(len(v) for v in reference.values())
        table.insert(keys[:, None], first_id=first)
        for item, key in enumerate(keys.tolist(), start=first):
            reference.setdefault(key, []).append(item)
    assert 1 < table.runs < 12
    probe = np.concatenate([keys[:3000], rng.integers(0, 2**32, 500, dtype=np.uint32)])
    positions, found = table.lookup(probe)
    got = sorted(zip(positions.tolist(), found.tolist()))
    want = sorted(
        (p, item) for p, key in enumerate(probe.tolist()) for item in reference.get(key, [])[:64]
    )
    assert got == want
    assert len(table) == sum(len(v) for v in reference.values())


@pytest.mark.parametrize("threshold", [0.5, 0.6, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("num_perm", [128, 256])
def test_band_choice_keeps_pairs_at_the_threshold(threshold: float, num_perm: int) -> None:
    bands = choose_bands(threshold, num_perm)
    rows = num_perm // bands
    assert candidate_probability(threshold, bands, rows) >= 0.95
    assert candidate_probability(threshold, num_perm // (rows + 1), rows + 1) < 0.95


def test_default_banding() -> None:
    index = NearDuplicateIndex()
    assert (index.bands, index.rows_per_band) == (36, 7)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda i: i.add(["a"], np.zeros((2, 256), "<u2")), ValueError),
        (lambda i: i.query(np.zeros((2, 128), "<u2")), ValueError),
        (lambda i: i.query(np.zeros((2, 256), np.int64)), TypeError),
        (lambda i: NearDuplicateIndex(normalize="words"), ValueError),
        (lambda i: NearDuplicateIndex(threshold=0.0), ValueError),
        (lambda i: NearDuplicateIndex(bands=300), ValueError),
    ],
)
def test_rejects_bad_input(
    call: Callable[[NearDuplicateIndex], object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        call(NearDuplicateIndex())


def test_empty_inputs() -> None:
    index = NearDuplicateIndex()
    empty = index.signatures([])
    assert empty.shape == (0, 256)
    assert index.query(empty) == [] and index.within_batch(empty) == []
    index.add([], empty)
    assert len(index) == 0
    assert index.query(index.signatures(["x"])) == [None]
