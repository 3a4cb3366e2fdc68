"""Phone numbers from signatures, never from the quoted history."""

from __future__ import annotations

import pytest

from daemon.act.signature_phone import own_text, phone_from_body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("好的，我考虑一下。\n\n王芳\n手机：138 0013 8000", "+8613800138000"),
        ("OK\n--\nWang Fang\nM: +86 139-1234-5678", "+8613912345678"),
        ("谢谢\n电话：010-12345678\n手机 13700137000", "+8613700137000"),  # mobile wins
        ("Thanks\nTel: (021) 8765 4321", "+862187654321"),
        ("Cheers,\nEmma\n+44 20 7946 0958", "+442079460958"),
        ("Thanks\nMobile: +1 (415) 555-0100", "+14155550100"),
        ("no number here, only an order id 2026110312345", None),
    ],
)
def test_phone_from_signature(body: str, expected: str | None) -> None:
    assert phone_from_body(body) == expected


def test_quoted_consultant_number_is_ignored() -> None:
    body = "收到，谢谢。\n\n在 2026年11月2日 09:30，李雷 写道：\n> 我的手机 13600136000\n"
    assert phone_from_body(body) is None
    body = (
        "Sounds good.\n\nOn Mon, 2 Nov 2026 at 09:30, Li Lei wrote:\n> call me on +86 136 0013 6000"
    )
    assert phone_from_body(body) is None


def test_own_text_cuts_outlook_history() -> None:
    body = "Hi\n-----Original Message-----\nFrom: li.lei@hunter.example\n+86 136 0013 6000"
    assert own_text(body) == "Hi"


def test_plain_text_of_a_multipart_reply() -> None:
    from daemon.act.phone_lookup import plain_text

    raw = (
        b"From: w@x.example\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=gbk\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + __import__("base64").b64encode("好的\n手机 13800138000".encode("gbk"))
        + b"\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n"
    )
    text = plain_text(raw)
    assert "13800138000" in text
    assert phone_from_body(text) == "+8613800138000"
