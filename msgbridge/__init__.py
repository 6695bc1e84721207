"""msgbridge: one model for SMS and email over SMPP, HTTP providers and SMTP."""

from __future__ import annotations

__version__ = "0.1.0"
