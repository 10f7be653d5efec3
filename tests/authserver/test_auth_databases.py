"""The flow on each database the product supports, the server connecting as its own role.

On Postgres the authorization server runs as the restricted auth role the migrations create,
so this also proves that role may do everything the flow needs (and no superuser is involved).
"""

from __future__ import annotations

import httpx

from authserver.users import create_user
from shared.db import transaction
from tests.authserver.auth_browser import EMAIL, PASSWORD, RESOURCE, authorize_through_browser
from tests.authserver.conftest import settings_of, start_server
from tests.conftest import Database


def test_code_flow_refresh_and_replay_on_each_database(database: Database) -> None:
    running = start_server(database.data_dir, **settings_of(database))
    try:
        if database.backend == "postgresql":
            assert running.settings.auth_db_url != running.settings.admin_database_url
        with transaction(running.db) as db:
            create_user(db, EMAIL, PASSWORD)
        with httpx.Client(base_url=running.issuer, follow_redirects=False, timeout=10) as http:
            authorized = authorize_through_browser(http)
            issued = http.post("/token", data=authorized.token_request())
            assert issued.status_code == 200, issued.text
            tokens = issued.json()

            rotated = http.post(
                "/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": tokens["refresh_token"],
                    "client_id": authorized.client["client_id"],
                    "resource": RESOURCE,
                },
            )
            assert rotated.status_code == 200, rotated.text

            replayed = http.post("/token", data=authorized.token_request())
            assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
            assert len(http.get("/jwks").json()["keys"]) == 1
    finally:
        running.stop()
