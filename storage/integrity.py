"""Whether the DuckDB file is whole: a cheap check of its length against its own block layout.

A DuckDB file is three 4 KiB headers (the main one, then two database headers; the one with the
higher iteration is current) followed by blocks of `block_alloc_size` bytes (256 KiB by
default). The current header says how many blocks the file holds and where its free list is.
DuckDB reads only the headers and the free list when it opens a file, so a file cut short (a
partial copy, a restore that stopped) opens fine and fails, or silently answers from what is
left, only when a query reaches a missing block.

The blocks the file must contain are those up to the last one not on the free list: a
checkpoint that frees the trailing blocks writes its header first and truncates the file after,
so a whole file may legitimately end before `block_count` blocks. A file may be longer than the
layout says (blocks written after the last checkpoint, a write the disk ran out of space in),
so only a shortfall counts. The check reads a few KiB, never the data.

The check holds a shared lock on the file (the kind DuckDB's read-only connections take) while
it reads, so no other process can be checkpointing it meanwhile; when another process has the
file open for writing, it raises Busy instead. Call it only while this process has no DuckDB
connection to the file: closing any descriptor of a file drops every POSIX lock the process
holds on it, DuckDB's included.
"""

from __future__ import annotations

import errno
import fcntl
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

HEADER_SIZE = 4096
BLOCKS_START = 3 * HEADER_SIZE
MAGIC_AT, MAGIC = 8, b"DUCK"
CHECKSUM_SIZE = 8  # every header and block starts with its checksum
DEFAULT_BLOCK_ALLOC_SIZE = 262144
METADATA_PER_BLOCK = 64  # a metadata block is split into this many sub-blocks
INVALID = 2**64 - 1
BLOCK_ID_BITS = 56  # a metadata pointer: the block id below, the sub-block index above


@dataclass(frozen=True)
class Header:
    """The fields of a database header this check needs."""

    iteration: int
    free_list: int
    block_count: int
    block_alloc_size: int

    @classmethod
    def read(cls, f: BinaryIO, at: int) -> Header:
        f.seek(at + CHECKSUM_SIZE)
        iteration, _meta_block, free_list, block_count, alloc = struct.unpack("<5Q", f.read(40))
        return cls(iteration, free_list, block_count, alloc or DEFAULT_BLOCK_ALLOC_SIZE)

    def plausible(self) -> bool:
        alloc = self.block_alloc_size
        return alloc & (alloc - 1) == 0 and 2**12 <= alloc <= 2**24 and self.block_count < 2**40


@dataclass(frozen=True)
class Shortfall:
    """The file ends at `size` bytes; its layout needs `needed`."""

    size: int
    needed: int


class Busy(Exception):
    """Another process has the file open for writing: its layout may be changing."""


class _Unreadable(Exception):
    """The layout does not parse as this check expects: leave the verdict to DuckDB."""


def shortfall(path: Path) -> Shortfall | None:
    """A Shortfall when the DuckDB file at `path` is shorter than its layout needs; None when it
    is long enough, or is not laid out as this check knows (DuckDB then judges it alone). Busy
    while another process writes it."""
    with open(path, "rb") as f:
        _share(f)
        size = f.seek(0, 2)
        if size < BLOCKS_START:
            return None  # DuckDB refuses to open such a file itself
        f.seek(MAGIC_AT)
        if f.read(len(MAGIC)) != MAGIC:
            return None
        first, second = Header.read(f, HEADER_SIZE), Header.read(f, 2 * HEADER_SIZE)
        header = first if first.iteration > second.iteration else second
        if not header.plausible():
            return None
        try:
            needed = _needed_bytes(f, size, header)
        except _Unreadable:
            return None
    return Shortfall(size, needed) if size < needed else None


def _share(f: BinaryIO) -> None:
    """A shared lock on the whole file (released when `f` closes), or Busy."""
    try:
        fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            raise Busy from None
        raise


def _needed_bytes(f: BinaryIO, size: int, header: Header) -> int:
    """Where the last block that is not free ends (or where the free list would, when the file
    stops before it)."""
    free, missing_from = _free_blocks(f, size, header)
    if missing_from is not None:
        return missing_from
    top = header.block_count
    while top > 0 and top - 1 in free:
        top -= 1
    return BLOCKS_START + top * header.block_alloc_size


def _free_blocks(f: BinaryIO, size: int, header: Header) -> tuple[set[int], int | None]:
    """The block ids on the header's free list; or, when the file ends before the list does,
    the offset the list needed the file to reach."""
    if header.free_list == INVALID:
        return set(), None
    sub_block = (header.block_alloc_size - CHECKSUM_SIZE) // METADATA_PER_BLOCK // 8 * 8
    data, pointer, wanted = b"", header.free_list, None
    while wanted is None or len(data) < wanted:
        if pointer == INVALID:
            raise _Unreadable
        block, index = pointer & ((1 << BLOCK_ID_BITS) - 1), pointer >> BLOCK_ID_BITS
        if block >= header.block_count or index >= METADATA_PER_BLOCK:
            raise _Unreadable
        at = BLOCKS_START + block * header.block_alloc_size + CHECKSUM_SIZE + index * sub_block
        if at + sub_block > size:
            return set(), at + sub_block
        f.seek(at)
        piece = f.read(sub_block)
        pointer, data = struct.unpack_from("<Q", piece)[0], data + piece[8:]
        if wanted is None:
            count = struct.unpack_from("<Q", data)[0]
            if count > header.block_count:  # every free block is one of the file's
                raise _Unreadable
            wanted = 8 + 8 * count
    return set(struct.unpack_from(f"<{count}q", data, 8)), None
