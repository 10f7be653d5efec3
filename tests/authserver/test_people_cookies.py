"""Our Set-Cookie headers, written by hand, say what ``http.cookies`` (Starlette's way) would say."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from authserver.sessions import Cookies


@pytest.mark.parametrize("secure", [True, False])
@pytest.mark.parametrize("max_age", [None, 600])
def test_a_cookie_is_set_with_the_attributes_starlette_would_write(secure: bool, max_age: int | None) -> None:
    cookies, ours, theirs = Cookies(secure), Response(), Response()
    cookies.set(ours, cookies.session, "Abc-123_xyz", max_age=max_age)
    theirs.set_cookie(
        cookies.session, "Abc-123_xyz", max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax"
    )
    assert ours.headers.getlist("set-cookie") == theirs.headers.getlist("set-cookie")


@pytest.mark.parametrize("secure", [True, False])
def test_a_cleared_cookie_has_the_same_attributes_and_has_expired(secure: bool) -> None:
    cookies, ours, theirs = Cookies(secure), Response(), Response()
    cookies.clear(ours, cookies.login_csrf)
    theirs.delete_cookie(cookies.login_csrf, path="/", secure=secure, httponly=True, samesite="lax")
    [header] = ours.headers.getlist("set-cookie")
    assert header == f'{cookies.login_csrf}=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0' + (
        "; Path=/; SameSite=lax; Secure" if secure else "; Path=/; SameSite=lax"
    )
    assert _attributes(header) == _attributes(theirs.headers["set-cookie"])


@pytest.mark.parametrize("value", ["", "a b", 'a"b', "a;b", "a,b", "é", "abc\n", "a\r\nSet-Cookie: x=1"])
def test_a_value_that_would_need_quoting_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        Cookies(True).set(Response(), "name", value)


def _attributes(header: str) -> list[str]:
    """The attributes but the date: Starlette writes the current time, ours the epoch (both expired)."""
    return [part for part in header.split("; ") if not part.startswith("expires=")]
