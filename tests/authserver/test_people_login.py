"""Login throttling, session cookies and fixation, hash upgrades, long passwords, disabled accounts."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
from argon2 import PasswordHasher, Type
from sqlalchemy import update

from authserver.hashing import secret_hash
from authserver.users import disable_user, find_user_by_email
from shared.db import transaction
from shared.models import BrowserSession, LoginThrottle, User
from tests.authserver.auth_browser import EMAIL, PASSWORD, Pkce, authorize_params, follow, register, sign_in
from tests.authserver.conftest import RunningServer, start_server
from tests.authserver.people_web import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    WINDOW,
    browser,
    new_user,
    people_server_fixture,  # noqa: F401 (the people_server fixture)
    sign_in_to_account,
)

REDIRECT = "http://127.0.0.1:51234/callback"


def login_page(http: httpx.Client) -> httpx.Response:
    client = register(http, [REDIRECT], client_name="Throttle Test")
    return follow(http, http.get("/authorize", params=authorize_params(client["client_id"], REDIRECT, Pkce())))


def end_windows(server: RunningServer) -> None:
    """Move every throttle window into the past, as if WINDOW seconds had gone by."""
    with transaction(server.db) as db:
        for row in db.query(LoginThrottle):
            row.window_start -= timedelta(seconds=WINDOW)


def clear_counters(server: RunningServer) -> None:
    with transaction(server.db) as db:
        db.query(LoginThrottle).delete()


def test_account_throttle_answers_429_then_the_right_password_works_after_the_window(
    people_server: RunningServer,
) -> None:
    clear_counters(people_server)
    email = new_user(people_server)
    with browser(people_server) as http:
        page = login_page(http)
        for _ in range(ACCOUNT_LIMIT):
            assert sign_in(http, page, email, "wrong password here").status_code == 400

        registry = people_server.server.config.app.state.ctx.metrics.registry
        before = registry.get_sample_value("skills_rate_limit_hits_total", {"bucket": "login_account"}) or 0
        throttled = sign_in(http, page, email)  # even the right password, while the window lasts
        assert throttled.status_code == 429
        after = registry.get_sample_value("skills_rate_limit_hits_total", {"bucket": "login_account"})
        assert after == before + 1
        retry_after = int(throttled.headers["retry-after"])
        assert 0 < retry_after <= WINDOW
        assert re.search(r"Try again in \d+ minutes?", throttled.text)
        assert "set-cookie" not in throttled.headers or "skills_session" not in throttled.headers["set-cookie"]

        end_windows(people_server)
        assert sign_in(http, page, email).status_code == 303  # no lasting lockout


def test_throttling_does_not_tell_accounts_apart(people_server: RunningServer) -> None:
    clear_counters(people_server)
    email = new_user(people_server)
    with browser(people_server) as http:
        page = login_page(http)
        answers = {}
        for who in (email, "nobody-here@example.com"):
            for _ in range(ACCOUNT_LIMIT):
                sign_in(http, page, who, "wrong password here")
            answers[who] = sign_in(http, page, who, "wrong password here")
    known, unknown = answers.values()
    assert known.status_code == unknown.status_code == 429
    assert known.text == unknown.text


def test_address_throttle_holds_across_server_processes(people_server: RunningServer, tmp_path: Path) -> None:
    """Two server instances sharing only the database count the same address together."""
    clear_counters(people_server)
    second = start_server(
        people_server.settings.data_dir,
        login_failures_per_account=ACCOUNT_LIMIT,
        login_failures_per_address=ADDRESS_LIMIT,
        login_throttle_window=WINDOW,
    )
    email = new_user(people_server)
    try:
        with browser(people_server) as first_http, browser(second) as second_http:
            pages = [login_page(first_http), login_page(second_http)]
            clients = [first_http, second_http]
            for attempt in range(ADDRESS_LIMIT):  # a different email each time: only the address adds up
                n = attempt % 2
                assert sign_in(clients[n], pages[n], f"guess{attempt}@example.com", "wrong").status_code == 400
            for n in (0, 1):
                refused = sign_in(clients[n], pages[n], email)
                assert refused.status_code == 429 and "retry-after" in refused.headers
        end_windows(people_server)
        with browser(second) as http:
            assert sign_in(http, login_page(http), email).status_code == 303
    finally:
        second.stop()
        clear_counters(people_server)


def test_a_session_id_planted_before_login_is_not_the_one_after(people_server: RunningServer) -> None:
    email = new_user(people_server)
    planted = "attacker-chosen-session-id-0123456789abcdef"
    with browser(people_server) as http:
        page = login_page(http)
        http.cookies.set("skills_session", planted, domain="127.0.0.1")
        assert sign_in(http, page, email).status_code == 303
        issued = http.cookies["skills_session"]
    assert issued != planted
    with people_server.db() as db:
        assert db.get(BrowserSession, secret_hash(planted)) is None
        assert db.get(BrowserSession, secret_hash(issued)) is not None
    with browser(people_server) as attacker:
        attacker.cookies.set("skills_session", planted, domain="127.0.0.1")
        assert attacker.get("/account").status_code == 303  # to the login page


def test_secure_deployments_send_host_prefixed_secure_cookies(tmp_path: Path) -> None:
    server = start_server(tmp_path, cookie_secure=True)
    try:
        with browser(server) as http:
            response = login_page(http)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-skills_login_csrf=")
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "path=/", "samesite=lax"} <= attributes
        assert not any(a.startswith("domain=") for a in attributes)
    finally:
        server.stop()


def test_a_hash_with_weaker_parameters_is_upgraded_at_login(people_server: RunningServer) -> None:
    email = new_user(people_server)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(PASSWORD)
    with transaction(people_server.db) as db:
        db.execute(update(User).where(User.email == email).values(password_hash=weak))
    with browser(people_server) as http:
        assert sign_in(http, login_page(http), email).status_code == 303
    with people_server.db() as db:
        upgraded = find_user_by_email(db, email)
        assert upgraded is not None and upgraded.password_hash is not None
    assert upgraded.password_hash != weak
    assert upgraded.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    with browser(people_server) as http:  # and the password still works
        assert sign_in(http, login_page(http), email).status_code == 303


def test_long_passwords_are_not_truncated(people_server: RunningServer) -> None:
    long_password = "correct horse battery staple " * 6 + "abcdefghijklmnopqrstu"
    assert len(long_password) == 195
    long_password += "vwxyZ"  # 200 characters
    email = new_user(people_server, long_password)
    with browser(people_server) as http:
        page = login_page(http)
        assert sign_in(http, page, email, long_password[:-1] + "z").status_code == 400
        assert sign_in(http, page, email, long_password[:-1]).status_code == 400
        assert sign_in(http, page, email, long_password).status_code == 303


def test_disabled_account_answers_like_a_wrong_password_and_its_session_ends(people_server: RunningServer) -> None:
    email = new_user(people_server)
    with browser(people_server) as http:
        sign_in_to_account(http, email)
        with transaction(people_server.db) as db:
            user = find_user_by_email(db, email)
            assert user is not None
            disable_user(db, user)
        assert http.get("/account").status_code == 303
        page = login_page(http)
        disabled = sign_in(http, page, email)
        wrong = sign_in(http, page, EMAIL, "not the password at all")
    assert disabled.status_code == wrong.status_code == 400
    assert disabled.text.replace(email, "") == wrong.text.replace(EMAIL, "")


def test_a_login_forgives_the_account_failures_but_not_the_address_ones(people_server: RunningServer) -> None:
    clear_counters(people_server)
    email = new_user(people_server)
    with browser(people_server) as http:
        page = login_page(http)
        for _ in range(ACCOUNT_LIMIT - 1):
            assert sign_in(http, page, email, "wrong password here").status_code == 400
        assert sign_in(http, page, email).status_code == 303
    with people_server.db() as db:
        counters = {row.key: row.failures for row in db.query(LoginThrottle) if not row.key.startswith("register:")}
    assert counters == {"addr:127.0.0.1": ACCOUNT_LIMIT - 1}


def test_failed_and_throttled_pages_still_name_the_client_and_allow_its_redirect(people_server: RunningServer) -> None:
    clear_counters(people_server)
    email = new_user(people_server)
    with browser(people_server) as http:
        page = login_page(http)
        answers = [sign_in(http, page, email, "wrong password here") for _ in range(ACCOUNT_LIMIT + 1)]
    assert [answer.status_code for answer in answers] == [400] * ACCOUNT_LIMIT + [429]
    for answer in (page, answers[0], answers[-1]):
        assert "<strong>Throttle Test</strong>" in answer.text
        assert "form-action 'self' http://127.0.0.1:51234;" in answer.headers["content-security-policy"]
