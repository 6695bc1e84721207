"""The fast phone checks give plain phonenumbers' verdict and E.164 on a corpus across all calling codes."""

from __future__ import annotations

import random
from pathlib import Path

import phonenumbers
import pytest

from msgbridge.core import phone
from msgbridge.core.errors import InvalidDestination
from msgbridge.core.phone import PhoneCheck, normalize

DEMO_CSV = Path(__file__).parents[3] / "msgbridge" / "demo" / "recipients.csv"


def reference(raw: str, region: str | None, check: PhoneCheck) -> str | None:
    """The level's definition written with plain phonenumbers calls (E.164, or None when refused)."""
    text = raw.strip()
    candidate = text
    if region is None and not text.startswith("+"):
        digits = "".join(ch for ch in text if ch.isdigit())
        candidate = "+" + (digits[2:] if text.startswith("00") else digits)
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if check is PhoneCheck.NONE:
        return e164 if len(e164) <= 16 else None
    if not phonenumbers.is_possible_number(parsed):
        return None
    if check is PhoneCheck.STRICT and not phonenumbers.is_valid_number(parsed):
        return None
    return e164


def corpus(n: int, seed: int) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    out: list[tuple[str, str | None]] = []
    while len(out) < n:
        pick = rng.random()
        region = rng.choice(regions)
        if pick < 0.35:  # a real example number, kept or with its last digits changed
            example = phonenumbers.example_number_for_type(region, rng.randrange(11))
            if example is None:
                continue
            text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            if rng.random() < 0.5:
                cut = rng.randint(1, 4)
                text = text[:-cut] + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, cut + 1)))
            out.append((text if rng.random() < 0.8 else text[1:], None))
        elif pick < 0.45:  # national or international spelling with a region
            example = phonenumbers.example_number(region)
            if example is None:
                continue
            fmt = rng.choice(
                [phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL]
            )
            out.append((phonenumbers.format_number(example, fmt), region))
        else:  # random digits after a calling code, any length
            code = rng.choice(codes)
            body = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 18)))
            out.append((f"+{code}{body}", rng.choice([None, None, region])))
    return out


def demo_rows() -> list[tuple[str, str | None]]:
    lines = DEMO_CSV.read_text(encoding="utf-8").splitlines()[1:]
    return [(line.split(",", 1)[0], None) for line in lines if line.strip()]


FIXED = [
    ("+77011234567", None),
    ("87011234567", "KZ"),
    ("+7 (701) 123-45-67", None),
    ("0077011234567", None),
    ("+44 020 7946 0958", None),  # a national prefix after the calling code: parse strips it
    ("+4402079460958", None),
    ("+1 650 253 0000", "US"),
    ("+13105550100", None),  # shared calling code: valid in one region only
    ("+80012345678", None),  # non-geographic
    ("+39 06 6982 1234", None),  # Italian leading zero
    ("+0123456", None),
    ("+999123456789", None),
    ("12", None),
    ("+1234567890123456789", None),
]


@pytest.mark.parametrize("check", list(PhoneCheck))
def test_same_verdict_and_e164_as_phonenumbers(check: PhoneCheck) -> None:
    phone._verdict.cache_clear()
    numbers = [*FIXED, *demo_rows(), *corpus(20_000, seed=12)]
    fast_answers = 0
    for raw, region in numbers:
        try:
            got: str | None = normalize(raw, region, check)
        except InvalidDestination:
            got = None
        assert got == reference(raw, region, check), (raw, region, check)
        cand = phone._candidate(raw.strip(), region)
        fast_answers += phone._fast(cand, check) is not None
    # The tables, not the fallback, answered most of the corpus (else the comparison proves little).
    assert fast_answers > len(numbers) // 2


def test_levels_differ_where_they_should() -> None:
    # +7 799: a Kazakh-length number in no assigned range; "none" takes any length up to 15 digits.
    assert reference("+77991234567", None, PhoneCheck.STRICT) is None
    assert normalize("+77991234567", None, PhoneCheck.POSSIBLE) == "+77991234567"
    with pytest.raises(InvalidDestination):
        normalize("+77991234567")
    assert normalize("+7799123", None, PhoneCheck.NONE) == "+7799123"
    with pytest.raises(InvalidDestination, match="possible length"):
        normalize("+7799123", None, PhoneCheck.POSSIBLE)
    with pytest.raises(InvalidDestination, match="15 digits"):
        normalize("+7799123456789012", None, PhoneCheck.NONE)
