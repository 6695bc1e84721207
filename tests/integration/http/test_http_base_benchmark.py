"""Smoke test of benchmarks/http_requests.py with tiny sizes: it runs and counts requests from the emulators."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "http_requests.py"


def test_benchmark_smoke(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("http_requests_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    rows = module.main(["--size", "160", "--baseline-size", "20", "--providers", "selzy,bsg"])
    got = {(r.provider, r.approach): (r.messages, r.requests, r.ok) for r in rows}
    polls = {(r.provider, r.approach): (r.status_requests, r.final) for r in rows}
    assert polls[("selzy", "send() batched")] == (160, 160)  # checkSms: one id per call
    assert polls[("selzy", "campaign API")] == (1, 160)  # one getCampaignDeliveryStats
    assert polls[("bsg", "send() batched")] == (1, 160)  # one page of messages, all final
    assert polls[("bsg", "per-message (baseline)")] == (20, 20)  # one campaign per message
    assert got[("selzy", "per-message (baseline)")] == (20, 20, 20)
    assert got[("selzy", "send() batched")] == (160, 2, 160)  # 150 + 10
    # getLists, createList, importContacts, createSmsMessage, createCampaign
    assert got[("selzy", "campaign API")] == (160, 5, 160)
    assert got[("bsg", "per-message (baseline)")] == (20, 21, 20)  # one login
    assert got[("bsg", "send() batched")] == (160, 2, 160)  # login + one campaign
    out = capsys.readouterr().out
    assert "fewer requests" in out and "speed vs baseline" in out
