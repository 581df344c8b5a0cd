"""The indexed signatures, on disk: an LSH lookup needs only its few candidates' rows.

A signature is 512 bytes (256 values of 16 bits), 7.7 GB at 15 million texts: more
than everything else the index holds. Only the candidates a lookup finds (about one
per query: chance meetings in 36 buckets of 2^32 are rare) are compared on the full
signature, so the rows are appended to a file and read back with ``pread``. The
kernel's page cache keeps the recently used ones in memory when there is room and
drops them when there is not; they are not part of the process's memory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


class SignatureRows:
    """Append-only rows of ``width`` values of ``dtype`` in the file ``path`` (kept, and
    reopened with the whole rows it holds), or in an unlinked temporary file."""

    def __init__(self, width: int, dtype: np.dtype, path: Path | None = None) -> None:
        self.width = width
        self.dtype = np.dtype(dtype)
        self._row_bytes = width * self.dtype.itemsize
        if path is None:
            self._file = tempfile.TemporaryFile()
        else:
            path.touch()
            self._file = open(path, "r+b")  # noqa: SIM115 - held for the index's life
        self._fd = self._file.fileno()
        self._count = os.fstat(self._fd).st_size // self._row_bytes

    def __len__(self) -> int:
        return self._count

    def truncate(self, count: int) -> None:
        """Keep the first ``count`` rows (a torn or uncommitted tail goes)."""
        self._count = min(count, self._count)
        os.ftruncate(self._fd, self._count * self._row_bytes)

    def append(self, rows: np.ndarray) -> None:
        data = np.ascontiguousarray(rows, dtype=self.dtype).tobytes()
        offset = self._count * self._row_bytes
        written = 0
        while written < len(data):
            written += os.pwrite(self._fd, data[written:], offset + written)
        self._count += len(rows)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """``(len(ids), width)``: the rows at ``ids``, each read once however often asked."""
        if not ids.size:
            return np.empty((0, self.width), self.dtype)
        unique, where = np.unique(ids, return_inverse=True)
        size = self._row_bytes
        data = b"".join(os.pread(self._fd, size, int(i) * size) for i in unique.tolist())
        return np.frombuffer(data, self.dtype).reshape(-1, self.width)[where]
