"""The campaign plan: the run's verdicts on rows, then routes, transports, countries, prices, encodings."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from msgbridge.core.encoding import Encoding
from msgbridge.core.encodingreport import EncodingTally, explain
from msgbridge.core.errors import ConfigError
from msgbridge.core.message import Message
from msgbridge.dispatch.plan import Decisions, GroupTally, PlanVia, plan_campaign, plan_via
from msgbridge.dispatch.run import RunRequest
from msgbridge.routing.config import RoutingConfig, read_routing
from msgbridge.routing.prices import Price

TRANSPORTS = ["kz_smsc", "intl", "backup"]
CONFIG: dict[str, object] = {
    "routes": [
        {"name": "kz", "countries": ["KZ"], "transports": ["kz_smsc", "intl"]},
        {"name": "default", "transports": ["intl", "backup"], "strategy": "cheapest"},
    ],
    "prices": {
        "kz_smsc": {"currency": "KZT", "7700": 9.5, "KZ": 11},
        "intl": {"currency": "EUR", "7": 0.03, "49": 0.075},
        "backup": {"currency": "EUR", "7": 0.025, "GB": 0.04},
    },
}
LONG = "ваша посылка готова к выдаче в пункте на улице Абая, с девяти до девяти"  # 71 letters: 2 UCS-2
ROWS = [
    ("+77011234567", "Анна"),  # line 2: KZ, 11 KZT, UCS-2 by Cyrillic
    ("+77001234567", "‘Bob’"),  # line 3: KZ, 9.5 KZT, UCS-2 by the quotes
    ("+491701234567", "Zoe"),  # line 4: DE, intl (backup has no price: cheapest puts it last), GSM-7
    ("+447400123456", "Sam"),  # line 5: GB, backup 0.04 (intl has none), GSM-7
    ("not-a-phone", "Bad"),  # line 6: skipped
    ("+77011234567", "Dup"),  # line 7: a repeat of line 2
    ("+79161234567", LONG),  # line 8: RU, backup 0.025 (cheaper than intl's 0.03), 2 UCS-2 segments
]


def routing() -> RoutingConfig:
    return read_routing(CONFIG, base=Path("."), transports=TRANSPORTS)


def people(path: Path, rows: list[tuple[str, str]] = ROWS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["phone", "name"])
        out.writerows(rows)
    return path


def request(path: Path, **kw: object) -> RunRequest:
    return RunRequest(name="promo", template="Hi {name}", csv_path=str(path), transport_label=None, **kw)  # type: ignore[arg-type]


def test_groups_prices_and_bad_rows(tmp_path: Path) -> None:
    plan = plan_campaign(request(people(tmp_path / "r.csv")), plan_via("auto", routing(), TRANSPORTS))
    report = plan.report
    assert (report.rows, report.queued, report.skipped, report.repeated) == (7, 5, 1, 1)
    assert [p.line for p in report.problems] == [6]
    assert [(r.line, r.first_line) for r in report.repeats] == [(7, 2)]
    assert plan.groups == {
        ("kz", "kz_smsc", "KZ"): GroupTally(2, 2, Counter({"KZT": 20_500_000})),
        ("default", "intl", "DE"): GroupTally(1, 1, Counter({"EUR": 75_000})),
        ("default", "backup", "GB"): GroupTally(1, 1, Counter({"EUR": 40_000})),
        ("default", "backup", "RU"): GroupTally(1, 2, Counter({"EUR": 50_000})),
    }
    assert plan.price == {"KZT": 20_500_000, "EUR": 165_000}
    assert (report.segments, plan.unpriced, plan.unrouted) == (6, 0, 0)
    enc = plan.encodings
    assert enc.messages == {Encoding.UCS2: 3, Encoding.GSM7: 2}
    assert enc.segments == {Encoding.UCS2: 4, Encoding.GSM7: 2}
    assert enc.chars["‘"].rows == 1 and enc.chars["‘"].alone == 0  # ’ forces it too
    assert enc.chars["а"].rows == 2  # Анна and the long text


def test_transliteration_saving_is_priced_per_recipient(tmp_path: Path) -> None:
    plan = plan_campaign(
        request(people(tmp_path / "r.csv")), plan_via("auto", routing(), TRANSPORTS), transliterate=True
    )
    enc = plan.encodings
    assert (enc.transliterated_rows, enc.transliterated_to_gsm) == (3, 3)
    assert enc.transliterated_segments == 5  # the long text: 2 UCS-2 segments, 1 GSM-7 one
    assert plan.saving == {"EUR": 25_000}  # one segment on backup's +7 price
    assert plan.to_json()["transliterated"]["saving"] == ["0.025 EUR"]  # type: ignore[index]


def test_route_by_name_and_plain_transports(tmp_path: Path) -> None:
    path = people(tmp_path / "r.csv")
    named = plan_campaign(request(path), plan_via("route:kz", routing(), TRANSPORTS))
    assert {k[:2] for k in named.groups} == {("kz", "kz_smsc")}
    assert named.price == {"KZT": 20_500_000} and named.unpriced == 3  # kz_smsc prices only KZ numbers
    plain = plan_campaign(request(path), plan_via("intl", routing(), TRANSPORTS))
    assert {k[:2] for k in plain.groups} == {("", "intl")}
    assert plain.price == {"EUR": 75_000 + 4 * 30_000} and plain.unpriced == 1  # GB has no intl price
    url = plan_campaign(request(path), plan_via("smpp://u:secret@smsc.example:2775", routing(), TRANSPORTS))
    assert {k[:2] for k in url.groups} == {("", "smpp://smsc.example:2775")}
    assert url.price == {} and url.unpriced == 5
    bare = plan_campaign(request(path), plan_via(None, RoutingConfig(), []))
    assert {k[:2] for k in bare.groups} == {("", "")} and bare.via == ""


def test_unrouted_messages_are_counted(tmp_path: Path) -> None:
    only_kz = read_routing(
        {"routes": [{"name": "kz", "countries": ["KZ"], "transports": ["kz_smsc"]}]},
        base=Path("."),
        transports=TRANSPORTS,
    )
    plan = plan_campaign(request(people(tmp_path / "r.csv")), plan_via("auto", only_kz, TRANSPORTS))
    assert plan.unrouted == 3
    assert plan.groups[("", "", "DE")].messages == 1


def test_plan_via_refusals() -> None:
    with pytest.raises(ConfigError, match="unknown route 'nope'"):
        plan_via("route:nope", routing(), TRANSPORTS)
    with pytest.raises(ConfigError, match="unknown transport name 'sms'"):
        plan_via("sms", routing(), TRANSPORTS)
    with pytest.raises(ConfigError, match="needs routes"):
        plan_via("auto", RoutingConfig(), TRANSPORTS)
    assert plan_via(None, routing(), TRANSPORTS).auto


@pytest.fixture
def decided(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The numbers ``Decisions`` routed and priced itself (not from its memo), in order."""
    numbers: list[str] = []
    original_decide = Decisions._decide

    def counted(self: Decisions, message: Message) -> tuple[str, str, Price | None]:
        numbers.append(message.to)
        return original_decide(self, message)

    monkeypatch.setattr(Decisions, "_decide", counted)
    return numbers


def test_remembered_decisions_are_the_decisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decided: list[str]
) -> None:
    rows = [(f"+7701{i:07d}", "x") for i in range(300)] + [(f"+7700{i:07d}", "y") for i in range(300)]
    rows += [(f"+49151{i:08d}", "z") for i in range(300)] + [(f"+7916{i:07d}", "w") for i in range(300)]
    path = people(tmp_path / "many.csv", rows)
    via = plan_via("auto", routing(), TRANSPORTS)
    assert Decisions(via).digits == 4
    remembered = plan_campaign(request(path), via).to_json()
    assert len(decided) == 4  # 7701/KZ, 7700/KZ, 4915/DE, 7916/RU
    original_init = Decisions.__init__

    def without_memo(self: Decisions, v: PlanVia) -> None:
        original_init(self, v)
        self.digits = None

    monkeypatch.setattr(Decisions, "__init__", without_memo)
    each = plan_campaign(request(path), via).to_json()
    assert len(decided) == 4 + 1200
    for plan in (remembered, each):
        plan.pop("prepare_seconds")
    assert remembered == each


def test_a_runs_remembered_prices_are_the_prices(decided: list[str]) -> None:
    # What campaign run records per message (RunRequest.price) through the memo is what routing and
    # pricing each message anew gives, decided once per (leading digits, country).
    phones = [f"+7701{i:07d}" for i in range(50)] + [f"+7700{i:07d}" for i in range(50)]
    phones += [f"+49151{i:08d}" for i in range(50)] + [f"+7916{i:07d}" for i in range(50)]
    messages = [Message(to=p, text="x", campaign="c") for p in phones]
    via = plan_via("auto", routing(), TRANSPORTS)
    memo = Decisions(via)
    assert [memo.expected_price(m, 2) for m in messages] == [via.expected_price(m, 2) for m in messages]
    assert len(decided) == 4 and any(memo.expected_price(m, 1) for m in messages)


def test_number_types_and_weights_are_decided_per_message() -> None:
    for extra in ({"number_types": ["mobile"]}, {"strategy": "weighted", "weights": [1, 1]}):
        config = read_routing(
            {"routes": [{"name": "r", "transports": ["intl", "backup"], **extra}]},
            base=Path("."),
            transports=TRANSPORTS,
        )
        assert Decisions(plan_via("auto", config, TRANSPORTS)).digits is None


def test_recipients_csv_has_a_row_per_message(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    with out.open("w", encoding="utf-8", newline="") as f:
        plan_campaign(request(people(tmp_path / "r.csv")), plan_via("auto", routing(), TRANSPORTS), recipients=f)
    with out.open(encoding="utf-8", newline="") as f:
        got = list(csv.reader(f))
    assert got == [
        ["line", "phone", "country", "route", "transport", "encoding", "segments", "price", "currency"],
        ["2", "+77011234567", "KZ", "kz", "kz_smsc", "ucs2", "1", "11.00", "KZT"],
        ["3", "+77001234567", "KZ", "kz", "kz_smsc", "ucs2", "1", "9.50", "KZT"],
        ["4", "+491701234567", "DE", "default", "intl", "gsm7", "1", "0.075", "EUR"],
        ["5", "+447400123456", "GB", "default", "backup", "gsm7", "1", "0.04", "EUR"],
        ["8", "+79161234567", "RU", "default", "backup", "ucs2", "2", "0.05", "EUR"],
    ]


def test_problems_file_as_the_run_writes_it(tmp_path: Path) -> None:
    problems = tmp_path / "problems.csv"
    plan_campaign(
        request(people(tmp_path / "r.csv"), problems_path=str(problems)), plan_via("auto", routing(), TRANSPORTS)
    )
    with problems.open(encoding="utf-8", newline="") as f:
        got = [(r["line"], r["kind"]) for r in csv.DictReader(f)]
    assert got == [("6", "skipped"), ("7", "repeated")]


def test_tally_folds_to_the_same_sums_in_any_grouping() -> None:
    texts = ["plain", "‘quoted’", "Привет", "Привет", "a" * 200, "Жук " * 30, "plain"] * 7
    one, many = EncodingTally(), EncodingTally()
    many.FOLD_AT = 1  # type: ignore[misc]
    for text in texts:
        one.add(explain(text))
        many.add(explain(text))
    assert many._pending == Counter() or len(many._pending) <= 2
    assert (one.messages, one.segments, one.chars) == (many.messages, many.segments, many.chars)
    assert one.transliterated_segments == many.transliterated_segments
    assert one.transliterated_to_gsm == many.transliterated_to_gsm == 4 * 7
