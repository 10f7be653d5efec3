"""A minimal form-posting "browser" for the sign-in pages (no JavaScript needed by design).

It follows an authorization URL through login and consent the way a person would: read
the page's form, fill the visible fields, submit with every hidden input, and stop at the
redirect that leaves the authorization server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action", "")))
        elif self.forms and tag == "input" and a.get("name"):
            if a.get("type") == "submit":
                self.forms[-1].buttons.append((a["name"], a.get("value", "")))
            else:
                self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


@dataclass
class Redirect:
    """Where the authorization server finally sent the browser."""

    url: str

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}


class FormBrowser:
    """Signs in and answers the consent page, over plain HTTP with a cookie jar."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.http = httpx.Client(follow_redirects=False, timeout=10)

    def close(self) -> None:
        self.http.close()

    def _leaves_issuer(self, url: str) -> bool:
        return not url.startswith(self.issuer + "/")

    def _follow(self, response: httpx.Response) -> httpx.Response | Redirect:
        while response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if self._leaves_issuer(target):
                return Redirect(target)
            response = self.http.get(target)
        return response

    def _submit(self, page: httpx.Response, values: dict[str, str]) -> httpx.Response | Redirect:
        forms = forms_of(page.text)
        assert forms, f"no form on {page.url}: {page.status_code} {page.text[:500]}"
        form = next((f for f in forms if set(values) <= set(f.fields) | {n for n, _ in f.buttons}), forms[0])
        data = {**form.fields, **values}
        return self._follow(self.http.post(urljoin(str(page.url), form.action), data=data))

    def authorize(self, url: str, *, email: str, password: str, decision: str = "allow") -> Redirect:
        result = self._follow(self.http.get(url))
        for _ in range(4):
            if isinstance(result, Redirect):
                return result
            names = {name for form in forms_of(result.text) for name in form.fields}
            if "password" in names:
                result = self._submit(result, {"email": email, "password": password})
            elif any(name == "decision" for form in forms_of(result.text) for name, _ in form.buttons):
                result = self._submit(result, {"decision": decision})
            else:
                raise AssertionError(f"unexpected page {result.url} ({result.status_code}): {result.text[:500]}")
        raise AssertionError("sign-in did not finish")
