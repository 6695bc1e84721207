"""A throwaway Kannel (bearerbox + smsbox) for the interop tests: an independent ESME that binds over SMPP.

Kannel is what many installations already run in front of their SMSCs, so a
front that Kannel can bind to, submit through and take receipts from is one
those installations can switch to. The boxes come from Debian's ``kannel``
package (``/usr/sbin/bearerbox``, ``/usr/sbin/smsbox``; ``make test``
installs it when it can). Without them the caller skips, naming the package.

One config file under a temp dir holds every group; both boxes read it. The
keys that decide behaviour are quoted from Kannel's user guide (Debian's
``kannel-docs``, ``/usr/share/doc/kannel-docs/userguide/userguide.html``) next
to where they are written. :meth:`KannelBox.stop` ends both boxes (SIGTERM,
then SIGKILL) and removes the temp dir; boxes left by a killed test session
are ended by the next one (their owner pid is gone).
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from pg_server import alive, free_port

PACKAGE = "kannel"  # Debian's package holding the boxes
BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
PREFIX = "msgbridge-kannel-"
OWNER = "owner.pid"
SMSC_ID = "msgbridge"
START_ATTEMPTS = 3  # a free port can be taken by someone else before a box binds it


class KannelNotFound(RuntimeError):
    """The boxes are not installed: the caller skips with this message."""


def find_boxes() -> tuple[str, str]:
    for path in (BEARERBOX, SMSBOX):
        if not os.access(path, os.X_OK):
            raise KannelNotFound(
                f"{path} is missing: install Debian's {PACKAGE!r} package "
                f"(apt-get install -y --no-install-recommends {PACKAGE}; `make test` does it as root)"
            )
    return BEARERBOX, SMSBOX


@dataclass
class SmscLink:
    """The SMPP server Kannel binds to (our front, or the SMSC simulator) and the account it binds with."""

    host: str
    port: int
    system_id: str
    password: str


@dataclass
class KannelBox:
    """A running bearerbox + smsbox pair; ``sendsms`` pushes a message through Kannel's HTTP interface."""

    base: Path
    link: SmscLink
    admin_port: int = 0
    smsbox_port: int = 0
    sendsms_port: int = 0
    admin_password: str = field(default_factory=lambda: secrets.token_hex(8))
    user: str = "tester"
    user_password: str = field(default_factory=lambda: secrets.token_hex(8))
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.base / "kannel.conf"

    def render(self) -> str:
        """The whole kannel.conf; every port on 127.0.0.1."""
        link = self.link
        return f"""\
group = core
# "admin-port (m): The port number in which the bearerbox listens to HTTP administration commands";
# /status.txt on it says whether the smsc link is "online" (bound).
admin-port = {self.admin_port}
admin-password = {self.admin_password}
admin-deny-ip = "*.*.*.*"
admin-allow-ip = "127.0.0.1"
# "smsbox-port (c): the port number to which the smsboxes, if any, connect ... Must be set if you want to
# handle any SMS traffic."
smsbox-port = {self.smsbox_port}
smsbox-interface = "127.0.0.1"
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
log-file = "{self.base / "bearerbox.log"}"
log-level = 0
access-log = "{self.base / "access.log"}"
# "dlr-storage: Defines the way DLRs are stored. Natively in-memory storage is supported ... By default this
# is set to internal." A receipt is matched against what Kannel stored at submit_sm_resp time.
dlr-storage = internal

group = smsc
smsc = smpp
# "If you want to use Delivery Reports, you must define this." (smsc-id)
smsc-id = {SMSC_ID}
host = {link.host}
port = {link.port}
# "transceiver-mode: Use a TRANSCEIVER mode connection to the SMSC ... This will do a bind_transceiver only",
# so submit_sm and the receipts' deliver_sm share one bind.
transceiver-mode = true
smsc-username = "{link.system_id}"
smsc-password = "{link.password}"
system-type = ""
# "reconnect-delay: the time between attempts to connect an ESME to an SMSC ... The default is 10 seconds."
reconnect-delay = 1
# msg-id-type is left unset: "the default will be a C string literal", so our ids (submit_sm_resp and the
# receipt's id) are compared as the text they are.
# "source-addr-autodetect ... tries to scan the source address and set TON and NPI settings accordingly."
source-addr-autodetect = yes
log-file = "{self.base / "smsc.log"}"
log-level = 0

group = smsbox
bearerbox-host = 127.0.0.1
# "bearerbox-port (o): ... If not given smsbox-port from core group used."
bearerbox-port = {self.smsbox_port}
# "sendsms-port (c): The port in which any sendsms HTTP requests are done."
sendsms-port = {self.sendsms_port}
sendsms-interface = "127.0.0.1"
# "immediate-sendsms-reply ... If set to false (default), smsbox will not reply to HTTP request until the
# bearerbox has received the message." Kept false: the reply means Kannel took it.
immediate-sendsms-reply = false
log-file = "{self.base / "smsbox.log"}"
log-level = 0

group = sendsms-user
username = {self.user}
password = {self.user_password}
# "text: The content can be more than 160 characters, but then sendsms-user group must have max-messages set
# more than 1."; "concatenation = true ... Concatenated messages are reassembled into one long message by the
# receiving device" (UDH parts).
max-messages = 3
concatenation = true
"""

    @classmethod
    def start(cls, link: SmscLink, timeout: float = 20.0) -> KannelBox:
        bearerbox, smsbox = find_boxes()
        reap_stale()
        base = Path(tempfile.mkdtemp(prefix=PREFIX))
        (base / OWNER).write_text(str(os.getpid()))
        box = cls(base, link)
        try:
            for attempt in range(1, START_ATTEMPTS + 1):
                box.admin_port, box.smsbox_port, box.sendsms_port = free_port(), free_port(), free_port()
                box.config.write_text(box.render())
                box._spawn(bearerbox, "bearerbox")
                if box._wait_port(box.smsbox_port, timeout) and box._wait_port(box.admin_port, timeout):
                    break
                box._end_processes()
                if attempt == START_ATTEMPTS:
                    raise RuntimeError("bearerbox did not start:\n" + box.logs())
            box._spawn(smsbox, "smsbox")
            if not box._wait_port(box.sendsms_port, timeout):
                raise RuntimeError("smsbox did not open its sendsms port:\n" + box.logs())
        except BaseException:
            box.stop()
            raise
        return box

    def _spawn(self, binary: str, name: str) -> None:
        out = (self.base / f"{name}.out").open("ab")
        proc = subprocess.Popen(
            [binary, str(self.config)], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        out.close()
        self.procs.append(proc)
        (self.base / f"{name}.pid").write_text(str(proc.pid))

    def _wait_port(self, port: int, timeout: float) -> bool:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                return False
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return True
            time.sleep(0.05)
        return False

    def status(self) -> str:
        """bearerbox's /status.txt (links, queues, counters)."""
        query = urllib.parse.urlencode({"password": self.admin_password})
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/status.txt?{query}", timeout=5) as r:
            return str(r.read().decode("utf-8", "replace"))

    def wait_online(self, timeout: float = 20.0) -> None:
        """Until the smsc link is bound: status.txt lists it as ``(online Ns, ...)``."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.status()
            if any(SMSC_ID in line and "online" in line for line in text.splitlines()):
                return
            time.sleep(0.1)
        raise AssertionError(f"Kannel's smsc link did not come online:\n{text}\n{self.logs()}")

    def sendsms(self, to: str, text: str, sender: str = "Test", **params: str) -> tuple[int, str]:
        """GET /cgi-bin/sendsms (the sendsms-user's credentials added); (HTTP status, body)."""
        query = urllib.parse.urlencode(
            {"username": self.user, "password": self.user_password, "from": sender, "to": to, "text": text}
            | params
        )
        url = f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms?{query}"
        try:
            with urllib.request.urlopen(url, timeout=15) as r:
                return int(r.status), r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode("utf-8", "replace")

    def logs(self, tail: int = 3000) -> str:
        parts = []
        for path in sorted(self.base.glob("*.log")) + sorted(self.base.glob("*.out")):
            with contextlib.suppress(OSError):
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def _end_processes(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()

    def stop(self) -> None:
        """End smsbox then bearerbox, and remove every file."""
        self._end_processes()
        shutil.rmtree(self.base, ignore_errors=True)


def reap_stale() -> None:
    """End boxes of test sessions killed before their teardown, by the pids they recorded, and remove them."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*")):
        base = Path(path)
        try:
            owner = int((base / OWNER).read_text())
        except (OSError, ValueError):
            continue
        if alive(owner):
            continue
        for pid_file in base.glob("*.pid"):
            if pid_file.name == OWNER:
                continue
            with contextlib.suppress(OSError, ValueError):
                pid = int(pid_file.read_text())
                # only a process still running this box's config: a reused pid is someone else's
                if str(base / "kannel.conf") in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)
