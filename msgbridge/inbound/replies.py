"""The email-to-SMS gateway's SMTP replies, in one place so the docs and tests can name them.

Codes and enhanced status codes as RFC 5321 and RFC 3463 define them; the
AUTH replies as RFC 4954 does.
"""

from __future__ import annotations

OK_SENDER = "250 2.1.0 OK"
OK_RECIPIENT = "250 2.1.5 OK"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
NOT_ALLOWED = "550 5.7.1 Not authorised: log in or send from an allowed address"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
RATE_LIMITED = "450 4.7.1 Rate limit exceeded, try again later"
NO_TEXT = "550 5.6.0 No text to send as SMS"
STORE_FAILED = "451 4.3.0 Temporary local problem, try again later"
INTERNAL_ERROR = "451 4.3.0 Internal error, try again later"
UNDECODABLE = "554 5.6.0 Cannot decode the text"
AUTH_SYNTAX = "501 5.5.2 Cannot decode response"
TOO_MANY_AUTH_FAILURES = "421 4.7.0 Too many authentication failures"
# RFC 4954: 454 4.7.0 "Temporary authentication failure"; the client may try again later.
LOCKED_OUT = "454 4.7.0 Too many failed logins, try again later"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
IDLE_TIMEOUT = "421 4.4.2 Idle too long, closing connection"
LOGIN_TIMEOUT = "421 4.7.0 Not logged in in time, closing connection"
