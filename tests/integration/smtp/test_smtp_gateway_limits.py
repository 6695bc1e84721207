"""The gateway against guessers and idlers: login lock-outs, connection caps, session time limits.

Real gateway on port 0, real clients (aiosmtplib, smtplib, raw sockets); clients
on other loopback addresses (127.0.0.2, 127.0.0.3) stand for other hosts.
Limits are small and the lock-out clock is the test's, so nothing waits long.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import smtplib
import ssl
import time
from pathlib import Path

import aiosmtplib
import pytest
from smtp_helpers import GATEWAY_DOMAIN, eventually, user_line

from msgbridge.inbound.limits import AuthPolicy, ConnectionPolicy
from msgbridge.inbound.replies import LOCKED_OUT
from msgbridge.inbound.users import parse_users

PHONE = "+77011234567"
USERS = parse_users("\n".join([user_line("bob", "right"), user_line("carol", "pw2")]))
# Small waits so the doubling is visible but cheap; 3 failures lock for a minute of the test's clock.
POLICY = AuthPolicy(delay=0.02, max_delay=0.1, max_failures=3, lockout=60.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files[0]))


async def login(port: int, tls_files: tuple[Path, Path], user: str, password: str, source: str) -> int:
    """One AUTH PLAIN on a fresh connection from ``source``; the reply code."""
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        start_tls=False,
        local_hostname="client.test",
        source_address=(source, 0),
        tls_context=client_tls(tls_files),
        timeout=30,
    )
    await client.connect()
    try:
        await client.starttls()
        await client.ehlo()
        blob = base64.b64encode(f"\0{user}\0{password}".encode())
        reply = await client.execute_command(b"AUTH", b"PLAIN", blob)
        return reply.code
    finally:
        client.close()


async def locked_gateway(gateway_factory, server_tls) -> tuple[object, FakeClock]:
    gw = await gateway_factory(users=USERS, tls_context=server_tls, auth=POLICY)
    clock = FakeClock()
    gw.gateway.handler.failures.clock = clock  # type: ignore[attr-defined]
    return gw, clock


async def test_failures_across_connections_lock_the_login_and_the_address(
    gateway_factory, server_tls, tls_files, caplog
) -> None:
    gw, clock = await locked_gateway(gateway_factory, server_tls)
    caplog.set_level(logging.WARNING, logger="msgbridge.inbound.smtp_gateway")
    # Three wrong guesses, each on its own connection (the per-connection limit never triggers).
    codes = [await login(gw.port, tls_files, "bob", f"guess{i}", "127.0.0.2") for i in range(3)]
    assert codes == [535, 535, 535]
    assert "login:bob locked out" in caplog.text and "ip:127.0.0.2 locked out" in caplog.text
    # Locked: the right password is refused, from that address and from another one (per login) ...
    assert await login(gw.port, tls_files, "bob", "right", "127.0.0.2") == 454
    assert await login(gw.port, tls_files, "bob", "right", "127.0.0.3") == 454
    # ... and another user's right password from the guessing address is refused too (per address).
    assert await login(gw.port, tls_files, "carol", "pw2", "127.0.0.2") == 454
    # Neither lock reaches another user on another address.
    assert await login(gw.port, tls_files, "carol", "pw2", "127.0.0.3") == 235
    # Once the lock-out is over, the right password works again.
    clock.now += POLICY.lockout + 1
    assert await login(gw.port, tls_files, "bob", "right", "127.0.0.2") == 235


async def test_lock_out_reply_through_smtplib(gateway_factory, server_tls, tls_files) -> None:
    gw, _ = await locked_gateway(gateway_factory, server_tls)

    def attempt(password: str) -> int:
        with smtplib.SMTP("127.0.0.1", gw.port, local_hostname="client.test", timeout=30) as s:
            s.starttls(context=client_tls(tls_files))
            try:
                s.login("bob", password)
            except smtplib.SMTPAuthenticationError as exc:
                return exc.smtp_code
            return 235

    # smtplib's login() tries PLAIN, then LOGIN: two failures per call, so the second call hits the lock.
    assert [await asyncio.to_thread(attempt, "wrong") for _ in range(2)] == [535, 454]
    assert await asyncio.to_thread(attempt, "right") == int(LOCKED_OUT.split()[0])


async def test_a_guess_waits_longer_after_each_failure(gateway_factory, server_tls, tls_files) -> None:
    slow = AuthPolicy(delay=0.3, max_delay=0.6, max_failures=100, lockout=60.0)
    gw = await gateway_factory(users=USERS, tls_context=server_tls, auth=slow)
    log = gw.gateway.handler.failures  # type: ignore[attr-defined]
    assert log.wait_for("login:bob") == 0
    assert await login(gw.port, tls_files, "bob", "guess", "127.0.0.2") == 535
    first = log.last_failure("login:bob")
    assert 0 < log.wait_for("login:bob") <= 0.3
    # The next attempt for this login, from another address and connection, is held back 0.3 s,
    # the one after that 0.6 s. Only lower bounds: a busy machine can make them longer, never shorter.
    assert await login(gw.port, tls_files, "bob", "guess", "127.0.0.3") == 535
    second = log.last_failure("login:bob")
    assert second - first >= 0.3
    assert await login(gw.port, tls_files, "bob", "right", "127.0.0.4") == 235
    assert time.monotonic() - second >= 0.6
    assert log.last_failure("login:bob") is None  # the success cleared it


async def test_connection_caps_per_address_and_in_total(gateway_factory) -> None:
    gw = await gateway_factory(
        allow=(ipaddress.ip_network("127.0.0.0/8"),),
        connections=ConnectionPolicy(max_total=3, max_per_client=2),
    )

    async def connect(source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port, local_addr=(source, 0))
        return reader, writer, await asyncio.wait_for(reader.readline(), timeout=30)

    async def refused(source: str) -> None:
        reader, writer, greeting = await connect(source)
        assert greeting.startswith(b"421 4.7.0 Too many connections")
        assert await asyncio.wait_for(reader.read(), timeout=30) == b""  # and closed
        writer.close()

    first = [await connect("127.0.0.2") for _ in range(2)]
    assert all(g.startswith(b"220 ") for _, _, g in first)
    await refused("127.0.0.2")  # a third from the same address
    _, other, greeting = await connect("127.0.0.3")
    assert greeting.startswith(b"220 ")
    await refused("127.0.0.4")  # a fourth in total
    # A freed slot is usable again once the gateway has seen the close.
    first[0][1].close()
    counts = gw.gateway.connections  # type: ignore[attr-defined]
    await eventually(lambda: counts.total == 2, what="the closed connection to be counted out")
    _, again, greeting = await connect("127.0.0.2")
    assert greeting.startswith(b"220 ")
    for writer in (first[1][1], other, again):
        writer.close()
    await eventually(lambda: counts.total == 0, what="every connection to be counted out")
    assert counts.total == 0 and counts.clients() == 0  # nothing kept for closed connections


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout=30)


async def test_idle_session_gets_421_and_is_closed(gateway_factory) -> None:
    gw = await gateway_factory(allow=(ipaddress.ip_network("127.0.0.0/8"),), timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    assert (await reader.readline()).startswith(b"220 ")
    assert (await read_until_closed(reader)).startswith(b"421 4.4.2")
    writer.close()


async def test_session_that_never_logs_in_is_closed_however_busy(gateway_factory, server_tls) -> None:
    gw = await gateway_factory(users=USERS, tls_context=server_tls, login_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    assert (await reader.readline()).startswith(b"220 ")
    got = b""
    deadline = time.monotonic() + 30
    while b"421" not in got and time.monotonic() < deadline:
        writer.write(b"NOOP\r\n")  # activity does not extend the login time
        try:
            got += await asyncio.wait_for(reader.readline(), timeout=30)
        except ConnectionError:
            break
        await asyncio.sleep(0.05)
    assert b"421 4.7.0 Not logged in in time" in got
    assert await read_until_closed(reader) == b""
    writer.close()


async def test_logged_in_and_allowlisted_sessions_outlive_the_login_timeout(
    gateway_factory, server_tls, tls_files
) -> None:
    gw = await gateway_factory(
        users=USERS,
        tls_context=server_tls,
        login_timeout=0.3,
        allow=(ipaddress.ip_network("127.0.0.3/32"),),
    )
    user = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=gw.port,
        start_tls=False,
        source_address=("127.0.0.2", 0),
        tls_context=client_tls(tls_files),
    )
    await user.connect()
    await user.starttls()
    await user.login("bob", "right")
    relay = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=gw.port, start_tls=False, source_address=("127.0.0.3", 0)
    )
    await relay.connect()
    await asyncio.sleep(0.6)  # twice the login timeout
    for client in (user, relay):
        assert (await client.noop()).code == 250
        errors, _ = await client.sendmail(
            "a@example.org", [f"{PHONE}@{GATEWAY_DOMAIN}"], b"Subject: s\r\n\r\nhi\r\n"
        )
        assert errors == {}
        await client.quit()
    assert len(gw.enqueued) == 2


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_lock_out_holds_for_both_mechanisms(gateway_factory, server_tls, tls_files, mechanism) -> None:
    gw, _ = await locked_gateway(gateway_factory, server_tls)
    for i in range(3):
        assert await login(gw.port, tls_files, "bob", f"guess{i}", "127.0.0.2") == 535
    c = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=gw.port,
        start_tls=False,
        source_address=("127.0.0.3", 0),
        tls_context=client_tls(tls_files),
    )
    await c.connect()
    await c.starttls()
    await c.ehlo()
    if mechanism == "PLAIN":
        reply = await c.execute_command(b"AUTH", b"PLAIN", base64.b64encode(b"\0bob\0right"))
    else:
        assert (await c.execute_command(b"AUTH", b"LOGIN", base64.b64encode(b"bob"))).code == 334
        reply = await c.execute_command(base64.b64encode(b"right"))
    assert f"{reply.code} {reply.message}" == LOCKED_OUT
    c.close()
