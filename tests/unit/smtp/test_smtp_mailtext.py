"""Mail -> SMS text: MIME parts, charsets, quotes, signatures, subject policies."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from msgbridge.inbound.mailtext import (
    Undecodable,
    collapse,
    extract,
    html_to_text,
    strip_controls,
    strip_replies,
)


def build(
    text: str | None = None, html: str | None = None, subject: str = "", charset: str = "utf-8"
) -> bytes:
    m = EmailMessage()
    if subject:
        m["Subject"] = subject
    m["Message-ID"] = "<id-1@example.org>"
    if text is not None:
        m.set_content(text, charset=charset)
    if html is not None:
        if text is None:
            m.set_content(html, subtype="html", charset=charset)
        else:
            m.add_alternative(html, subtype="html", charset=charset)
    m.add_attachment(b"\x00\x01binary", maintype="application", subtype="octet-stream", filename="a.bin")
    return m.as_bytes()


def test_plain_is_preferred_over_html_and_attachments_ignored() -> None:
    got = extract(build(text="plain words", html="<p>html words</p>"))
    assert got.text == "plain words"
    assert got.message_id == "<id-1@example.org>"


def test_html_only_is_converted() -> None:
    html = "<html><head><style>p{}</style><title>t</title></head><body><p>Hi&nbsp;there</p><div>two</div></body></html>"
    assert extract(build(html=html)).text == "Hi there\ntwo"


@pytest.mark.parametrize("charset", ["koi8-r", "windows-1251", "utf-8"])
def test_charsets_are_decoded(charset: str) -> None:
    assert extract(build(text="Привет, мир", charset=charset)).text == "Привет, мир"


def test_quotes_attribution_signature_and_footer_are_cut() -> None:
    body = "Call me\n\n> earlier text\nOn Mon, 1 Jan 2024, Bob <b@x> wrote:\n> more\n"
    assert strip_replies(body).strip() == "Call me"
    assert collapse(strip_replies("Yes\n-- \nAlice\n+1 555")) == "Yes"
    assert collapse(strip_replies("Ok then\nSent from my iPhone")) == "Ok then"
    assert collapse(strip_replies("Hi\n-----Original Message-----\nold")) == "Hi"


def test_whitespace_is_collapsed() -> None:
    assert collapse("  a   b \n\n\n c\t d  ") == "a b\nc d"


@pytest.mark.parametrize(
    ("policy", "body", "expected"),
    [
        ("ignore", "text", "text"),
        ("prepend", "text", "Subj\ntext"),
        ("fallback", "text", "text"),
        ("fallback", "", "Subj"),
        ("ignore", "", ""),
    ],
)
def test_subject_policies(policy: str, body: str, expected: str) -> None:
    assert extract(build(text=body, subject="Subj"), policy).text == expected


def test_rfc2047_subject_and_broken_input() -> None:
    raw = b"Subject: =?utf-8?b?0J/RgNC40LLQtdGC?=\r\n\r\nbody\r\n"
    assert extract(raw, "prepend").text == "Привет\nbody"
    assert extract(b"\xff\xfe garbage without headers").text != None  # noqa: E711 - parses, does not raise
    assert extract(b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nhello\r\n").text == "hello"
    assert html_to_text("<script>x()</script>ok") == "ok"


def test_undeclared_8bit_bytes_are_read_as_utf8_with_replacement() -> None:
    assert extract("Subject: x\r\n\r\nПривет\r\n".encode()).text == "Привет"
    assert extract(b"Subject: x\r\n\r\nabc \xff\xfe def\r\n").text == "abc \ufffd\ufffd def"


def test_forwarded_and_multipart_mixed_take_the_first_inline_text() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment\r\n\r\n%PDF\r\n"
        b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"0KLQtdC60YHRgg==\r\n--XX--\r\n"
    )
    assert extract(raw).text == "Текст"


# -- control characters and undecodable base64 ------------------------------------------------------


def raw_mail(body: str, *, cte: str = "7bit", charset: str = "utf-8", subject: str = "s") -> bytes:
    head = f"Subject: {subject}\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n"
    return (head + "\r\n" + body + "\r\n").encode("latin-1")


@pytest.mark.parametrize(
    "code", [c for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\t\n\r\x0b\x0c"]
)
def test_every_non_whitespace_control_is_stripped(code: int) -> None:
    assert strip_controls(f"a{chr(code)}b") == "ab"


@pytest.mark.parametrize("char", ["\t", "\n", "\r", "\x0b", "\x0c"])
def test_whitespace_controls_are_left_for_collapse(char: str) -> None:
    assert strip_controls(f"a{char}b") == f"a{char}b"
    assert extract(raw_mail(f"a{char}b")).text in {"a b", "a\nb"}


def test_escape_sequences_and_nul_bel_bs_never_reach_the_sms() -> None:
    body = "Alert\x00 \x1b]0;pwned\x07disk\x08 full\x1b[31m!\x7f\tnow\nline two"
    got = extract(raw_mail(body, subject="Sub\x1bject\x07"), "prepend")
    assert got.text == "Subject\nAlert ]0;pwneddisk full[31m! now\nline two"
    assert not any(ord(c) < 0x20 and c != "\n" for c in got.text)


def test_controls_in_a_quoted_printable_body_are_stripped_too() -> None:
    assert extract(raw_mail("beep=07=1B[2J done", cte="quoted-printable")).text == "beep[2J done"


@pytest.mark.parametrize(
    ("body", "charset", "text"),
    [
        ("SGVsbG8gd29ybGQ=", "utf-8", "Hello world"),
        ("SGVsbG8gd29ybGQ", "utf-8", "Hello world"),  # missing padding: decoded as meant
        ("SGVs bG8g*d29y bGQ=", "utf-8", "Hello world"),  # RFC 2045: characters outside the alphabet ignored
        ("0J/RgNC40LLQtdGC", "us-ascii", "Привет"),  # undeclared UTF-8, as 8-bit text is treated
        ("z/Do4uXy", "windows-1251", "Привет"),
    ],
)
def test_base64_text_is_decoded(body: str, charset: str, text: str) -> None:
    assert extract(raw_mail(body, cte="base64", charset=charset)).text == text


@pytest.mark.parametrize(
    ("body", "charset", "reason"),
    [
        ("This is not base64 at all!!", "utf-8", "not utf-8 text"),  # letters decode to noise
        ("Hello world", "utf-8", "not utf-8 text"),
        ("SGVsbG8gd29ybGQhA", "utf-8", "truncated"),  # an impossible length: returned undecoded
        ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "iso-8859-1", "binary, not text"),
        ("////", "us-ascii", "not us-ascii text"),
    ],
)
def test_undecodable_base64_is_refused(body: str, charset: str, reason: str) -> None:
    with pytest.raises(Undecodable, match=reason):
        extract(raw_mail(body, cte="base64", charset=charset))
