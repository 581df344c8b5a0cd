"""The keys of indexed items, packed: 15 million ids as Python strings are ~1.1 GB."""

from __future__ import annotations

import bisect
import os
from array import array
from collections.abc import Sequence
from pathlib import Path

_END = array("Q").itemsize


class KeyList:
    """Append-only list of strings in one UTF-8 buffer and an offsets array: ~24 bytes a
    16-character id instead of ~73 (a ``str`` object and a list slot). With a
    ``directory``, both are appended to files there too and read back on opening (the
    keys whose bytes were all written)."""

    def __init__(self, directory: Path | None = None) -> None:
        self._data = bytearray()
        self._ends = array("Q")
        self._files: tuple[Path, Path] | None = None
        if directory is not None:
            self._files = (directory / "keys.utf8", directory / "keys.ends")
            self._load(*self._files)

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int) -> str:
        start = self._ends[i - 1] if i else 0
        return self._data[start : self._ends[i]].decode("utf-8")

    @property
    def nbytes(self) -> int:
        return len(self._data) + _END * len(self._ends)

    def extend(self, keys: Sequence[str]) -> None:
        first, start = len(self._ends), len(self._data)
        for key in keys:
            self._data += key.encode("utf-8")
            self._ends.append(len(self._data))
        if self._files is not None:
            data, ends = self._files
            with open(data, "ab") as out:
                out.write(self._data[start:])
            with open(ends, "ab") as out:
                out.write(self._ends[first:].tobytes())

    def truncate(self, count: int) -> None:
        """Keep the first ``count`` keys."""
        if count >= len(self._ends):
            return
        del self._ends[count:]
        del self._data[self._ends[-1] if count else 0 :]
        if self._files is not None:
            data, ends = self._files
            os.truncate(data, len(self._data))
            os.truncate(ends, _END * count)

    def _load(self, data: Path, ends: Path) -> None:
        if not data.exists() or not ends.exists():
            data.write_bytes(b"")
            ends.write_bytes(b"")
            return
        self._data = bytearray(data.read_bytes())
        raw = ends.read_bytes()
        self._ends.frombytes(raw[: len(raw) - len(raw) % _END])
        self.truncate(bisect.bisect_right(self._ends, len(self._data)))  # whole keys only
        os.truncate(ends, _END * len(self._ends))
