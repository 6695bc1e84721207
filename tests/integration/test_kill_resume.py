"""A campaign killed with SIGKILL midway and run again sends every recipient exactly once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

RECIPIENTS = 300


def journal_lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by the kill
    return out


def test_sigkill_midway_then_rerun_sends_each_recipient_once(tmp_path: Path) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "phone,name\n" + "".join(f"+7701{i:07d},P{i}\n" for i in range(RECIPIENTS)), encoding="utf-8"
    )
    journal = tmp_path / "journal.log"
    store = tmp_path / "store.db"
    via = f"memory://?journal={journal}&latency_ms=40&max_batch=5&dlr_delay_ms=1"
    cmd = [
        sys.executable,
        "-m",
        "msgbridge",
        "--store",
        str(store),
        "campaign",
        "run",
        "--via",
        via,
        "--csv",
        str(csv_file),
        "--template",
        "Hello {name}",
        "--name",
        "kill-test",
        "--concurrency",
        "2",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen([*cmd, "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(journal_lines(journal)) < 40:
        assert first.poll() is None, f"campaign ended before it could be killed: {first.stderr.read()!r}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "no progress within 60 s"
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)  # also closes the pipe
    assert first.returncode == -signal.SIGKILL
    sent_before = len(journal_lines(journal))
    assert sent_before < RECIPIENTS, "the kill came too late to test anything"

    with sqlite3.connect(store) as db:
        in_flight = dict(db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall())
    assert sum(in_flight.values()) == RECIPIENTS  # everything was queued before sending began

    second = subprocess.run(
        [*cmd, "--json", "--wait-receipts", "1.5"], env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["queued"] == 0 and report["already_queued"] == RECIPIENTS
    dispatch = report["dispatch"]
    # whatever the first run had claimed was settled through the journal, not resent blindly
    assert dispatch["settled_sent"] + dispatch["settled_unsent"] == in_flight.get("MAYBE_SUBMITTED", 0)

    sends = Counter(str(entry["to"]) for entry in journal_lines(journal))
    assert sends == Counter(f"+7701{i:07d}" for i in range(RECIPIENTS))  # each exactly once
    counts = report["counts"]
    assert sum(counts.values()) == RECIPIENTS
    # sent by the killed run: its receipts died with it (SUBMITTED); sent now: DELIVERED
    assert set(counts) <= {"SUBMITTED", "DELIVERED"}
    assert counts.get("DELIVERED", 0) >= RECIPIENTS - sent_before


# -- kill -9 of an SMPP campaign at random points -----------------------------------------------------
# A message is in doubt only once its submit_sm may be on the socket: after a kill, at most the windows in
# flight (window x binds) plus one write group (one window) are MAYBE_SUBMITTED, whatever was claimed.

WINDOW = 100
BINDS = 2
IN_DOUBT_BOUND = WINDOW * BINDS + WINDOW


class SmscProcess:
    """``msgbridge sim smsc`` in its own process; counters by SIGUSR1 (stdout) and --report-json at exit."""

    def __init__(self, tmp_path: Path, *extra: str) -> None:
        self.report = tmp_path / "smsc.json"
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "msgbridge", "sim", "smsc", "--port", "0", "--users", "u:p",
                "--dlr-delay-ms", "50", "--enquire-link-ms", "0", "--report-json", str(self.report), *extra,
            ],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line + (self.proc.stderr.read() if self.proc.stderr else "")
        self.port = int(line.rsplit(":", 1)[1])

    def counters(self) -> dict[str, float]:
        assert self.proc.stdout is not None
        self.proc.send_signal(signal.SIGUSR1)
        while True:
            line = self.proc.stdout.readline()
            assert line, "simulator exited"
            if line.startswith("counters "):
                return {k: float(v) for k, v in (kv.split("=", 1) for kv in line.split()[1:])}

    def stop(self) -> dict[str, float]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.communicate(timeout=30)
        return dict(json.loads(self.report.read_text()))


def statuses(store: Path) -> dict[str, int]:
    """Counts by status; empty while the file has no tables yet (the run is still starting)."""
    with sqlite3.connect(store, timeout=30) as db:
        try:
            return dict(db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall())
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return {}


KillPoint = Callable[[dict[str, int]], bool]  # from the store's counts by status: kill now?


def kill_resume_smpp(
    tmp_path: Path, kills: int, recipients: int, seed: int, points: Sequence[KillPoint] = ()
) -> dict[str, object]:
    """Run a campaign, SIGKILL it at a random point ``kills`` times, re-run it to the end, then resend.

    ``points`` (one per kill) say when to kill instead of a random count of messages sent. Returns what
    was measured: the store's counts and the in-doubt count after each kill, and duplicates before and
    after ``--resend-maybe`` (accepted submit_sm less distinct numbers, from the simulator's own counters).
    """
    import random

    rng = random.Random(seed)
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "phone,name\n" + "".join(f"+7701{i:07d},P{i}\n" for i in range(recipients)), encoding="utf-8"
    )
    store = tmp_path / "store.db"
    sim = SmscProcess(tmp_path)
    via = f"smpp://u:p@127.0.0.1:{sim.port}?window={WINDOW}&binds={BINDS}"
    cmd = [
        sys.executable, "-m", "msgbridge", "--store", str(store), "campaign", "run", "--via", via,
        "--csv", str(csv_file), "--template", "Hello {name}", "--name", "kill-smpp",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    after_kill: list[int] = []
    killed_at: list[dict[str, int]] = []
    try:
        for k in range(kills):
            before = statuses(store) if store.exists() else {}
            done_before = sum(n for s, n in before.items() if s != "QUEUED")
            left = recipients - done_before
            target = done_before + rng.randint(max(1, left // 40), max(2, left // 8))

            def sent_enough(counts: dict[str, int], target: int = target) -> bool:
                return sum(n for s, n in counts.items() if s != "QUEUED") >= target

            due = points[k] if k < len(points) else sent_enough
            run = subprocess.Popen(
                [*cmd, "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            deadline = time.monotonic() + 120
            while True:
                assert run.poll() is None, f"run ended before the kill: {run.stderr.read()!r}"  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "no progress within 120 s"
                if store.exists() and due(statuses(store)):
                    break
                time.sleep(0.002)
            run.send_signal(signal.SIGKILL)
            run.communicate(timeout=30)
            killed_at.append(statuses(store))
            after_kill.append(killed_at[-1].get("MAYBE_SUBMITTED", 0))
        rerun = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=300)
        final = json.loads(rerun.stdout)["counts"]
        # exit 3 while the campaign still has messages in doubt (docs/reliability.md#exit-codes)
        assert rerun.returncode == (3 if final.get("MAYBE_SUBMITTED") else 0), rerun.stderr
        mid = sim.counters()
        resend = subprocess.run(
            [*cmd, "--json", "--resend-maybe"], env=env, capture_output=True, text=True, timeout=300
        )
        assert resend.returncode == 0, resend.stderr
        resent = json.loads(resend.stdout)["counts"]
    finally:
        end = sim.stop()
    return {
        "killed_at": killed_at,
        "in_doubt_after_kill": after_kill,
        "in_doubt_after_rerun": final.get("MAYBE_SUBMITTED", 0),
        "counts_after_rerun": final,
        "duplicates_after_rerun": mid["submit_sm_ok"] - mid["destinations"],
        "counts_after_resend": resent,
        "duplicates_after_resend": end["submit_sm_ok"] - end["destinations"],
        "destinations": end["destinations"],
    }


def check_kill_resume(result: dict[str, object], kills: int, recipients: int) -> None:
    after_kill = result["in_doubt_after_kill"]
    assert isinstance(after_kill, list) and len(after_kill) == kills
    # MAYBE_SUBMITTED left by earlier kills stays so (never resent without --resend-maybe): each kill adds
    # at most the windows in flight plus one write group.
    added = [b - a for a, b in zip([0, *after_kill], after_kill, strict=False)]
    assert all(n <= IN_DOUBT_BOUND for n in added), result
    counts = result["counts_after_rerun"]
    assert isinstance(counts, dict) and counts.get("QUEUED", 0) == 0, result
    in_doubt = result["in_doubt_after_rerun"]
    assert isinstance(in_doubt, int) and in_doubt <= IN_DOUBT_BOUND * kills, result
    assert result["duplicates_after_rerun"] == 0, result
    resent = result["counts_after_resend"]
    assert isinstance(resent, dict) and resent.get("MAYBE_SUBMITTED", 0) == 0, result
    assert sum(resent.values()) == recipients
    assert result["destinations"] == recipients  # everyone got it
    assert 0 <= float(result["duplicates_after_resend"]) <= in_doubt, result  # type: ignore[arg-type]


def test_sigkill_of_an_smpp_campaign_leaves_only_what_may_have_been_written_in_doubt(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(2), "big")
    result = kill_resume_smpp(tmp_path, kills=2, recipients=10_000, seed=seed)
    print(f"seed={seed} {json.dumps(result)}")
    check_kill_resume(result, kills=2, recipients=10_000)


@pytest.mark.slow  # 40 s here; `make test-slow`
def test_sigkill_while_preparing_then_while_sending_a_100k_campaign(tmp_path: Path) -> None:
    """Preparation streams while sending: killed with part of the file queued (twice: as soon as sending has
    begun, then once 10,000 more are sent), then once every row is queued and sending goes on."""
    recipients = 100_000
    sent_at_first_kill: list[int] = []

    def done(counts: dict[str, int]) -> int:
        return sum(n for s, n in counts.items() if s != "QUEUED")

    def preparing(counts: dict[str, int]) -> bool:
        if sum(counts.values()) >= 10_000 and done(counts) > 0:
            sent_at_first_kill.append(done(counts))
            return True
        return False

    def sending(counts: dict[str, int]) -> bool:
        return done(counts) >= sent_at_first_kill[0] + 10_000

    def all_queued(counts: dict[str, int]) -> bool:
        return sum(counts.values()) == recipients

    seed = int.from_bytes(os.urandom(2), "big")
    result = kill_resume_smpp(
        tmp_path, kills=3, recipients=recipients, seed=seed, points=[preparing, sending, all_queued]
    )
    print(f"seed={seed} {json.dumps(result)}")
    killed_at = result["killed_at"]
    assert isinstance(killed_at, list)
    # The first two kills came while the file was still being read and sending had begun; the third with
    # every row queued and some not yet sent.
    assert all(sum(k.values()) < recipients and done(k) > 0 for k in killed_at[:2]), killed_at
    assert sum(killed_at[2].values()) == recipients and killed_at[2].get("QUEUED", 0) > 0, killed_at
    check_kill_resume(result, kills=3, recipients=recipients)


@pytest.mark.slow
def test_ten_sigkills_of_an_smpp_campaign(tmp_path: Path) -> None:
    seed = int(os.environ.get("MSGBRIDGE_KILL_SEED", "0")) or int.from_bytes(os.urandom(2), "big")
    result = kill_resume_smpp(tmp_path, kills=10, recipients=10_000, seed=seed)
    print(f"seed={seed} {json.dumps(result)}")
    check_kill_resume(result, kills=10, recipients=10_000)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_stops_claiming_waits_for_the_window_and_gives_back_the_rest(
    tmp_path: Path, sig: signal.Signals
) -> None:
    recipients = 300
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "phone,name\n" + "".join(f"+7701{i:07d},P{i}\n" for i in range(recipients)), encoding="utf-8"
    )
    store = tmp_path / "store.db"
    sim = SmscProcess(tmp_path, "--latency-ms", "50")
    via = f"smpp://u:p@127.0.0.1:{sim.port}?window=5"
    cmd = [
        sys.executable, "-m", "msgbridge", "--store", str(store), "campaign", "run", "--via", via,
        "--csv", str(csv_file), "--template", "Hello {name}", "--name", "ctrl-c", "--json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        run = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        # sent and answered (DELIVERED once its receipt is stored, within milliseconds of its arrival)
        while not store.exists() or sum(statuses(store).get(s, 0) for s in ("SUBMITTED", "DELIVERED")) < 50:
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "no progress within 60 s"
            time.sleep(0.01)
        run.send_signal(sig)
        out, err = run.communicate(timeout=60)
        seen = sim.counters()
        counts = statuses(store)
        assert run.returncode == 130, err  # interrupted, with the summary
        report = json.loads(out)
        assert report["dispatch"]["interrupted"] is True
        # what was written was answered before the exit; what was not went back to the queue
        assert counts.get("MAYBE_SUBMITTED", 0) == 0, counts
        assert counts.get("SUBMITTED", 0) + counts.get("DELIVERED", 0) == seen["submit_sm_ok"]
        assert counts.get("QUEUED", 0) == recipients - seen["submit_sm_ok"] > 0
        with sqlite3.connect(store) as db:
            assert db.execute("SELECT COUNT(*) FROM messages WHERE claimed_by IS NOT NULL").fetchone() == (0,)
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert set(json.loads(again.stdout)["counts"]) <= {"SUBMITTED", "DELIVERED"}
    finally:
        end = sim.stop()
    assert end["submit_sm_ok"] == end["destinations"] == recipients  # resumed, nothing twice


def test_resend_maybe_while_another_run_is_live_sends_nothing_twice(tmp_path: Path) -> None:
    recipients = 300
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "phone,name\n" + "".join(f"+7701{i:07d},P{i}\n" for i in range(recipients)), encoding="utf-8"
    )
    store = tmp_path / "store.db"
    # 300 messages at window 5 and 100 ms take the first run 6 s: long enough that it is still live when
    # the second has started, even on a machine whose other work slows the second one's start-up.
    sim = SmscProcess(tmp_path, "--latency-ms", "100")
    cmd = [
        sys.executable, "-m", "msgbridge", "--store", str(store), "campaign", "run",
        "--via", f"smpp://u:p@127.0.0.1:{sim.port}?window=5", "--csv", str(csv_file),
        "--template", "Hello {name}", "--name", "live", "--json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while sim.counters()["submit_sm"] < 20:  # the first run is sending
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "no progress within 60 s"
            time.sleep(0.01)
        second = subprocess.run(
            [*cmd, "--resend-maybe"], env=env, capture_output=True, text=True, timeout=120
        )
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
        # 3 when it ended while the live run still had PDUs in flight: those count as in doubt for the campaign
        assert second.returncode in (0, 3), second.stderr
        assert json.loads(second.stdout)["dispatch"]["resent_maybe"] == 0
        assert "in flight in another run that is still live" in second.stderr
        assert "earlier run" not in second.stderr
    finally:
        end = sim.stop()
    assert end["submit_sm_ok"] == end["destinations"] == recipients  # nobody got it twice
    assert set(statuses(store)) <= {"SUBMITTED", "DELIVERED"}


def test_sigkill_with_receipts_pending_loses_none_of_them(tmp_path: Path) -> None:
    """Killed 1.2 s after the last submit, receipts 1.5 s behind: the next run gets every receipt the SMSC has.

    Receipts reach the killed run until the kill; the ones it had not stored yet were not acknowledged, so the
    SMSC keeps them (and those due after the kill) for the next bind, as real SMSCs do.
    """
    recipients = 1500
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "phone,name\n" + "".join(f"+7701{i:07d},P{i}\n" for i in range(recipients)), encoding="utf-8"
    )
    store = tmp_path / "store.db"
    # A window of 5 answered after 5 ms: about 1,000 submits a second, so receipts come in a steady stream.
    sim = SmscProcess(tmp_path, "--dlr-delay-ms", "1500", "--latency-ms", "5")
    cmd = [
        sys.executable, "-m", "msgbridge", "--store", str(store), "campaign", "run",
        "--via", f"smpp://u:p@127.0.0.1:{sim.port}?window=5", "--csv", str(csv_file),
        "--template", "Hello {name}", "--name", "receipts", "--wait-receipts", "60",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        run = subprocess.Popen([*cmd, "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while sim.counters()["submit_sm_ok"] < recipients:
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the campaign was not sent within 120 s"
            time.sleep(0.01)
        time.sleep(1.2)  # receipts for all but the last 0.3 s of sending have come in; the rest are due
        assert run.poll() is None, "the run ended before the kill"
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=30)
        seen = sim.counters()
        assert 0 < seen["receipts_sent"], seen  # some receipts reached the killed run
        before = statuses(store)
        assert before.get("DELIVERED", 0) < recipients, before  # and not all of them were stored
        again = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        counts = json.loads(again.stdout)["counts"]
    finally:
        end = sim.stop()
    # Nothing stays SUBMITTED forever: every receipt the SMSC sent was stored by one run or the other.
    assert counts == {"DELIVERED": recipients}, (before, counts, end)
    assert statuses(store) == {"DELIVERED": recipients}
    assert end["submit_sm_ok"] == end["destinations"] == recipients
