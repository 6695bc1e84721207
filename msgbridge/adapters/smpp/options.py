"""The ``smpp://`` URL options, declared once: parsing, checks, help and the README table come from here."""

from __future__ import annotations

from dataclasses import dataclass

from msgbridge.adapters.smpp.operations import CODINGS, LONG_MODES
from msgbridge.adapters.smpp.receipts import IdBase
from msgbridge.core import options as opt
from msgbridge.core.errors import ConfigError
from msgbridge.core.options import OptionSet, OptionValues
from msgbridge.core.url import TransportURL

MODES = ("trx", "tx+rx", "tx")


@dataclass(frozen=True)
class SmppOptions:
    binds: int = 1
    window: int = 10
    tps: float = 0.0
    system_type: str = ""
    service_type: str = ""
    dlr: bool = True
    long: str = "udh8"
    coding: str = "auto"
    mode: str = "trx"
    id_base: IdBase = IdBase.AUTO
    source: str = ""
    enquire_interval: float = 30.0
    response_timeout: float = 30.0
    bind_timeout: float = 10.0
    throttle_pause: float = 1.0
    max_resend: int = 20
    reconnect_wait: float = 30.0  # how long send() waits for a lost bind to come back
    receipt_park: float = 10.0
    receipt_index: int = 500_000  # recent segment ids kept in memory (the store keeps them all)
    mo_timeout: float = 1800.0
    default_coding: str = "gsm7"  # what data_coding 0 means on this link for MO
    mo: str = "listen"  # listen: take MO only while inbound() is being read; always: take and queue it
    queue_size: int = 1_000_000

    @classmethod
    def from_url(cls, url: TransportURL) -> SmppOptions:
        return cls.from_values(SMPP_OPTIONS.read(url))

    @classmethod
    def from_values(cls, o: OptionValues) -> SmppOptions:
        return cls(
            binds=o.get_int("binds"),
            window=o.get_int("window"),
            tps=o.get_float("tps"),
            system_type=o.get_str("system_type"),
            service_type=o.get_str("service_type"),
            dlr=o.get_bool("dlr"),
            long=o.get_str("long"),
            coding=o.get_str("coding"),
            mode=o.get_str("mode"),
            id_base=IdBase(o.get_str("id_base")),
            source=o.get_str("from"),
            enquire_interval=o.get_float("enquire_link"),
            response_timeout=o.get_float("timeout"),
            bind_timeout=o.get_float("bind_timeout"),
            throttle_pause=o.get_float("throttle_pause"),
            max_resend=o.get_int("max_resend"),
            reconnect_wait=o.get_float("reconnect_wait"),
            receipt_park=o.get_float("receipt_park"),
            receipt_index=o.get_int("receipt_index"),
            mo_timeout=o.get_float("mo_timeout"),
            default_coding="latin1" if o.get_str("dc0") == "latin1" else "gsm7",
            mo=o.get_str("mo"),
        )


# SMPP 3.4 §4.1.1 (bind_transmitter): system_id "Var. max 16", password "Var. max 9", system_type
# "Var. max 13", all C-Octet Strings; §4.4.1 (submit_sm): service_type "Var. max 6". §3.1: "C-Octet String:
# A series of ASCII characters terminated with the NULL character"; the maximum includes the NUL.
C_OCTET_SIZES: dict[str, int] = {"system_id": 16, "password": 9, "system_type": 13, "service_type": 6}
ASCII_TEXT = r"[\x20-\x7e]*"  # printable ASCII: what a C-Octet String may hold
HOUR = 3600.0
SMPP_OPTIONS = OptionSet(
    opt.integer(
        "binds",
        1,
        1,
        64,
        "connections (binds) to open; messages are spread round-robin over the binds that are up (a "
        "reconnecting bind gets work only when none is up), all segments of one message on one bind, in order",
    ),
    opt.choice(
        "mode",
        "trx",
        MODES,
        "`trx`: bind_transceiver; `tx+rx`: a bind_transmitter and a bind_receiver per bind; `tx`: transmitter "
        "only (no receipts or MO here)",
    ),
    opt.integer("window", 10, 1, 10_000, "submit_sm in flight per bind"),
    opt.number(
        "tps",
        0.0,
        0,
        1_000_000,
        "submit_sm per second for the whole transport, shared by all binds (token bucket); 0: no cap",
    ),
    opt.text(
        "system_type",
        "",
        "sent in the bind (ASCII: a C-Octet String of 13 octets with its NUL)",
        pattern=ASCII_TEXT,
        max_length=C_OCTET_SIZES["system_type"] - 1,
    ),
    opt.text(
        "service_type",
        "",
        "sent in every submit_sm (ASCII: a C-Octet String of 6 octets with its NUL)",
        pattern=ASCII_TEXT,
        max_length=C_OCTET_SIZES["service_type"] - 1,
    ),
    opt.text("from", "", "default sender when a message has none", aliases=("source",), max_length=64),
    opt.flag("dlr", True, "request receipts (`registered_delivery=1`, final outcome)"),
    opt.choice(
        "long",
        "udh8",
        LONG_MODES,
        "long messages: `udh8` (8-bit reference UDH, 153/134/67 per segment), `udh16` (16-bit reference, "
        "152/133/66), `sar` (SAR TLVs, the SMSC builds the UDH), `payload` (one submit_sm with `message_payload`)",
    ),
    opt.choice(
        "coding",
        "auto",
        CODINGS,
        "`auto`: GSM-7 (data_coding 0, unpacked) if every character is in GSM 03.38, else UCS-2 (8); `gsm`: "
        "GSM-7 only, other text refused (INVALID_ARGUMENT); `latin1`: Latin-1 (3) where possible, else UCS-2; "
        "`ucs2`: always UCS-2",
    ),
    opt.choice("dc0", "gsm", ("gsm", "latin1"), "what data_coding 0 means in MO from this SMSC"),
    opt.choice(
        "id_base",
        IdBase.AUTO.value,
        tuple(b.value for b in IdBase),
        "how receipts spell ids, see [Correlation](#correlation)",
    ),
    opt.number("enquire_link", 30.0, 0.05, HOUR, "seconds of silence before an enquire_link"),
    opt.number(
        "timeout", 30.0, 0.01, HOUR, "seconds to wait for a response (submit_sm_resp, enquire_link_resp)"
    ),
    opt.number("bind_timeout", 10.0, 0.01, HOUR, "seconds to wait for a bind response"),
    opt.number(
        "throttle_pause",
        1.0,
        0.001,
        60,
        "first pause after ESME_RTHROTTLED / ESME_RMSGQFUL, doubling to 30 s",
    ),
    opt.integer(
        "max_resend",
        20,
        0,
        1000,
        "resends of one throttled PDU before it is returned as THROTTLED (retryable)",
    ),
    opt.number(
        "reconnect_wait",
        30.0,
        0,
        24 * HOUR,
        "how long a send waits for a lost bind to come back before its unsent messages fail NETWORK_ERROR "
        "(retryable, never sent)",
    ),
    opt.number(
        "receipt_park", 10.0, 0, HOUR, "seconds a receipt for an unknown id waits for its submit_sm_resp"
    ),
    opt.integer(
        "receipt_index",
        500_000,
        1,
        100_000_000,
        "recent segment ids kept in memory to name a receipt's message (about 180 bytes each); older ones are "
        "matched by the store alone",
    ),
    opt.number(
        "mo_timeout",
        1800.0,
        1,
        7 * 24 * HOUR,
        "seconds before an incomplete concatenated MO is delivered as it is (marked incomplete)",
    ),
    opt.choice(
        "mo",
        "listen",
        ("listen", "always"),
        "`listen`: acknowledge MO only while something reads `inbound()`, otherwise answer ESME_RX_T_APPN so the "
        "SMSC keeps it and delivers it again later; `always`: acknowledge and queue it in memory",
    ),
)


def check_c_octet_string(name: str, value: str) -> None:
    """Refuse, at URL parse time, a bind or submit field the codec could not encode.

    Such a value used to reach the codec inside the session, where the error
    left the first bind unresolved and the command hung. The message names the
    field and its limit, never the value (the password is one of them).
    """
    size = C_OCTET_SIZES[name]
    if not value.isascii() or "\x00" in value:
        raise ConfigError(
            f"smpp:// {name} must be ASCII without NUL characters (SMPP 3.4: a C-Octet String is ASCII)"
        )
    if len(value) > size - 1:
        raise ConfigError(
            f"smpp:// {name} is {len(value)} characters; SMPP 3.4 allows at most {size - 1} "
            f"(a C-Octet String of {size} octets with its NUL)"
        )
