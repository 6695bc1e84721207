"""A small real HTTP/1.1 server for the provider emulators, built on h11.

The emulators must be reached over real sockets so that the adapters are
tested with the same client, connection pool and timeouts they use in
production. h11 does the protocol; this module adds keep-alive, request
parsing the providers need (urlencoded forms with PHP-style bracket arrays,
JSON) and a few ways to misbehave on purpose (an HTML 502 page, a truncated
or empty body, a request that never gets an answer, a dropped connection),
because an adapter is only as good as its handling of a provider having a bad
day.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import logging
import random
import re
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import h11

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024


# --------------------------------------------------------------------------- requests and responses


def _parse_qs(raw: str) -> dict[str, list[str]]:
    return parse_qs(raw, keep_blank_values=True)


@dataclass
class Request:
    """One parsed HTTP request. Header names are lower-case."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    _form: dict[str, list[str]] | None = field(default=None, repr=False)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def form(self) -> dict[str, list[str]]:
        """The urlencoded body (empty for other content types)."""
        if self._form is None:
            if self.content_type == "application/x-www-form-urlencoded" and self.body:
                self._form = _parse_qs(self.body.decode("utf-8", errors="replace"))
            else:
                self._form = {}
        return self._form

    def json(self) -> Any:
        """The JSON body; raises ValueError when it is not JSON."""
        return jsonlib.loads(self.body.decode("utf-8"))

    def arg(self, name: str, default: str | None = None) -> str | None:
        """A parameter from the form body or else the query string (providers accept both)."""
        for source in (self.form, self.query):
            values = source.get(name)
            if values:
                return values[0]
        return default

    def array(self, name: str) -> list[str]:
        """PHP-style arrays: ``name[0]=a&name[1]=b``, ``name[]=a`` or ``name=a,b``, from form or query."""
        for source in (self.form, self.query):
            found = _bracket_array(source, name)
            if found:
                return found
        return []

    def mapping(self, name: str) -> dict[str, str]:
        """PHP-style maps: ``name[key]=value`` (one level)."""
        out: dict[str, str] = {}
        prefix = f"{name}["
        for source in (self.query, self.form):
            for key, values in source.items():
                if key.startswith(prefix) and key.endswith("]") and values:
                    out[key[len(prefix) : -1]] = values[0]
        return out


_INDEX = re.compile(r"^\[(\d*)\]$")


def _bracket_array(source: Mapping[str, list[str]], name: str) -> list[str]:
    indexed: list[tuple[int, str]] = []
    appended: list[str] = []
    for key, values in source.items():
        if key == name:
            for value in values:
                appended.extend(v for v in value.split(",") if v != "")
            continue
        if not key.startswith(name):
            continue
        match = _INDEX.match(key[len(name) :])
        if match is None:
            continue
        if match.group(1) == "":
            appended.extend(values)
        else:
            indexed.extend((int(match.group(1)), v) for v in values)
    return [v for _, v in sorted(indexed, key=lambda p: p[0])] + appended


@dataclass
class Response:
    """What an emulator answers. ``fault`` makes the server misbehave instead (see FAULTS)."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    fault: str | None = None


def json_response(obj: object, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
    body = jsonlib.dumps(obj, ensure_ascii=False).encode("utf-8")
    return Response(status, body, [("Content-Type", "application/json; charset=utf-8"), *headers])


def text_response(
    text: str,
    status: int = 200,
    content_type: str = "text/plain; charset=utf-8",
    headers: Iterable[tuple[str, str]] = (),
) -> Response:
    return Response(status, text.encode("utf-8"), [("Content-Type", content_type), *headers])


BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)

# Ways an emulator can fail on purpose; tests queue them with Emulator.inject().
# "lost" is the dangerous one: the request is carried out, then the connection
# drops before the answer, so the client cannot know it took effect.
FAULTS: tuple[str, ...] = ("html502", "http500", "http429", "truncated", "empty", "hang", "drop", "lost")


def fault_response(fault: str, retry_after: float = 1.0) -> Response:
    """The canned answer for ``fault``; "hang" and "drop" are carried out by the server itself."""
    if fault == "html502":
        return text_response(BAD_GATEWAY_PAGE, 502, "text/html")
    if fault == "http500":
        return text_response("Internal Server Error", 500)
    if fault == "http429":
        return text_response("Too Many Requests", 429, headers=[("Retry-After", f"{retry_after:g}")])
    if fault == "truncated":
        return Response(200, b'{"result": {"message_id": 3442', [("Content-Type", "application/json")])
    if fault == "empty":
        return Response(200, b"", [("Content-Type", "application/json")])
    if fault in ("hang", "drop", "lost"):
        return Response(fault="drop" if fault == "lost" else fault)
    raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")


# --------------------------------------------------------------------------- emulator base


class App(Protocol):
    async def handle(self, request: Request) -> Response: ...


class Emulator:
    """Knobs and counters every provider emulator shares.

    ``requests`` counts requests per endpoint so tests and the benchmark can
    read exactly how many calls an adapter made. Statuses move from the
    provider's first status to an "in progress" one after ``accept_after``
    seconds and to a final outcome after ``final_after`` seconds; the outcome
    is drawn from ``final_mix`` with ``seed`` and the message id, so a run is
    reproducible. ``clock`` can be replaced to move time without waiting.
    """

    name = "emulator"
    # Generic outcome names accepted in final_mix; each provider maps them to its own statuses.
    OUTCOMES: tuple[str, ...] = ("delivered", "undeliverable", "expired", "rejected")

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = ("test-key",),
        rate_limit: float | None = None,
        rate_burst: float | None = None,
        final_mix: Mapping[str, float] | None = None,
        accept_after: float = 0.0,
        final_after: float = 0.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_keys: set[str] = set(api_keys)
        self.rate_limit = rate_limit
        self.rate_burst = (
            rate_burst if rate_burst is not None else (max(1.0, rate_limit) if rate_limit else 1.0)
        )
        self.final_mix: dict[str, float] = dict(final_mix or {"delivered": 1.0})
        unknown = set(self.final_mix) - set(self.OUTCOMES)
        if unknown:
            raise ValueError(
                f"unknown outcomes in final mix: {sorted(unknown)}; known: {', '.join(self.OUTCOMES)}"
            )
        if sum(self.final_mix.values()) <= 0:
            raise ValueError("final mix must have a positive weight")
        self.accept_after = accept_after
        self.final_after = final_after
        self.seed = seed
        self.clock = clock
        self.requests: Counter[str] = Counter()
        self.throttled = 0
        self.faults: deque[str] = deque()
        self.endpoint_faults: dict[str, deque[str]] = {}
        self._tokens = self.rate_burst
        self._stamp = clock()

    # -- knobs used by tests
    def inject(self, *faults: str) -> None:
        """Make the next requests fail in these ways, one fault per request."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        self.faults.extend(faults)

    def inject_at(self, endpoint: str, *faults: str) -> None:
        """Make the next requests to ``endpoint`` (as named in ``requests``) fail in these ways."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        self.endpoint_faults.setdefault(endpoint, deque()).extend(faults)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    # -- helpers for subclasses
    def now(self) -> float:
        return self.clock()

    def rate_limited(self) -> bool:
        """A token bucket over all requests; True means answer with the provider's throttling reply."""
        if not self.rate_limit:
            return False
        now = self.clock()
        self._tokens = min(self.rate_burst, self._tokens + (now - self._stamp) * self.rate_limit)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return False
        self.throttled += 1
        return True

    def outcome(self, key: str) -> str:
        """The final outcome for message ``key``: deterministic for a given seed."""
        draw = random.Random(f"{self.seed}:{key}").random() * sum(self.final_mix.values())
        for name, weight in self.final_mix.items():
            draw -= weight
            if draw < 0:
                return name
        return next(iter(self.final_mix))

    def stage(self, created: float, at: float | None = None) -> int:
        """0 = just taken, 1 = on its way, 2 = final (now, or at time ``at``)."""
        age = (self.clock() if at is None else at) - created
        if age >= self.final_after:
            return 2
        if age >= self.accept_after:
            return 1
        return 0

    # -- the request entry point
    def endpoint(self, request: Request) -> str:
        """The name a request is counted under; providers override to count per API method."""
        return f"{request.method} {request.path}"

    async def handle(self, request: Request) -> Response:
        endpoint = self.endpoint(request)
        self.requests[endpoint] += 1
        queued = self.endpoint_faults.get(endpoint)
        if queued or self.faults:
            fault = queued.popleft() if queued else self.faults.popleft()
            if fault == "lost":
                await self.dispatch(request)
            return fault_response(fault)
        return await self.dispatch(request)

    async def dispatch(self, request: Request) -> Response:
        return text_response("Not Found", 404)


def parse_mix(text: str) -> dict[str, float]:
    """``delivered=0.9,undeliverable=0.1`` -> {"delivered": 0.9, "undeliverable": 0.1}."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, weight = part.partition("=")
        if not sep:
            raise ValueError(f"final mix entry {part!r} is not name=weight")
        mix[name.strip()] = float(weight)
    return mix


# --------------------------------------------------------------------------- the server


class HttpServer:
    """An asyncio HTTP/1.1 server with keep-alive that hands each request to ``app.handle``."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.connections_opened = 0

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._port)
        log.info("http emulator listening on %s", self.url)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Our own task per connection (not asyncio's callback task), so close() can cancel
        # and await it without asyncio reporting the cancellation as an error.
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)
        self.connections_opened += 1

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve_connection(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, h11.RemoteProtocolError) as exc:
            log.debug("connection ended: %r", exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        while True:
            request = await self._read_request(conn, reader)
            if request is None:
                return
            try:
                response = await self.app.handle(request)
            except Exception:
                log.exception("emulator failed on %s %s", request.method, request.path)
                response = text_response("Internal Server Error", 500)
            if response.fault == "hang":
                await asyncio.Event().wait()  # until the client gives up or the server closes
            if response.fault == "drop":
                return
            headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(response.body))))
            reason = _reason(response.status)
            writer.write(
                conn.send(h11.Response(status_code=response.status, headers=headers, reason=reason)) or b""
            )
            if response.body:
                writer.write(conn.send(h11.Data(data=response.body)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _read_request(self, conn: h11.Connection, reader: asyncio.StreamReader) -> Request | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and head is None:
                    return None
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise ConnectionError("request body too large")
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                target = head.target.decode("latin-1")
                parts = urlsplit(target)
                return Request(
                    method=head.method.decode("ascii").upper(),
                    path=parts.path,
                    query=_parse_qs(parts.query),
                    headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers},
                    body=bytes(body),
                )


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


@contextlib.asynccontextmanager
async def serve(app: App, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[HttpServer]:
    """``async with serve(emulator) as server:`` -> a running server on ``server.url``."""
    server = HttpServer(app, host, port)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
