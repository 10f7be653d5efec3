"""Which redirect URIs a client may register, and how a requested one matches (RFC 9700 §2.1, RFC 8252).

Accepted: https anywhere; plain http only on a loopback host; or a private-use scheme the
operator listed (``native_redirect_schemes``, e.g. ``claude://callback``). Never a fragment,
userinfo, or a ``javascript:``/``data:``/``file:`` scheme, whatever the operator listed.
A requested URI must equal a registered one exactly, except that a loopback URI may use any
port: native apps (Claude Code, VS Code) listen on whatever port is free (RFC 8252 §7.3).
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import SplitResult, urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_URI_LENGTH = 2000
# Schemes that run code or read local files in a browser: never a redirect target.
FORBIDDEN_SCHEMES = frozenset(
    {"javascript", "vbscript", "data", "file", "blob", "about", "filesystem", "http", "https"}
)


def _split(uri: str) -> SplitResult | None:
    """Parse a URI we might accept, or None if it is not even well-formed printable ASCII."""
    if not uri or len(uri) > MAX_URI_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in uri):
        return None
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return None
    return parts


def native_scheme_allowed(scheme: str, native_schemes: Collection[str]) -> bool:
    scheme = scheme.lower()
    return scheme not in FORBIDDEN_SCHEMES and scheme in {s.lower() for s in native_schemes}


def redirect_uri_problem(uri: str, native_schemes: Collection[str] = ()) -> str | None:
    """Why ``uri`` may not be registered as a redirect URI, or None if it may."""
    parts = _split(uri)
    if parts is None or not parts.scheme:
        return "is not a well-formed absolute URI"
    if "#" in uri:
        return "must not contain a fragment"
    if "@" in parts.netloc:
        return "must not contain user information"
    if parts.scheme not in ("https", "http"):
        if native_scheme_allowed(parts.scheme, native_schemes):
            return None
        return "must be an https URI, http on a loopback address, or use a scheme the operator allows"
    if not parts.hostname:
        return "must be an https URI, or http on a loopback address"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "may use plain http only on a loopback address (127.0.0.1, [::1] or localhost)"
    return None


def is_loopback(uri: str) -> bool:
    parts = _split(uri)
    return parts is not None and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact match, or for loopback URIs the same host, path and query on any port."""
    if requested == registered:
        return True
    if not is_loopback(registered) or not is_loopback(requested) or redirect_uri_problem(requested) is not None:
        return False
    reg, req = urlsplit(registered), urlsplit(requested)
    return (req.scheme, req.hostname, req.path, req.query) == (reg.scheme, reg.hostname, reg.path, reg.query)
