"""Mail -> SMS text: MIME parts, charsets, quotes, signatures, subject policies."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from msgbridge.inbound.mailtext import collapse, extract, html_to_text, strip_replies


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
