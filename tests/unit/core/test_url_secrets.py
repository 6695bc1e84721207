"""Transport URLs: parsing and redaction agree, and no secret reaches a printed URL or an error.

The hand-written cases are the ones reported (an unencoded '/' or '@' in a
password); the properties generate URLs from parts and check, for every one,
that parse recovers the parts, that the redacted form holds no secret and
parses back to the same non-secret parts, and that every error raised while
reading the URL or building its transport is free of the secret.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from msgbridge.adapters.base import open_transport
from msgbridge.core.errors import ConfigError, MessagingError
from msgbridge.core.url import HIDDEN, TransportURL, encode_credentials, redact

# -- the reported cases --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "user", "secret", "host", "port"),
    [
        ("smpp://u:pa/SECRETX@127.0.0.1:2775", "u", "pa/SECRETX", "127.0.0.1", 2775),
        ("smpp://q:ab@XYZ99@smsc.example:2775?window=5", "q", "ab@XYZ99", "smsc.example", 2775),
        ("smtp://u:pa/SECRETX@mail.example:587", "u", "pa/SECRETX", "mail.example", 587),
        ("smtp://me@example.com:pa:ss@mail.example", "me@example.com", "pa:ss", "mail.example", None),
        ("smpp://u:p%3Fq@[::1]:2775", "u", "p?q", "::1", 2775),
        ("smpp://u:#SECRET#@h", "u", "#SECRET#", "h", None),
    ],
)
def test_unencoded_characters_in_a_password_are_part_of_it(
    url: str, user: str, secret: str, host: str, port: int | None
) -> None:
    parsed = TransportURL.parse(url)
    assert (parsed.user, parsed.host, parsed.port) == (user, host, port)
    assert parsed.secret is not None and parsed.secret.reveal() == secret
    for shown in (str(parsed), repr(parsed), redact(url)):
        assert secret not in shown
        assert "***" in shown
    assert TransportURL.parse(parsed.reveal()) == parsed


@pytest.mark.parametrize(
    ("url", "pieces"),
    [
        ("smpp://u:pa/SECRETX", ["pa", "SECRETX"]),  # no '@': "pa" would be read as the port
        ("smpp://u:SECRET?X@h:1", ["SECRET"]),  # a '?' in a password must be %3F: here it ends the host
        ("smpp://u:12?SECRET@h:1", ["SECRET"]),  # ... and here the option name holds the '@'
        ("smtp://u:p@mail.example:SECRET", ["SECRET"]),
        ("smpp://u:p@h:99999", ["99999"]),
        ("smpp://u:p@ho st:1", ["ho st"]),
        ("smpp://u:p@[::1", ["[::1"]),
    ],
)
def test_an_unreadable_url_shows_nothing_after_the_scheme(url: str, pieces: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        TransportURL.parse(url)
    message = str(info.value)
    assert message.startswith("malformed smpp:// URL") or message.startswith("malformed smtp:// URL")
    for piece in pieces:
        assert piece not in message
    assert redact(url) == f"{url.split('://')[0]}://{HIDDEN}"


def test_redact_of_text_that_is_not_a_url() -> None:
    assert redact("sms") == "sms"  # a configured transport name
    assert redact("u:SECRET@host") == HIDDEN
    assert redact("smpp://u:a@b") == "smpp://u:***@b"
    assert redact(redact("selzy://KEY@api.selzy.com")) == "selzy://***@api.selzy.com"


def test_repeated_option_is_refused() -> None:
    with pytest.raises(ConfigError, match="window is given twice"):
        TransportURL.parse("smpp://u:p@h?window=1&window=2")


def test_dsn_credentials_are_encoded_for_the_driver() -> None:
    assert encode_credentials("postgres://u:PG/SE@C:RET@db:5432/x?sslmode=off") == (
        "postgres://u:PG%2FSE%40C%3ARET@db:5432/x?sslmode=off"
    )
    assert encode_credentials("postgresql://db1:5432,db2:5432/x") == "postgresql://db1:5432,db2:5432/x"


# -- properties -----------------------------------------------------------------

# Secrets are made of marker words and the characters people paste unencoded; a marker word found in
# any output is a leak. '?' always starts the options, so a password holding one must be written %3F
# (the strategies encode it; the cases above show what an unencoded one does).
WORDS = st.from_regex(r"SEC[A-Z]{4,6}", fullmatch=True)
SEPARATORS = st.sampled_from(list("/@:#&=+;,!$'()*[] ~"))
secrets = (
    st.lists(st.one_of(WORDS, SEPARATORS), min_size=1, max_size=6).map("".join).filter(lambda s: "SEC" in s)
)
users = st.from_regex(r"[a-z][a-z0-9._@-]{0,10}", fullmatch=True)
hosts = st.one_of(
    st.just(""),
    st.from_regex(r"[a-z][a-z0-9-]{0,8}(\.[a-z]{2,4}){0,2}", fullmatch=True),
    st.just("127.0.0.1"),
    st.just("[::1]"),
)
ports = st.one_of(st.none(), st.integers(1, 65535))
paths = st.one_of(st.just(""), st.from_regex(r"/[a-z0-9/._-]{0,10}", fullmatch=True))
values = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x44F, exclude_characters="S"), max_size=12
)
option_names = st.sampled_from(["window", "timeout", "sender", "from", "mode", "widnow", "bogus", "tls", "x"])
options = st.dictionaries(option_names, values, max_size=3)
SCHEMES = ["smpp", "smtp", "selzy", "bsg", "smsc", "mobizon", "memory"]
LONE_KEY = {"selzy", "bsg", "smsc", "mobizon"}  # user_is_secret: a user part without ':' is the API key


def words_of(secret: str) -> list[str]:
    return re.findall(r"SEC[A-Z]{4,6}", secret)


def build(scheme: str, user: str | None, secret: str, host: str, port: int | None, path: str,
          opts: dict[str, str], *, encode: bool) -> str:  # fmt: skip
    pw = quote(secret, safe="") if encode else secret
    if user is None:
        pw = pw.replace(":", "%3A")  # a lone key's ':' would make its first half a user name
    auth = f"{quote(user, safe='@') if user else ''}:{pw}@" if user is not None else f"{pw}@"
    query = "&".join(f"{k}={quote(v, safe='@:/')}" for k, v in opts.items())
    return f"{scheme}://{auth}{host}{f':{port}' if port else ''}{path}" + (f"?{query}" if query else "")


def assert_no_secret(text: str, secret: str) -> None:
    for word in words_of(secret):
        assert word not in text, (word, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.sampled_from(SCHEMES),
    user=st.one_of(st.none(), users),
    secret=secrets,
    host=hosts,
    port=ports,
    path=paths,
    opts=options,
    encode=st.booleans(),
)
@example(scheme="smpp", user="q", secret="ab@SECXYZW", host="h", port=1, path="", opts={}, encode=False)
@example(scheme="smtp", user="u", secret="pa/SECRETX", host="h", port=1, path="", opts={}, encode=False)
def test_parse_and_redaction_agree_and_nothing_leaks(
    scheme: str,
    user: str | None,
    secret: str,
    host: str,
    port: int | None,
    path: str,
    opts: dict[str, str],
    encode: bool,
) -> None:
    if user is None and scheme not in LONE_KEY:
        user = "login"  # for these schemes a lone user part is a login, printed as such
    url = build(scheme, user, secret, host, port, path, opts, encode=encode)
    lone_key = user is None
    parsed = TransportURL.parse(url, user_is_secret=lone_key)
    # parse recovers every part
    assert parsed.scheme == scheme
    assert parsed.user == user
    assert parsed.secret is not None and parsed.secret.reveal() == secret
    assert parsed.host == (host.strip("[]") or None)
    assert (parsed.port, parsed.path, parsed.options) == (port, path, opts)
    # the redacted forms hold no secret ...
    for shown in (str(parsed), repr(parsed), redact(url), redact(str(parsed))):
        assert_no_secret(shown, secret)
    # ... and read back as the same URL, secret aside
    again = TransportURL.parse(str(parsed), user_is_secret=lone_key)
    assert (again.scheme, again.user, again.host, again.port, again.path, again.options) == (
        parsed.scheme,
        parsed.user,
        parsed.host,
        parsed.port,
        parsed.path,
        parsed.options,
    )
    assert redact(redact(url)) == redact(url)
    # whatever building the transport refuses, the refusal does not show the secret
    try:
        open_transport(url)
    except MessagingError as exc:
        assert_no_secret(str(exc), secret)


# Damage that makes a URL unreadable or misread: the secret must stay out of every message anyway.
DAMAGE = st.sampled_from(["port-word", "host-space", "bad-option", "long-number", "nan", "question-mark"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.sampled_from(SCHEMES),
    user=users,
    secret=secrets,
    host=hosts.filter(bool),
    port=ports,
    damage=DAMAGE,
)
def test_no_secret_in_any_error(
    scheme: str, user: str, secret: str, host: str, port: int | None, damage: str
) -> None:
    url = build(scheme, user, secret, host, port, "", {}, encode=False)
    if damage == "question-mark":  # an unencoded '?' right after the first marker word
        word = words_of(secret)[0]
        url = url.replace(word, f"{word}?", 1)
    elif damage == "port-word":
        url = url.replace(host, f"{host.split(':')[0]}:{words_of(secret)[0]}", 1)
    elif damage == "host-space":
        url = url.replace(host, f"{host} x", 1)
    elif damage == "bad-option":
        url += "?widnow=5"
    elif damage == "long-number":
        url += "?timeout=99999999999999999999"
    else:
        url += "?timeout=nan"
    assert_no_secret(redact(url), secret)
    for attempt in (lambda: TransportURL.parse(url), lambda: open_transport(url)):
        try:
            attempt()
        except MessagingError as exc:
            assert_no_secret(str(exc), secret)


@settings(max_examples=100, deadline=None)
@given(user=users, secret=secrets, host=hosts.filter(bool), port=ports)
def test_an_encoded_dsn_reads_whole_with_the_standard_parser(
    user: str, secret: str, host: str, port: int | None
) -> None:
    """What the PostgreSQL driver does with the DSN (urllib's rules) gives back the password as typed."""
    dsn = build("postgres", user, secret, host, port, "/db", {}, encode=False)
    parts = urlsplit(encode_credentials(dsn))
    assert parts.password is not None and parts.username is not None
    assert (unquote(parts.username), unquote(parts.password), parts.path) == (user, secret, "/db")
    assert_no_secret(redact(dsn), secret)
