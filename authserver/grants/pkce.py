"""PKCE (RFC 7636), mandatory for every client and S256 only (OAuth 2.1, RFC 9700 §2.1.1).

Authlib's ``CodeChallenge`` accepts ``plain``, treats a missing method as plain, lets clients
skip PKCE, and only insists on a verifier for public clients.
"""

from __future__ import annotations

import hmac
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN, CODE_VERIFIER_PATTERN, create_s256_code_challenge


class S256CodeChallenge(CodeChallenge):
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant: Any, redirect_uri: str | None) -> None:
        """At /authorize: exactly one well-formed challenge, and method S256 stated explicitly."""
        datalist = grant.request.payload.datalist
        challenges = datalist.get("code_challenge", [])
        methods = datalist.get("code_challenge_method", [])
        if not challenges:
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if len(challenges) > 1 or len(methods) > 1:
            raise InvalidRequestError("Repeated PKCE parameters.")
        if methods != ["S256"]:
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        if not CODE_CHALLENGE_PATTERN.match(challenges[0]):
            raise InvalidRequestError("Malformed code_challenge.")

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        """At /token: a missing, malformed or wrong verifier is ``invalid_grant``."""
        verifier = grant.request.form.get("code_verifier")
        challenge = grant.request.authorization_code.code_challenge
        if (
            not verifier
            or not CODE_VERIFIER_PATTERN.match(verifier)
            or not hmac.compare_digest(create_s256_code_challenge(verifier), challenge)
        ):
            raise InvalidGrantError("PKCE verification failed.")
