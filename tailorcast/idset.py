"""The customer ids a run has seen, kept compact: ten million ids must not cost gigabytes of memory.

Each id is kept as an 8-byte BLAKE2b hash, in one of 4,096 sorted arrays chosen by the hash's top 12 bits,
next to the row where it was first seen (4 bytes). That is 12 bytes an id plus the arrays' slack: 15 MiB
of RSS per million ids (bench/bench_input.py), where a Python set of the id strings takes 92 MiB. Two different ids share a 64-bit hash with probability about n²/2⁶⁵ (3 in a million for ten
million ids); such a pair would be reported as a duplicate of the first one's row, where a person can see it.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left

_BITS = 12
_ROW_MAX = 0xFFFFFFFF


def id_hash(customer_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(customer_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


class SeenIds:
    def __init__(self) -> None:
        self._hashes = [array("Q") for _ in range(1 << _BITS)]
        self._rows = [array("L" if array("I").itemsize < 4 else "I") for _ in range(1 << _BITS)]
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def first_row(self, customer_id: str, row: int) -> int | None:
        """The row where ``customer_id`` was seen before, or None: then ``row`` is remembered as its first."""
        h = id_hash(customer_id)
        part = h >> (64 - _BITS)
        hashes = self._hashes[part]
        i = bisect_left(hashes, h)
        if i < len(hashes) and hashes[i] == h:
            return self._rows[part][i]
        hashes.insert(i, h)
        self._rows[part].insert(i, min(row, _ROW_MAX))
        self._count += 1
        return None

    def nbytes(self) -> int:
        """Bytes held by the arrays (their allocated items; not the fixed cost of the 8,192 array objects)."""
        return sum(a.buffer_info()[1] * a.itemsize for a in self._hashes + self._rows)
