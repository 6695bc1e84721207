"""Preparing a large file's rows in a process of their own, so that it overlaps sending.

A campaign process that prepares while it sends does both on one core (one
interpreter, one GIL): reading the CSV, normalising phones, rendering and
measuring the text cost about as much per message as sending and recording it.
For a large file that work runs here instead, in a child process
(``python -m msgbridge.dispatch.prepworker``) on the machine's other core; the
campaign process keeps what must stay in one place: writing the outbox, the
repeats across chunks (the store's key decides them) and the report.

The child runs exactly the functions the campaign process would
(``open_csv``, ``judge_chunk``), so every verdict, line number and message is
the same; only where they run differs. Over its standard input the parent
gives the job (one pickle, length-prefixed) and then one byte per chunk it
wants (credit: the child is never more than CREDIT chunks ahead, so memory
stays bounded); over its standard output the child answers a pickle per
chunk. A zero byte, or the end of its input (the parent stopped, or was
killed), ends the child at once: nothing it built is written by anyone else,
so stopping it loses nothing, and a re-run prepares those rows again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import struct
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO, Any

from msgbridge.core.errors import ConfigError, ErrorCode, MessagingError
from msgbridge.core.message import Campaign, Message
from msgbridge.core.phone import PhoneCheck
from msgbridge.dispatch.campaign import (
    BuiltChunk,
    Prepared,
    chunks,
    idempotency_key,
    judge_chunk,
    message_ids,
)
from msgbridge.dispatch.csvsource import open_csv
from msgbridge.dispatch.heap import fewer_collections
from msgbridge.store.base import OutboxEntry

# A file at least this large is prepared in a child process (about 45,000 rows of ``phone,name``): below
# it, starting the child (an interpreter and phonenumbers' metadata, a few tenths of a second) costs more
# than it saves.
MIN_BYTES = 1 << 20
CREDIT = 3  # chunks the child may have built that the parent has not taken yet
_LENGTH = struct.Struct("!I")
_MORE, _STOP = b"\x01", b"\x00"
CLOSE_WAIT = 5.0  # seconds a child that was told to stop may take before it is killed

# One prepared row on its way to the parent: message id, E.164, text, CSV line, encoding, segments.
Wire = tuple[str, str, str, int | None, str, int]


@dataclass(frozen=True)
class Job:
    """What the child needs to read and prepare the file as the parent would."""

    csv_path: str
    phone_column: str
    encoding: str
    allow_multiline: bool
    name: str
    template: str
    sender: str | None
    region: str | None
    phone_check: PhoneCheck
    chunk_size: int
    key_prefix: str = ""


def use_for(csv_path: str) -> bool:
    """Whether a file is large enough to be prepared in a child process."""
    try:
        return os.path.getsize(csv_path) >= MIN_BYTES
    except OSError:
        return False


def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """The child: read the job, then build a chunk for each byte of credit, until the file ends.

    Ctrl-C reaches the whole process group: the parent stops sending at it and then stops the child
    (through its input), so the child itself ignores it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    head = inp.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return
    job: Job = pickle.loads(inp.read(_LENGTH.unpack(head)[0]))
    campaign = Campaign(name=job.name, template=job.template, sender=job.sender)
    with fewer_collections():
        _serve(job, campaign, inp, out)


def _serve(job: Job, campaign: Campaign, inp: IO[bytes], out: IO[bytes]) -> None:
    try:
        with open_csv(
            job.csv_path,
            phone_column=job.phone_column,
            encoding=job.encoding,
            allow_multiline=job.allow_multiline,
        ) as source:
            column = source.phone_column
            rows = ((r.line, r.fields.get(column, ""), r.fields, r.problem) for r in source.rows())
            for chunk in chunks(rows, job.chunk_size):
                if inp.read(1) != _MORE:
                    return
                judged, problems, repeats = judge_chunk(
                    campaign, chunk, region=job.region, phone_check=job.phone_check
                )
                wire: list[Wire] = [
                    (mid, j.to, j.text, j.line, j.measured.encoding.value, j.measured.segments)
                    for j, mid in zip(judged, message_ids(len(judged)), strict=True)
                ]
                out.write(_frame(("chunk", len(chunk), wire, problems, repeats)))
                out.flush()
    except MessagingError as exc:
        out.write(_frame(("error", str(exc), exc.code.value)))
    else:
        out.write(_frame(("end",)))
    out.flush()


class PreparingProcess:
    """The parent's side: the child started, its chunks as ``BuiltChunk`` (``async with`` it, then
    ``chunks()``); leaving stops the child, whether or not the file was read to its end."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> PreparingProcess:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        self._stdin().write(_frame(self.job) + _MORE * CREDIT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        with contextlib.suppress(ConnectionError, RuntimeError):
            self._stdin_of(proc).write(_STOP)
            self._stdin_of(proc).close()
        try:
            await asyncio.wait_for(self._finish(proc), CLOSE_WAIT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await self._finish(proc)
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise

    @staticmethod
    async def _finish(proc: asyncio.subprocess.Process) -> None:
        """Wait for the child to end. What it built after the parent stopped taking chunks is read and
        dropped: a child blocked writing into a full pipe would never end, and asyncio's ``wait`` returns
        only once the pipe has been read to its end."""
        assert proc.stdout is not None
        while await proc.stdout.read(1 << 16):
            pass
        await proc.wait()

    def _stdin(self) -> asyncio.StreamWriter:
        assert self._proc is not None
        return self._stdin_of(self._proc)

    @staticmethod
    def _stdin_of(proc: asyncio.subprocess.Process) -> asyncio.StreamWriter:
        assert proc.stdin is not None
        return proc.stdin

    async def _read(self) -> Any:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            head = await self._proc.stdout.readexactly(_LENGTH.size)
            return pickle.loads(await self._proc.stdout.readexactly(_LENGTH.unpack(head)[0]))
        except asyncio.IncompleteReadError:
            code = await self._proc.wait()
            raise MessagingError(
                f"the process preparing {self.job.csv_path} ended without finishing (exit code {code})"
            ) from None

    async def chunks(self) -> AsyncIterator[BuiltChunk]:
        """Each chunk as ``build_chunk`` would make it, its entries built here; a bad file raises as it would here."""
        job = self.job
        while True:
            got = await self._read()
            if got[0] == "end":
                return
            if got[0] == "error":
                _, text, code = got
                raise ConfigError(text, code=ErrorCode(code))
            _, count, wire, problems, repeats = got
            with contextlib.suppress(ConnectionError, RuntimeError):
                self._stdin().write(_MORE)
            built: list[Prepared] = [
                (
                    OutboxEntry(
                        Message(id=mid, to=to, text=text, sender=job.sender, campaign=job.name),
                        idempotency_key(job.name, to, job.key_prefix),
                        line,
                    ),
                    encoding,
                    segments,
                )
                for mid, to, text, line, encoding, segments in wire
            ]
            yield count, built, problems, repeats


def main() -> None:
    serve(sys.stdin.buffer, sys.stdout.buffer)


# The child's program. Not ``-m`` this module: importing the package imports it already (through
# ``dispatch.run``), and runpy would run it a second time as ``__main__`` and warn so on stderr.
CHILD = f"from {__name__} import main; main()"

if __name__ == "__main__":
    main()
