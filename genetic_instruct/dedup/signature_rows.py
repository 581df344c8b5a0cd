"""The indexed signatures, on disk: an LSH lookup needs only its few candidates' rows.

A signature is 512 bytes (256 values of 16 bits), 7.7 GB at 15 million texts: more
than everything else the index holds. Only the candidates a lookup finds (about one
per query: chance meetings in 36 buckets of 2^32 are rare) are compared on the full
signature, so the rows are appended to an unlinked temporary file and read back with
``pread``. The kernel's page cache keeps the recently used ones in memory when there
is room and drops them when there is not; they are not part of the process's memory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


class SignatureRows:
    """Append-only rows of ``width`` values of ``dtype``, kept in a temporary file in
    ``directory`` (the system's temporary directory when None)."""

    def __init__(self, width: int, dtype: np.dtype, directory: Path | None = None) -> None:
        self.width = width
        self.dtype = np.dtype(dtype)
        self._row_bytes = width * self.dtype.itemsize
        self._file = tempfile.TemporaryFile(dir=directory)
        self._fd = self._file.fileno()
        self._count = 0

    def __len__(self) -> int:
        return self._count

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
