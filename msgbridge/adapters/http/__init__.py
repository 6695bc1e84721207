"""HTTP provider adapters (Selzy, BSG, SMSC.ru, Mobizon) on one shared client base."""

from __future__ import annotations

from msgbridge.adapters.http.base import HTTP_STATUS, HttpTransport, Reply, chunks

__all__ = ["HTTP_STATUS", "HttpTransport", "Reply", "chunks"]
