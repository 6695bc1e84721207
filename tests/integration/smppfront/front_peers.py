"""What the interop tests share: the server under test as the ESMEs see it, and a dlr-url receiver."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Target:
    host: str
    port: int
    system_id: str
    password: str
    submitted: Callable[[], list[bytes]]  # short_message of every submit_sm the server took, in order
    message_ids: Callable[[], list[str]]  # the ids its submit_sm_resps carried, in the same order


class DlrReceiver:
    """An HTTP server on a free loopback port recording the query of every GET (Kannel's dlr-url calls)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                with receiver.arrived:
                    receiver.calls.append(query)
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, predicate: Callable[[list[dict[str, str]]], bool], timeout: float) -> list[dict[str, str]]:
        with self.arrived:
            self.arrived.wait_for(lambda: predicate(self.calls), timeout)
            return list(self.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def udh_parts(text: str, ref: int, size: int = 153) -> list[bytes]:
    """``text`` (GSM-7 basic characters only) as concatenated parts, each behind an 8-bit reference UDH.

    Written out here rather than taken from an ESME library so every client sends the same bytes.
    """
    data = text.encode("ascii")
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    return [bytes([5, 0, 3, ref, len(chunks), n]) + c for n, c in enumerate(chunks, 1)]
