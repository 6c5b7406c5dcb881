"""Where a form may send the user back to."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import url_for

# What a browser does to a URL before it follows it (the WHATWG URL standard): tabs and line
# breaks anywhere are dropped, control characters and spaces at either end are trimmed, and a
# backslash counts as a slash. "/\t/evil.example" is "//evil.example" to it: another site.
_DROPPED = re.compile(r"[\t\n\r]")
_TRIMMED = "".join(chr(c) for c in range(0x21))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_next(target: str | None) -> str:
    """Only a path on this site (never an open redirect), else the user's home page. The
    target is judged as the browser will read it, and returned as the browser would read it."""
    home = url_for("home.index")
    if not target:
        return home
    seen = _DROPPED.sub("", target).strip(_TRIMMED).replace("\\", "/")
    if _CONTROL.search(seen) or not seen.startswith("/") or seen.startswith("//"):
        return home
    parts = urlsplit(seen)
    if parts.scheme or parts.netloc:
        return home
    return seen
