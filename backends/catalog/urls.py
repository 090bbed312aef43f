"""Does a string parse as a URL the way ``new URL(value)`` (WHATWG) does in Backstage?

Backstage accepts a link when ``new URL(url)`` does not throw. Python's ``urllib`` accepts nearly
anything, so this is a small hand-written subset of the WHATWG URL parser: a scheme is required;
special schemes (http, https, ws, wss, ftp) need a host without forbidden code points, a port
0-65535, and a valid IPv4 address when the host ends in a number.
"""

from __future__ import annotations

import re

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_SPECIAL = {"http", "https", "ws", "wss", "ftp"}
_FORBIDDEN_HOST = set(" \t\n\r#/:<>?@[\\]^|%")  # '%' allowed only as a valid escape, see below
_FORBIDDEN_OPAQUE_HOST = set(" \t\n\r#/:<>?@[\\]^|")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_IPV4_PART = re.compile(r"(?:0[xX][0-9A-Fa-f]*|[0-9]+)")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+\]")


def is_valid_url(value: object) -> bool:
    """True when WHATWG ``new URL(value)`` would succeed (without a base URL)."""
    if not isinstance(value, str):
        return False
    # The parser strips leading/trailing C0 controls and spaces, and drops tabs and newlines.
    text = value.strip("".join(map(chr, range(0x21)))).replace("\t", "").replace("\n", "").replace("\r", "")
    scheme_match = _SCHEME.match(text)
    if scheme_match is None:
        return False
    scheme = scheme_match.group(0)[:-1].lower()
    rest = text[scheme_match.end() :]
    if scheme == "file":
        return True
    if scheme in _SPECIAL:
        authority = re.split(r"[/\\?#]", rest.lstrip("/\\"), maxsplit=1)[0]
        return _valid_authority(authority, special=True)
    if rest.startswith("//"):
        authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
        return _valid_authority(authority, special=False)
    return True


def _valid_authority(authority: str, *, special: bool) -> bool:
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1 or not _IPV6.fullmatch(authority[: end + 1]):
            return False
        host, port = authority[: end + 1], authority[end + 1 :]
        if port and not port.startswith(":"):
            return False
        port = port[1:]
    else:
        host, _, port = authority.partition(":")
    if port and (not port.isdigit() or not port.isascii() or int(port) > 65535):
        return False
    if not host:
        return not special
    if host.startswith("["):
        return True
    if not special:
        return not (set(host) & _FORBIDDEN_OPAQUE_HOST) and not _PERCENT.search(host)
    if _PERCENT.search(host) or set(host.replace("%", "")) & _FORBIDDEN_HOST:
        return False
    return _valid_ipv4_if_numeric(host)


def _valid_ipv4_if_numeric(host: str) -> bool:
    """A host whose last label is a number is parsed as IPv4 and must be a valid address."""
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels = labels[:-1]
    if not _IPV4_PART.fullmatch(labels[-1]):
        return True  # a domain name
    if len(labels) > 4 or not all(_IPV4_PART.fullmatch(label) for label in labels):
        return False
    try:
        numbers = [_ipv4_number(label) for label in labels]
    except ValueError:
        return False
    if any(n > 255 for n in numbers[:-1]):
        return False
    return numbers[-1] < 256 ** (5 - len(numbers))


def _ipv4_number(label: str) -> int:
    if label[:2].lower() == "0x":
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)
    return int(label)
