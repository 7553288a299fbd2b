"""Reading within caps: a document is refused once it passes its size, whatever it
claims first (a compressed bomb, a device, a pipe that never ends), and a stream's
line once it passes the cap for one record.

kb.ingest.sources reads through these; the cap is ``--max-size`` (a JSON document, an
array of many records read whole, gets JSON_SHARE times it).
"""

from __future__ import annotations

import io
import os
from typing import Any, BinaryIO

from kb.errors import ParseError

JSON_SHARE = 10
# Bytes read at a time: what a refused document costs at most beyond its cap.
CHUNK = 1 << 20


def read_head(stream: BinaryIO, size: int) -> bytes:
    """The first ``size`` bytes of a stream (fewer only at its end; a pipe's read may
    return less)."""
    head = b""
    while len(head) < size:
        more = stream.read(size - len(head))
        if not more:
            break
        head += more
    return head


class Prefixed(io.RawIOBase):
    """A stream whose first bytes were read already: those, then the rest of it."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_capped(stream: Any, cap: int, name: str, *, already: int = 0) -> bytes:
    """Read a stream to its end, refusing it (ParseError) once it passes ``cap`` bytes.

    Read in chunks, so a stream that never ends (``/dev/zero``) or a compressed bomb
    costs at most ``cap`` bytes of memory before it is refused.
    """
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
        if total > cap:
            chunks.clear()
            raise ParseError(too_big(already + total, already + cap, over=True), path=name)
        chunks.append(chunk)
    return b"".join(chunks)


def too_big(size: int, cap: int, *, over: bool = False) -> str:
    """The reason a document is refused: its known ``size``, or (``over``) more than ``cap``."""
    shown, limit = megabytes(size, cap)
    what = "it holds more than" if over else f"file is {shown} MB, over"
    return f"{what} the {limit} MB limit for one document (raise it with --max-size)"


def megabytes(size: int, limit: int) -> tuple[str, str]:
    """Write a file's size and the limit it passes in MB, with the digits that tell them apart.

    A fixed one decimal said "0.0 MB, over the 0 MB limit" for a limit of --max-size 0.001.
    """
    for decimals in range(1, 13):
        shown, cap = (f"{n / 1e6:,.{decimals}f}".rstrip("0").rstrip(".") for n in (size, limit))
        if shown != cap:
            break
    return shown, cap


class FdReader:
    """``read(n)`` on a file descriptor, for read_capped."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, size: int) -> bytes:
        return os.read(self.fd, size)


class LineCapped(io.RawIOBase):
    """A binary stream that refuses a line longer than ``cap`` bytes (ParseError).

    For the formats that read their own bytes: a dump holds one record per line, so a
    line past the cap is a bomb, refused before the parser has to hold it.
    """

    def __init__(self, fh: BinaryIO, cap: int, name: str) -> None:
        self._fh = fh
        self._cap = cap
        self._name = name
        self._run = 0  # bytes since the last newline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._fh.read(len(buffer))
        first = data.find(b"\n")
        if first < 0:
            self._run += len(data)
            longest = self._run
        else:
            # A line inside one read is shorter than the read (a few hundred kB at most).
            longest = self._run + first
            self._run = len(data) - data.rfind(b"\n") - 1
        if longest > self._cap:
            raise ParseError(
                f"a line is over the {megabytes(self._cap, self._cap)[1]} MB limit for one record (raise it with --max-size)",
                path=self._name,
            )
        buffer[: len(data)] = data
        return len(data)
