"""Outbound SMTP: email, or SMS handed to a provider's mail interface.

``smtp://user:pass@host:587?tls=starttls&pool=4&mode=email``

Each message is one SMTP transaction (MAIL, RCPT, DATA) by default, so every
SMS has its own status. With ``group=N`` identical messages (same sender,
subject and body) share one transaction of up to N recipients; a server that
refuses some RCPTs then yields a refusal for exactly those messages and a
success for the rest, never one exception for the lot.

The URL's options and their checked form are in ``config.py``, the mail
itself (envelope, headers, body, grouping) in ``compose.py``; this module
owns the connections and the SMTP conversation.

Connections are pooled (``pool=N``) and reused across ``send()`` calls. A
reused connection that turns out to be dead before MAIL is answered (idle
servers hang up, often with 421) is replaced and the transaction retried
once; a connection that drops during DATA leaves the outcome unknown, so those
messages come back MAYBE_SUBMITTED with a TIMEOUT error and are not resent
blindly.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import aiosmtplib

from msgbridge.adapters.base import Capabilities, Transport
from msgbridge.adapters.smtp.compose import Transaction, failed, plan
from msgbridge.adapters.smtp.config import SMTP_OPTIONS, SmtpConfig
from msgbridge.adapters.smtp.replies import error_info
from msgbridge.core.errors import AuthError, ErrorCode, ErrorInfo, TransportError
from msgbridge.core.message import Message, SendResult
from msgbridge.core.status import DeliveryStatus
from msgbridge.core.url import TransportURL

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """One pooled connection; ``client`` is None until first needed or after it died."""

    client: aiosmtplib.SMTP | None = None


class SmtpTransport(Transport):
    scheme = "smtp"
    summary = "SMTP: email, or SMS via a provider's mail interface (SMSC.ru body or <phone>@domain)"
    capabilities: ClassVar[Capabilities] = Capabilities(max_batch=100)

    declared_options = SMTP_OPTIONS

    def __init__(self, url: TransportURL) -> None:
        super().__init__(url)
        self.config = SmtpConfig.from_settings(url, self.settings)
        self._slots: asyncio.Queue[_Slot] | None = None

    @property
    def link(self) -> str:
        return f"smtp://{self.config.host}:{self.config.port}"

    # -- connections -------------------------------------------------------

    def _pool(self) -> asyncio.Queue[_Slot]:
        if self._slots is None:
            self._slots = asyncio.Queue()
            for _ in range(self.config.pool):
                self._slots.put_nowait(_Slot())
        return self._slots

    def _client(self) -> aiosmtplib.SMTP:
        cfg = self.config
        return aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            username=cfg.username,
            password=cfg.password.reveal() if cfg.password else None,
            use_tls=cfg.tls == "implicit",
            start_tls={"starttls": True, "none": False, "auto": None, "implicit": False}[cfg.tls],
            validate_certs=cfg.verify,
            cert_bundle=cfg.cafile,
            timeout=cfg.timeout,
            local_hostname=cfg.helo,
        )

    async def _connect(self) -> aiosmtplib.SMTP | ErrorInfo:
        """A connected (and logged-in) client, or why there is none, as data."""
        client = self._client()
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            info = error_info(exc.code, exc.message)
        except aiosmtplib.SMTPConnectTimeoutError as exc:
            # Nothing was sent yet, so this is not an outcome-unknown TIMEOUT.
            info = ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_message=f"connect timeout: {exc}")
        except aiosmtplib.SMTPNotSupported as exc:
            info = ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=str(exc))
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
        ) as exc:
            info = self._network_or_tls(exc)
        except aiosmtplib.SMTPResponseException as exc:
            info = error_info(exc.code, exc.message)
        except ssl.SSLError as exc:
            info = ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=f"TLS: {exc}")
        except aiosmtplib.SMTPException as exc:
            # A bare SMTPException is aiosmtplib saying the server lacks what we
            # asked for (STARTTLS, AUTH): a setup mismatch, not a passing fault.
            info = ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=str(exc))
        except OSError as exc:
            info = self._network_or_tls(exc)
        else:
            return client
        client.close()
        log.warning("smtp connect to %s failed: %s", self.link, info)
        return info

    @staticmethod
    def _network_or_tls(exc: BaseException) -> ErrorInfo:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLError):
            return ErrorInfo(code=ErrorCode.PROTOCOL_ERROR, native_message=f"TLS: {cause}")
        return ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_message=str(exc) or type(exc).__name__)

    async def open(self) -> None:
        """Connect one pooled connection now, so a wrong password or host shows at startup."""
        pool = self._pool()
        slot = await pool.get()
        try:
            if slot.client is None or not slot.client.is_connected:
                got = await self._connect()
                if isinstance(got, ErrorInfo):
                    if got.code is ErrorCode.AUTH_FAILED:
                        raise AuthError(f"{self.link}: {got}", got)
                    raise TransportError(f"{self.link}: {got}", got)
                slot.client = got
        finally:
            pool.put_nowait(slot)

    async def aclose(self) -> None:
        if self._slots is None:
            return
        while not self._slots.empty():
            slot = self._slots.get_nowait()
            if slot.client is not None and slot.client.is_connected:
                try:
                    await asyncio.wait_for(slot.client.quit(), timeout=2.0)
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    slot.client.close()
        self._slots = None

    # -- sending ---------------------------------------------------------------

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        queue = deque(plan(self.config, messages, results))
        pool = self._pool()

        async def worker() -> None:
            while queue:
                tx = queue.popleft()
                slot = await pool.get()
                try:
                    for index, result in zip(tx.indexes, await self._transact(slot, tx), strict=True):
                        results[index] = result
                except BaseException:
                    if slot.client is not None:
                        slot.client.close()
                        slot.client = None
                    raise
                finally:
                    pool.put_nowait(slot)

        workers = min(self.config.pool, len(queue))
        if workers:
            await asyncio.gather(*(worker() for _ in range(workers)))
        missing = [i for i, r in enumerate(results) if r is None]
        assert not missing, f"no result for messages {missing}"
        return [r for r in results if r is not None]

    def _native_id(self, tx: Transaction, rcpt: str) -> str:
        return tx.message_id if len(tx.recipients) == 1 else f"{tx.message_id}#{rcpt}"

    async def _transact(self, slot: _Slot, tx: Transaction) -> list[SendResult]:
        for attempt in (1, 2):
            reused = slot.client is not None and slot.client.is_connected
            if not reused:
                if slot.client is not None:
                    slot.client.close()
                got = await self._connect()
                if isinstance(got, ErrorInfo):
                    slot.client = None
                    return [failed(m, got) for m in tx.messages]
                slot.client = got
            client = slot.client
            assert client is not None
            try:
                await client.mail(tx.sender)
            except aiosmtplib.SMTPSenderRefused as exc:
                if exc.code == 421 and reused and attempt == 1:
                    log.info("smtp %s: pooled connection closed with 421; reconnecting", self.link)
                    client.close()
                    slot.client = None
                    continue
                await self._rset(slot)
                return [failed(m, error_info(exc.code, exc.message)) for m in tx.messages]
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException, OSError) as exc:
                # 421 or a dead socket on a connection the pool kept: start afresh once.
                client.close()
                slot.client = None
                if reused and attempt == 1:
                    log.info("smtp %s: pooled connection was gone (%s); reconnecting", self.link, exc)
                    continue
                info = (
                    error_info(exc.code, exc.message)
                    if isinstance(exc, aiosmtplib.SMTPResponseException)
                    else ErrorInfo(
                        code=ErrorCode.NETWORK_ERROR, native_message=str(exc) or type(exc).__name__
                    )
                )
                return [failed(m, info) for m in tx.messages]
            return await self._rcpt_and_data(slot, client, tx)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _rcpt_and_data(self, slot: _Slot, client: aiosmtplib.SMTP, tx: Transaction) -> list[SendResult]:
        out: dict[int, SendResult] = {}
        accepted: list[int] = []
        try:
            for pos, rcpt in enumerate(tx.recipients):
                try:
                    await client.rcpt(rcpt)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    out[pos] = failed(tx.messages[pos], error_info(exc.code, exc.message))
                else:
                    accepted.append(pos)
        except (aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            client.close()
            slot.client = None
            info = ErrorInfo(code=ErrorCode.NETWORK_ERROR, native_message=str(exc) or type(exc).__name__)
            return [out.get(pos) or failed(m, info) for pos, m in enumerate(tx.messages)]
        if not accepted:
            await self._rset(slot)
            return [out[pos] for pos in range(len(tx.messages))]
        try:
            reply = await client.data(tx.content)
        except aiosmtplib.SMTPDataError as exc:
            await self._rset(slot)
            info = error_info(exc.code, exc.message)
            for pos in accepted:
                out[pos] = failed(tx.messages[pos], info)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            # The body may have been taken before the line dropped: do not resend blindly.
            client.close()
            slot.client = None
            info = ErrorInfo(
                code=ErrorCode.TIMEOUT, native_message=f"no reply to DATA: {exc or type(exc).__name__}"
            )
            for pos in accepted:
                out[pos] = failed(tx.messages[pos], info, DeliveryStatus.MAYBE_SUBMITTED)
        else:
            for pos in accepted:
                out[pos] = SendResult(
                    message_id=tx.messages[pos].id,
                    status=DeliveryStatus.SUBMITTED,
                    native_id=self._native_id(tx, tx.recipients[pos]),
                    raw={"reply": f"{reply.code} {reply.message}", "recipient": tx.recipients[pos]},
                )
        return [out[pos] for pos in range(len(tx.messages))]

    async def _rset(self, slot: _Slot) -> None:
        """Clear the envelope after a refusal so the pooled connection stays usable."""
        if slot.client is None:
            return
        try:
            await slot.client.rset()
        except (aiosmtplib.SMTPException, OSError):
            slot.client.close()
            slot.client = None
