"""Texts to 64-bit hashes of their word n-grams ("shingles"), vectorized with numpy.

Shingling is most of the cost of near-duplicate detection: a regex tokenizer plus one
hash call per token costs ~200 us for a 360-word text in CPython. Here Python only
normalizes and encodes each text (a few C-level string calls); token boundaries, token
hashes and shingle hashes are numpy array operations over the UTF-8 bytes of ~64 texts
at a time (small enough for the temporaries to stay in cache).

Normalizations (``normalize=``):

- ``"none"``: tokens are the runs of bytes between ASCII whitespace/control characters;
  case and punctuation kept.
- ``"text"``: NFKC, lowercase; tokens are runs of letters, digits, ``_`` and non-ASCII
  characters; ASCII punctuation is dropped.
- ``"code"`` (default): like ``"text"``, but every ASCII punctuation character is a token
  of its own, so ``f(a,b):`` and ``f( a, b ) :`` shingle the same (whitespace folded),
  while operators still tell ``a+b`` from ``a-b``. Lowercasing is harmless here: two
  texts that differ only in the case of some words or identifiers are near-duplicates
  for our purpose. Identifiers are not masked: in instructions a function or variable
  name is signal (``is_prime`` vs ``is_palindrome``), and renaming a handful of
  occurrences changes too few shingles to hide a copy at the default threshold.

Texts with fewer tokens than ``size`` give one shingle made of all their tokens, so
short texts stay distinct (``"sort list"`` vs ``"reverse list"``) instead of all
getting the empty set and colliding. Only texts without any token have no shingles.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence

import numpy as np

from genetic_instruct.config import Normalize
from genetic_instruct.dedup.hashing import U64, derive_keys, mix64

_SEPARATOR, _WORD, _PUNCT = 0, 1, 2
_CHUNK_DOCS = 64  # ~150 KB of text per numpy pass (32 to 256 measured alike)
_PURPOSE_TOKENS = 1
# Masks keeping the first n bytes of a little-endian 8-byte load, n = 0..8.
_PREFIX_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=U64)


def _byte_classes(normalize: Normalize) -> bytes:
    """A ``bytes.translate`` table from each UTF-8 byte to its token class."""
    table = bytearray(256)
    for byte in range(256):
        char = chr(byte)
        if byte < 33 or byte == 127:  # ASCII whitespace and control characters
            table[byte] = _SEPARATOR
        elif normalize == Normalize.none or byte >= 128 or char.isalnum() or char == "_":
            table[byte] = _WORD
        else:
            table[byte] = _PUNCT if normalize == Normalize.code else _SEPARATOR
    return bytes(table)


class Shingler:
    """Hashes of the ``size``-token shingles of texts, stable across processes."""

    def __init__(self, *, size: int, normalize: Normalize | str, seed: int) -> None:
        if size < 1:
            raise ValueError(f"shingle size must be >= 1, got {size}")
        self.size = size
        self.normalize = Normalize(normalize)  # ValueError naming the value if unknown
        self.seed = seed
        self._classes = _byte_classes(self.normalize)
        keys = derive_keys(seed, _PURPOSE_TOKENS, size + 2)
        self._token_key = keys[0]  # seeds every token hash
        self._long_key = keys[1]  # chains the 8-byte blocks of long tokens
        self._position_keys = keys[2:] | U64(1)  # odd: multiplying by them is a bijection

    def _encode(self, text: str) -> bytes:
        if self.normalize != Normalize.none:
            text = unicodedata.normalize("NFKC", text).lower()
        return text.encode("utf-8", "surrogatepass")

    def chunks(self, texts: Sequence[str]) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """Yield ``(start, stop, hashes, docs)`` per chunk of texts: ``hashes`` (uint64)
        of all shingles of ``texts[start:stop]``, ``docs`` (ascending) the index of each
        one's text relative to ``start``. Repeated shingles of a text are not removed."""
        for start in range(0, len(texts), _CHUNK_DOCS):
            chunk = texts[start : start + _CHUNK_DOCS]
            yield (start, start + len(chunk), *self._shingle(*self._encode_chunk(chunk)))

    def _encode_chunk(self, chunk: Sequence[str]) -> tuple[bytes, list[int]]:
        """The texts normalized and encoded, joined by ``\n``, and each one's byte length.
        An all-ASCII chunk (most instructions) takes a few calls for the whole chunk
        instead of three per text: NFKC leaves ASCII as it is, and lowercasing ASCII is
        ``bytes.lower``, so the bytes are the same as per text."""
        joined = "\n".join(chunk)
        if joined.isascii():
            body = joined.encode("ascii")
            return body if self.normalize == Normalize.none else body.lower(), [
                len(t) for t in chunk
            ]
        encoded = [self._encode(text) for text in chunk]
        return b"\n".join(encoded), [len(e) for e in encoded]

    def hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """All shingle hashes of ``texts`` and the index of the text of each."""
        parts = [(hashes, docs + start) for start, _, hashes, docs in self.chunks(texts)]
        if not parts:
            return np.empty(0, U64), np.empty(0, np.int64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def tokens(self, text: str) -> list[str]:
        """The normalized tokens of one text, exactly as its shingles see them: to show a
        person which words two texts share (shingle ``i`` is ``tokens[i : i + size]``)."""
        raw = b"\n" + self._encode(text) + b"\n"
        starts, lengths = self._tokens(raw)
        return [
            raw[start : start + length].decode("utf-8", "replace")
            for start, length in zip(starts.tolist(), lengths.tolist())
        ]

    def _shingle(self, body: bytes, text_lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
        # One buffer, texts separated (and surrounded) by a separator byte, so token
        # boundaries never cross texts and every token has a neighbour on each side.
        # Padded with zero bytes (separators too) to whole 8-byte words plus one, for
        # the aligned loads below.
        pad = 16 - (len(body) + 2) % 8
        raw = b"".join((b"\n", body, b"\n", bytes(pad)))
        words = np.frombuffer(raw, "<u8")
        lengths = np.array(text_lengths, np.int64)
        text_starts = np.empty(len(text_lengths), np.int64)
        text_starts[0] = 1
        np.cumsum(lengths[:-1] + 1, out=text_starts[1:])
        text_starts[1:] += 1

        starts, token_lengths = self._tokens(raw)
        token_hashes = self._token_hashes(words, starts, token_lengths)
        counts = np.diff(np.searchsorted(starts, text_starts), append=starts.size)
        return self._window_hashes(token_hashes, counts)

    def _tokens(self, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Start offsets and byte lengths of the tokens in ``raw``: a token starts (ends)
        where the byte class changes into (out of) a token class, and at every
        punctuation byte, each a token of its own."""
        classes = np.frombuffer(raw.translate(self._classes), np.uint8)
        after, before = classes[1:], classes[:-1]
        change = after != before
        starts = np.flatnonzero((change | (after == _PUNCT)) & (after != _SEPARATOR)) + 1
        ends = np.flatnonzero((change | (before == _PUNCT)) & (before != _SEPARATOR)) + 1
        return starts, ends - starts

    def _token_hashes(
        self, words: np.ndarray, starts: np.ndarray, lengths: np.ndarray
    ) -> np.ndarray:
        """Hash each token from 8-byte loads of its bytes: one load for most tokens, then
        a short loop over the few longer ones (h = h * K ^ next block), one final mix."""
        h = _load8(words, starts) & _PREFIX_MASKS[np.minimum(lengths, 8)]
        h ^= lengths.astype(U64) * self._long_key
        h ^= self._token_key
        offset = 8
        longer = np.flatnonzero(lengths > offset)
        while longer.size:
            block = _load8(words, starts[longer] + offset)
            block &= _PREFIX_MASKS[np.minimum(lengths[longer] - offset, 8)]
            h[longer] = (h[longer] * self._long_key) ^ block
            offset += 8
            longer = longer[lengths[longer] > offset]
        return mix64(h)

    def _window_hashes(
        self, token_hashes: np.ndarray, counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Shingle hash = mix(sum of token hash x position key) over each window of
        ``size`` consecutive tokens of one text, plus one all-token shingle per short text."""
        size, n = self.size, token_hashes.size
        windows = max(n - size + 1, 0)
        h = token_hashes[:windows] * self._position_keys[0]
        for i in range(1, size):
            h += token_hashes[i : windows + i] * self._position_keys[i]
        # A window starting in the last size - 1 tokens of a text runs into the next one.
        inside = np.ones(windows, bool)
        ends = np.cumsum(counts)
        for back in range(1, size):
            crossing = ends - back
            inside[crossing[(crossing >= 0) & (crossing < windows)]] = False
        hashes = h[inside]
        hash_docs = np.repeat(np.arange(counts.size), np.maximum(counts - size + 1, 0))

        short = np.flatnonzero((counts > 0) & (counts < size))
        if short.size:
            first = ends[short] - counts[short]
            tail = np.zeros(short.size, U64)
            for i in range(size - 1):
                present = i < counts[short]
                tail[present] += token_hashes[first[present] + i] * self._position_keys[i]
            order = np.argsort(np.concatenate([hash_docs, short]), kind="stable")
            hashes = np.concatenate([hashes, tail])[order]
            hash_docs = np.concatenate([hash_docs, short])[order]
        return mix64(hashes), hash_docs


def _load8(words: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The 8 bytes at each byte offset as a little-endian uint64, from two aligned loads
    (numpy gathers from an unaligned view are ~8x slower). numpy shifts by 64 give 0."""
    index = offsets >> 3
    shift = ((offsets & 7) << 3).astype(U64)
    return (words[index] >> shift) | (words[index + 1] << (U64(64) - shift))
