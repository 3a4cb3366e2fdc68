"""The WebDAV XML ghostwatch sends and reads: the namespaces and the item
properties it asks for, the responses of a multistatus answer, and the raw
bytes of an answer's body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

DAV_NS, CALDAV_NS, CS_NS = "DAV:", "urn:ietf:params:xml:ns:caldav", "http://calendarserver.org/ns/"
XMLNS = f'xmlns:d="{DAV_NS}" xmlns:c="{CALDAV_NS}" xmlns:cs="{CS_NS}"'
ITEM_PROPS = "<d:prop><d:getetag/><c:calendar-data/></d:prop>"


def responses(tree: Any) -> Iterator[tuple[str, dict[str, str], bool]]:
    """(href, {prop local name: text}, found) for each response of a multistatus."""
    if tree is None:
        return
    for response in tree.iter(f"{{{DAV_NS}}}response"):
        href = response.findtext(f"{{{DAV_NS}}}href")
        if not href:
            continue
        props: dict[str, str] = {}
        found = False
        for propstat in response.iter(f"{{{DAV_NS}}}propstat"):
            if " 200 " not in f"{propstat.findtext(f'{{{DAV_NS}}}status') or ''} ":
                continue
            found = True
            for prop in propstat.iter(f"{{{DAV_NS}}}prop"):
                for child in prop:
                    name = etree.QName(child).localname
                    if name == "resourcetype":
                        for kind in child:
                            props[etree.QName(kind).localname] = ""
                    else:
                        props[name] = child.text or ""
        yield href_path(href), props, found


def href_path(href: str) -> str:
    return unquote(urlsplit(href).path)


def body_bytes(resp: Any) -> bytes:
    raw = getattr(resp, "raw_bytes", b"")
    return raw.encode("utf-8") if isinstance(raw, str) else bytes(raw or b"")


def raw_bytes(resp: Any) -> bytes:
    try:
        return body_bytes(resp) or etree.tostring(resp.tree)
    except Exception:
        return b""
