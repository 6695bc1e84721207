"""Phone normalisation cost: plain phonenumbers against msgbridge's strict, possible and none checks.

One run, one process: the baseline (parse + is_possible_number + is_valid_number + format as E.164,
what campaign preparation did before) is timed on the same numbers as each level of
``msgbridge.core.phone.normalize``; each line gives µs per number, numbers/s and the speed-up over
the baseline. Two sets of numbers:

- realistic: mostly one country (KZ/RU), some others, ~10 % repeats, ~5 % invalid;
- distinct: every number different, calling codes and lengths drawn at random (the memo never hits).

    python benchmarks/phone_check.py              # 200,000 numbers per set
    python benchmarks/phone_check.py --count 20000

Each level starts with an empty memo, so repeats count only as the file repeats them.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import phonenumbers

from msgbridge.core.errors import InvalidDestination

# msgbridge.core.phone turns on phonenumbers' pattern cache for the whole process when imported, so the
# plain baseline is timed before that import (see main); "phonenumbers + pattern cache" is timed after.


def realistic(n: int, rng: random.Random) -> list[str]:
    others = ["+44 7911 ", "+49 151 ", "+1 650 ", "+998 90 ", "+996 555 "]
    out: list[str] = []
    while len(out) < n:
        r = rng.random()
        if out and r < 0.10:
            out.append(rng.choice(out))  # a repeated recipient
        elif r < 0.15:
            out.append("+7" + "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 11))))  # bad
        elif r < 0.25:
            out.append(rng.choice(others) + "".join(rng.choice("0123456789") for _ in range(6)))
        else:
            out.append(
                f"+7{rng.choice(['701', '702', '705', '747', '771', '777', '916', '926'])}{rng.randrange(10**7):07d}"
            )
    return out


def distinct(n: int, rng: random.Random) -> list[str]:
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    seen: set[str] = set()
    while len(seen) < n:
        seen.add(f"+{rng.choice(codes)}{rng.randrange(10**12):012d}"[: rng.randint(8, 16)])
    out = list(seen)
    rng.shuffle(out)
    return out


def plain(raw: str) -> str | None:
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def level(check: str) -> Callable[[str], str | None]:
    from msgbridge.core.phone import PhoneCheck, normalize

    def run(raw: str) -> str | None:
        try:
            return normalize(raw, None, PhoneCheck(check))
        except InvalidDestination:
            return None

    return run


def timed(
    fn: Callable[[str], str | None], numbers: list[str], clear: Callable[[], None] | None = None
) -> tuple[float, int]:
    if clear is not None:
        clear()
    start = time.perf_counter()
    accepted = sum(fn(x) is not None for x in numbers)
    return time.perf_counter() - start, accepted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(12)
    sets = (("realistic", realistic(args.count, rng)), ("distinct", distinct(args.count, rng)))
    baseline = {name: timed(plain, numbers) for name, numbers in sets}
    from msgbridge.core import phone  # from here on phonenumbers keeps its compiled patterns

    for name, numbers in sets:
        n = len(numbers)
        base, base_ok = baseline[name]
        rows = [
            ("phonenumbers (baseline)", base, base_ok),
            ("phonenumbers + pattern cache", *timed(plain, numbers)),
        ]
        rows += [
            (f"msgbridge {c}", *timed(level(c), numbers, phone._verdict.cache_clear))
            for c in phone.PhoneCheck
        ]
        print(f"{name}: {n:,} numbers")
        for label, took, ok in rows:
            print(
                f"  {label:30} {took / n * 1e6:7.2f} µs {n / took:11,.0f}/s  x{base / took:<5.1f} accepted {ok:,}"
            )


if __name__ == "__main__":
    main()
