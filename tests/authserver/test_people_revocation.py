"""The revocation writes the MCP server reads: grant_revocations, tokens_valid_after, and what we own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authserver.hashing import new_secret, secret_hash
from authserver.revocation import revocation_instant, revoke_all_for_user, revoke_grant
from shared.db import transaction
from shared.models import AuthorizationCode, BrowserSession, GrantRevocation, OAuthClient, RefreshToken, User, utcnow
from tests.authserver.people_db import auth_db_fixture  # noqa: F401 (the auth_db fixture)

NOW = datetime(2026, 11, 20, 12, 0, 0, 400_000, tzinfo=UTC)


def seed(db: Session) -> tuple[uuid.UUID, uuid.UUID]:
    """Two users, two clients; each user holds a refresh token, a code and a browser session per client."""
    users = [User(email=f"{name}@example.com", password_hash="x") for name in ("ann", "ben")]
    db.add_all(users)
    db.add_all(OAuthClient(client_id=cid, client_metadata={}) for cid in ("c1", "c2"))
    db.flush()
    later = utcnow() + timedelta(days=1)
    for user in users:
        db.add(BrowserSession(id_hash=secret_hash(new_secret()), user_id=user.id, csrf_token="t", expires_at=later))
        for cid in ("c1", "c2"):
            db.add(
                RefreshToken(
                    token_hash=secret_hash(new_secret()),
                    family_id=uuid.uuid4(),
                    client_id=cid,
                    user_id=user.id,
                    resource="r",
                    expires_at=later,
                    family_expires_at=later,
                )
            )
            db.add(
                AuthorizationCode(
                    code_hash=secret_hash(new_secret()),
                    client_id=cid,
                    user_id=user.id,
                    redirect_uri="http://127.0.0.1/cb",
                    resource="r",
                    code_challenge="c",
                    expires_at=later,
                )
            )
    return users[0].id, users[1].id


def live_tokens(db: Session) -> set[tuple[uuid.UUID, str]]:
    rows = db.execute(select(RefreshToken.user_id, RefreshToken.client_id).where(RefreshToken.revoked_at.is_(None)))
    return {(u, c) for u, c in rows}


def test_revocation_instant_is_the_next_whole_second() -> None:
    assert revocation_instant(NOW) == datetime(2026, 11, 20, 12, 0, 1, tzinfo=UTC)
    # A token issued earlier in the same second has iat 12:00:00 < not_before: refused.
    assert int(NOW.timestamp()) < revocation_instant(NOW).timestamp()


def test_revoke_grant_touches_one_user_and_one_client(auth_db: sessionmaker[Session]) -> None:
    with transaction(auth_db) as db:
        ann, ben = seed(db)

    with transaction(auth_db) as db:
        assert revoke_grant(db, ann, "c1", now=NOW) == revocation_instant(NOW)
    with transaction(auth_db) as db:  # again, later: an upsert moves not_before forward
        revoke_grant(db, ann, "c1", now=NOW + timedelta(minutes=1))

    with auth_db() as db:
        revocations = db.scalars(select(GrantRevocation)).all()
        assert [(r.user_id, r.client_id, r.not_before) for r in revocations] == [
            (ann, "c1", revocation_instant(NOW + timedelta(minutes=1)))
        ]
        assert live_tokens(db) == {(ann, "c2"), (ben, "c1"), (ben, "c2")}
        codes = {(u, c) for u, c in db.execute(select(AuthorizationCode.user_id, AuthorizationCode.client_id))}
        assert codes == {(ann, "c2"), (ben, "c1"), (ben, "c2")}
        assert db.get(User, ann).tokens_valid_after is None  # type: ignore[union-attr]


def test_revoke_all_for_user_ends_everything_of_that_user_only(auth_db: sessionmaker[Session]) -> None:
    with transaction(auth_db) as db:
        ann, ben = seed(db)
        kept = secret_hash(new_secret())
        db.add(BrowserSession(id_hash=kept, user_id=ann, csrf_token="t", expires_at=utcnow() + timedelta(hours=1)))

    with transaction(auth_db) as db:
        revoke_all_for_user(db, ann, now=NOW, keep_session_hash=kept)

    with auth_db() as db:
        assert db.get(User, ann).tokens_valid_after == revocation_instant(NOW)  # type: ignore[union-attr]
        assert db.get(User, ben).tokens_valid_after is None  # type: ignore[union-attr]
        assert live_tokens(db) == {(ben, "c1"), (ben, "c2")}
        assert set(db.scalars(select(AuthorizationCode.user_id))) == {ben}
        sessions = {(s.user_id, s.id_hash == kept) for s in db.scalars(select(BrowserSession))}
        assert sessions == {(ann, True), (ben, False)}

    with transaction(auth_db) as db:
        revoke_all_for_user(db, ann, now=NOW)
    with auth_db() as db:
        assert set(db.scalars(select(BrowserSession.user_id))) == {ben}


def test_deleting_a_user_removes_everything_they_held(auth_db: sessionmaker[Session]) -> None:
    with transaction(auth_db) as db:
        ann, ben = seed(db)
        revoke_grant(db, ann, "c2", now=NOW)
    with transaction(auth_db) as db:
        db.delete(db.get(User, ann))
    with auth_db() as db:
        assert {u for u, _ in live_tokens(db)} == {ben}
        assert db.scalars(select(GrantRevocation)).all() == []
        assert set(db.scalars(select(BrowserSession.user_id))) == {ben}
