from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from msgbridge.adapters.base import registry
from msgbridge.adapters.memory import MemoryTransport
from msgbridge.cli.main import main
from msgbridge.core.message import Campaign, Message, SendResult
from msgbridge.core.status import DeliveryStatus


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, object]:
        return json.loads(self.out)  # type: ignore[no-any-return]


@pytest.fixture
def msgbridge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> object:
    """Run the real entry point in-process, with the store and config in a temp dir."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in __import__("os").environ if k.startswith("MSGBRIDGE_")]:
        monkeypatch.delenv(key)

    def run(*args: str) -> Run:
        monkeypatch.setattr(sys, "argv", ["msgbridge", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def write_csv(path: Path, rows: Sequence[str], header: str = "phone,name") -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


PEOPLE = [f"+7701{i:07d},P{i}" for i in range(20)]


def test_send_prints_ids_and_status(msgbridge) -> None:  # type: ignore[no-untyped-def]
    r = msgbridge(
        "send", "--via", "memory://?dlr_delay_ms=1", "--to", "+77011234567", "--text", "hi", "--wait", "5"
    )
    assert r.code == 0, r.err
    lines = dict(
        line.split(None, 1) if " " in line else (line, "")
        for line in r.out.replace("native id", "native_id").splitlines()
    )
    assert lines["status"].strip() == "DELIVERED" and lines["native_id"].strip() != "-"
    rec = msgbridge("status", lines["id"].strip(), "--json").json()
    assert rec["status"] == "DELIVERED" and rec["to"] == "+77011234567"
    assert [h["status"] for h in rec["history"]] == ["QUEUED", "SUBMITTED", "DELIVERED"]


def test_send_refused_exits_with_the_error_code_name(msgbridge) -> None:  # type: ignore[no-untyped-def]
    r = msgbridge(
        "send", "--via", "memory://?fail=%2B77011234567", "--to", "+77011234567", "--text", "hi", "--json"
    )
    assert r.code == 1
    assert r.err.strip() == "error: INVALID_DESTINATION"
    assert r.json()["status"] == "REJECTED" and r.json()["ok"] is False


def test_send_same_reference_is_not_sent_twice(msgbridge) -> None:  # type: ignore[no-untyped-def]
    first = msgbridge(
        "send", "--via", "memory://", "--to", "+77011234567", "--text", "hi", "--reference", "r1", "--json"
    )
    second = msgbridge(
        "send", "--via", "memory://", "--to", "+77011234567", "--text", "hi", "--reference", "r1", "--json"
    )
    assert first.json()["id"] == second.json()["id"]
    assert [h["status"] for h in second.json()["history"]] == ["QUEUED", "SUBMITTED"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["send", "--via", "memory://", "--to", "12", "--text", "x"],
            "error: INVALID_DESTINATION: invalid phone number '12'",
        ),
        (
            ["send", "--via", "nosuch://h", "--to", "+77011234567", "--text", "x"],
            "unknown transport scheme 'nosuch'; known: ",
        ),
        (
            ["send", "--via", "prod", "--to", "+77011234567", "--text", "x"],
            "unknown transport name 'prod' (configured: none",
        ),
        (["status", "nope"], "no store at msgbridge.db"),
        (
            [
                "--store",
                "/proc/nope/x.db",
                "send",
                "--via",
                "memory://",
                "--to",
                "+77011234567",
                "--text",
                "x",
            ],
            "/proc/nope",
        ),
        (
            ["--store", ".", "send", "--via", "memory://", "--to", "+77011234567", "--text", "x"],
            "store error: unable to open",
        ),
        (
            ["send", "--via", "memory://?fail_code=NOPE", "--to", "+77011234567", "--text", "x"],
            "fail_code='NOPE' is not an ErrorCode",
        ),
    ],
)
def test_bad_input_is_one_line_and_non_zero(msgbridge, args: list[str], expected: str) -> None:  # type: ignore[no-untyped-def]
    r = msgbridge(*args)
    assert r.code != 0
    assert expected in r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def test_unknown_scheme_lists_known_ones(msgbridge) -> None:  # type: ignore[no-untyped-def]
    r = msgbridge("send", "--via", "nosuch://h", "--to", "+77011234567", "--text", "x")
    for scheme in ("memory", "smpp", "selzy", "bsg", "smsc", "mobizon", "smtp"):
        assert scheme in r.err


def test_via_name_from_config_file_and_env(
    msgbridge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "msgbridge.toml").write_text(
        '[store]\npath = "other.db"\n[transports]\nfake = "memory://?fail=%2B77011234567"\n', encoding="utf-8"
    )
    r = msgbridge("send", "--via", "fake", "--to", "+77011234567", "--text", "x")
    assert r.code == 1 and (tmp_path / "other.db").exists()
    monkeypatch.setenv("MSGBRIDGE_TRANSPORT_FAKE", "memory://")
    assert msgbridge("send", "--via", "FAKE", "--to", "+77011234567", "--text", "x").code == 0


def test_campaign_run_skips_bad_rows_with_line_numbers_and_resumes(msgbridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = write_csv(tmp_path / "c.csv", [*PEOPLE[:5], "12,Bad", "+77010000009", *PEOPLE[5:10]])
    args = [
        "campaign",
        "run",
        "--via",
        "memory://?dlr_delay_ms=1",
        "--csv",
        str(csv_file),
        "--template",
        "Hi {name}",
    ]
    r = msgbridge(*args, "--json", "--wait-receipts", "5")
    assert r.code == 0, r.err
    report = r.json()
    assert report["campaign"] == "c" and report["rows"] == 12 and report["queued"] == 10
    skipped = {s["line"]: s["code"] for s in report["skipped"]}  # type: ignore[union-attr]
    assert skipped == {7: "INVALID_DESTINATION", 8: "INVALID_ARGUMENT"}
    assert report["counts"] == {"DELIVERED": 10}
    again = msgbridge(*args, "--json").json()
    assert again["queued"] == 0 and again["already_queued"] == 10 and again["dispatch"]["claimed"] == 0  # type: ignore[index]
    human = msgbridge(*args)
    assert "DELIVERED" in human.out and "skipped line 7: invalid phone number '12'" in human.err
    status = msgbridge("campaign", "status", "c", "--json").json()
    assert status["counts"] == {"DELIVERED": 10} and status["template"] == "Hi {name}"


def test_campaign_strict_stops_before_sending(msgbridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = write_csv(tmp_path / "s.csv", [*PEOPLE[:3], "12,Bad"])
    r = msgbridge(
        "campaign", "run", "--via", "memory://", "--csv", str(csv_file), "--template", "Hi {name}", "--strict"
    )
    assert r.code == 2 and "line 5" in r.err and "not started" in r.err
    assert "no campaign named 's'" in msgbridge("campaign", "status", "s").err


def test_campaign_csv_errors(msgbridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = ["campaign", "run", "--via", "memory://", "--template", "Hi"]
    missing = msgbridge(*base, "--csv", str(tmp_path / "none.csv"))
    assert missing.code == 2 and "cannot read CSV" in missing.err and "no such file" in missing.err
    nophone = write_csv(tmp_path / "n.csv", ["1,2"], header="msisdn,name")
    r = msgbridge(*base, "--csv", str(nophone))
    assert r.code == 2 and "no 'phone' column; the header has 'msisdn', 'name'" in r.err
    assert msgbridge(*base, "--csv", str(nophone), "--phone-column", "MSISDN").code == 0
    cp1251 = tmp_path / "w.csv"
    cp1251.write_bytes("phone,name\n+77010000001,Алия\n".encode("cp1251"))
    r = msgbridge(*base, "--csv", str(cp1251))
    assert r.code == 2 and "line 2 is not valid utf-8-sig" in r.err
    assert msgbridge(*base, "--csv", str(cp1251), "--encoding", "cp1251").code == 0
    both = msgbridge(
        "campaign",
        "run",
        "--via",
        "memory://",
        "--csv",
        str(nophone),
        "--template",
        "x",
        "--template-file",
        "y",
    )
    assert both.code == 2 and "exactly one of --template" in both.err


def test_template_file_and_redacted_transport(msgbridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = write_csv(tmp_path / "t.csv", PEOPLE[:3])
    tpl = tmp_path / "tpl.txt"
    tpl.write_text("Dear {name}\n", encoding="utf-8")
    via = "memory://user:topsecret@host?dlr=no"
    r = msgbridge(
        "campaign", "run", "--via", via, "--csv", str(csv_file), "--template-file", str(tpl), "--json"
    )
    assert r.code == 0, r.err
    assert "topsecret" not in r.out + r.err and r.json()["transport"] == "memory://user:***@host?dlr=no"
    human = msgbridge("campaign", "status", "t")
    assert "topsecret" not in human.out and "memory://user:***@host" in human.out


class CampaignMemory(MemoryTransport):
    calls: list[tuple[str, int]] = []

    async def run_campaign(self, campaign: Campaign, recipients: Sequence[Message]) -> object:
        CampaignMemory.calls.append((campaign.name, len(recipients)))

        @dataclass
        class Result:
            results: list[SendResult]
            campaign_id: str = "77"
            status: str = "sent"

        return Result(await self.send(recipients))


def test_provider_mode_uses_the_campaign_hook(
    msgbridge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(registry._classes, "memcamp", CampaignMemory)
    CampaignMemory.calls.clear()
    csv_file = write_csv(tmp_path / "p.csv", PEOPLE[:7])
    args = [
        "campaign",
        "run",
        "--via",
        "memcamp://?dlr_delay_ms=1",
        "--csv",
        str(csv_file),
        "--template",
        "Hi",
        "--json",
    ]
    r = msgbridge(*args, "--mode", "provider", "--wait-receipts", "5")
    assert r.code == 0, r.err
    assert CampaignMemory.calls == [("p", 7)]
    assert r.json()["counts"] == {"DELIVERED": 7}
    # a transport without the hook is sent to message by message
    other = write_csv(tmp_path / "q.csv", PEOPLE[:2])
    r2 = msgbridge(
        "campaign",
        "run",
        "--via",
        "memory://?dlr_delay_ms=1",
        "--csv",
        str(other),
        "--template",
        "Hi",
        "--mode",
        "provider",
        "--wait-receipts",
        "5",
        "--json",
    )
    assert r2.code == 0 and r2.json()["counts"] == {"DELIVERED": 2}


def test_transports_lists_unavailable_schemes(msgbridge, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(registry._paths, "ghost", "msgbridge.adapters.ghost:GhostTransport")
    data = msgbridge("transports", "--json").json()
    assert data["memory"]["available"] is True  # type: ignore[index]
    assert data["memory"]["capabilities"]["dlr_push"] is True  # type: ignore[index]
    assert data["ghost"]["available"] is False  # type: ignore[index]
    human = msgbridge("transports").out
    assert "ghost" in human and "unavailable" in human


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("hello", "gsm7", 5, 1),
        ("€" * 81, "gsm7", 162, 2),
        ("Привет", "ucs2", 6, 1),
        ("x" * 161, "gsm7", 161, 2),
    ],
)
def test_text_info(msgbridge, text: str, encoding: str, units: int, segments: int) -> None:  # type: ignore[no-untyped-def]
    data = msgbridge("text", "info", text, "--json").json()
    assert (data["characters"], data["encoding"], data["units"], data["segments"]) == (
        len(text),
        encoding,
        units,
        segments,
    )
    assert "".join(data["parts"]) == text  # type: ignore[arg-type]
    human = msgbridge("text", "info", text).out
    assert f"segments    {segments}" in human


def test_status_unknown_message(msgbridge) -> None:  # type: ignore[no-untyped-def]
    msgbridge("send", "--via", "memory://", "--to", "+77011234567", "--text", "x")
    r = msgbridge("status", "nope")
    assert r.code == 2 and "no message with id or reference 'nope'" in r.err


def test_delivery_status_values_are_printed_as_names() -> None:
    assert str(DeliveryStatus.DELIVERED) == "DELIVERED"


def test_campaign_run_counts_what_earlier_runs_left_in_doubt(msgbridge, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = write_csv(tmp_path / "d.csv", PEOPLE[:10])
    args = ["campaign", "run", "--csv", str(csv_file), "--template", "Hi {name}"]
    first = msgbridge(*args, "--via", "memory://?lost_every=5&dlr=no", "--json")  # 2 answers lost: in doubt
    assert first.json()["counts"] == {"SUBMITTED": 8, "MAYBE_SUBMITTED": 2}
    again = msgbridge(*args, "--via", "memory://?dlr=no")
    # this run sent nothing and left nothing in doubt; the campaign still has 2, and the summary says so
    assert "0 in doubt" in again.out
    assert "2 messages in doubt in total (this run and earlier ones)" in again.out
