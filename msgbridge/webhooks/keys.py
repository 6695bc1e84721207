"""Which secret signs a callback: its API key's ``webhook_secret``, else the ``[webhooks] secret``.

A target names its key (``CallbackTarget.key``); the key file is the one ``serve`` reads, so a key created
or revoked while the service runs is seen within a second (``KeyRing.current``). A key without a secret of
its own, a key no longer in the file, and a target without a key all sign with the default secret(s);
with none configured the event goes unsigned, and the worker says so once in its log.
"""

from __future__ import annotations

from collections.abc import Sequence

from msgbridge.service.apikeys import ApiKey, KeyRing


class WebhookSecrets:
    def __init__(self, default: Sequence[str] = (), ring: KeyRing | None = None) -> None:
        self.default = tuple(s.encode() for s in default)
        self.ring = ring
        self._seen: tuple[ApiKey, ...] | None = None
        self._by_name: dict[str, tuple[bytes, ...]] = {}

    def for_key(self, key: str | None) -> tuple[bytes, ...]:
        """The secret(s) to sign with, the current one first; empty: unsigned."""
        if key is None or self.ring is None:
            return self.default
        keys = self.ring.current()
        if keys is not self._seen:  # the ring hands out a new tuple only when the file changed
            self._seen = keys
            self._by_name = {k.name: (k.webhook_secret.encode(),) for k in keys if k.webhook_secret}
        return self._by_name.get(key, self.default)
