"""TON/NPI for an address: how the client numbers its senders and the simulator its MO parties.

SMPP 3.4 §5.2.5-5.2.6 (addr_ton, addr_npi): alphanumeric 5/0, international
1/1, and short codes 3/0 (network specific), which is how SMSCs route them.
"""

from __future__ import annotations


def address(addr: str) -> tuple[int, int, str]:
    """(TON, NPI, address): ``+digits`` or more than 8 digits international 1/1, up to 8 digits a short
    code 3/0, anything else alphanumeric 5/0 (as given, without the ``+``)."""
    s = addr.strip()
    digits = s[1:] if s.startswith("+") else s
    if digits.isdigit():
        if s.startswith("+") or len(digits) > 8:
            return 1, 1, digits
        return 3, 0, digits
    return 5, 0, s
