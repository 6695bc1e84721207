"""``msgbridge sim smsc`` as a process: ready line, real traffic, counters on SIGUSR1 and exit, report file."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import smpplib.client

from msgbridge.smpp import codec


def start(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "msgbridge", "sim", "smsc", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no ready line: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc, int(match.group(1))


def counters_line(proc: subprocess.Popen[str]) -> dict[str, float]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("counters "), line
    return {k: float(v) for k, v in (item.split("=") for item in line.split()[1:])}


def send_two(port: int, password: str = "p") -> list[str]:
    ids: list[str] = []
    client = smpplib.client.Client("127.0.0.1", port, timeout=20, allow_unknown_opt_params=True)
    client.set_message_sent_handler(lambda pdu: ids.append(pdu.message_id.decode()))
    client.connect()
    client.bind_transmitter(system_id="u", password=password)
    for text in (b"one", b"two"):
        client.send_message(source_addr="Test", destination_addr="77011234567", short_message=text)
    while len(ids) < 2:
        client.read_once()
    client.unbind()
    client.disconnect()
    return ids


async def test_cli_serves_counts_and_reports(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc, port = start(
        "--users", "u:p,v:q", "--id-format", "dec", "--throttle-every", "3", "--report-json", str(report)
    )
    try:
        ids = await asyncio.to_thread(send_two, port)
        assert all(i.isdigit() for i in ids)
        proc.send_signal(signal.SIGUSR1)
        live = await asyncio.to_thread(counters_line, proc)
        assert (live["binds"], live["submit_sm_ok"], live["unbinds"]) == (1, 2, 1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 0
    assert out.startswith("counters ")
    data = json.loads(report.read_text())
    assert (data["binds"], data["submit_sm"], data["submit_sm_ok"]) == (1, 2, 2)
    assert data["cpu_seconds"] > 0 and data["cpu_user_seconds"] > 0


async def test_cli_throttle_knob_reaches_the_simulator() -> None:
    proc, port = start("--throttle-every", "1")

    def submit() -> int:
        reader_status: list[int] = []
        client = smpplib.client.Client("127.0.0.1", port, timeout=20, allow_unknown_opt_params=True)
        client.set_error_pdu_handler(lambda pdu: reader_status.append(pdu.status))
        client.connect()
        client.bind_transmitter(system_id="u", password="p")
        client.send_message(source_addr="Test", destination_addr="77011234567", short_message=b"x")
        client.read_once()
        client.disconnect()
        return reader_status[0]

    try:
        assert await asyncio.to_thread(submit) == codec.ESME_RTHROTTLED
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 0


@pytest.mark.parametrize("args", [["--dlr-mix", "lost=1"], ["--users", "nopassword"]])
def test_cli_refuses_bad_options(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "msgbridge", "sim", "smsc", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "listening" not in done.stdout


async def test_cli_mo_messages_wait_for_a_receiver() -> None:
    long_text = "part, of a long message " * 9  # 216 characters: two UDH parts
    proc, port = start(
        "--mo", "+77011234567,1234,hello from a phone", "--mo", f"+77011234567,1234,{long_text}"
    )

    def receive(n: int) -> list[tuple[str, int, bytes]]:
        got: list[tuple[str, int, bytes]] = []
        client = smpplib.client.Client("127.0.0.1", port, timeout=20, allow_unknown_opt_params=True)
        client.set_message_received_handler(
            lambda pdu: got.append((pdu.source_addr.decode(), pdu.esm_class, pdu.short_message))
        )
        client.connect()
        client.bind_receiver(system_id="u", password="p")
        while len(got) < n:
            client.read_once()
        client.unbind()
        client.disconnect()
        return got

    try:
        got = await asyncio.wait_for(asyncio.to_thread(receive, 3), 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.communicate, timeout=20)
    assert got[0] == ("77011234567", 0, b"hello from a phone")
    assert [esm for _, esm, _ in got[1:]] == [0x40, 0x40]
    assert b"".join(sm[6:] for _, _, sm in got[1:]) == long_text.encode()
