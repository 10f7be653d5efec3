"""Which JWS algorithm signs access tokens: sign and verify cost of RS256, ES256 and EdDSA with joserfc.

The MCP server verifies a token on every call; the authorization server signs one per token
request (about one an hour per client). So verification cost decides, signing cost is shown
for scale. Each algorithm signs and verifies the same RFC 9068 claims the server issues, the
way :mod:`authserver.keys` and the MCP verifier call joserfc (a one-key set, ``kid`` in the
header). Rounds alternate between the algorithms so machine drift hits them alike.

    uv run python bench/signing_alg.py [--seconds 2] [--rounds 5]

Prints a Markdown table and writes ``bench/results/signing_alg.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cryptography
import joserfc
from joserfc import jwt
from joserfc.jwk import KeySet

from authserver.keys import generate_key

ALGORITHMS = ("RS256", "ES256", "EdDSA")
RESULTS = Path(__file__).parent / "results" / "signing_alg.json"


def claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "https://auth.example.com",
        "sub": str(uuid.uuid4()),
        "aud": "https://skills.example.com/mcp",
        "client_id": "Xb3kQ0d3lWm9aUO4h7eZ1g",
        "scope": "snippets:read snippets:write workspaces:write offline_access",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": uuid.uuid4().hex,
    }


def per_call_microseconds(call: Callable[[], object], seconds: float) -> float:
    """Mean wall time of ``call`` over about ``seconds``, in µs."""
    for _ in range(50):  # warm-up
        call()
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            call()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return (now - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per cell and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    setups: dict[str, tuple[Callable[[], object], Callable[[], object], int]] = {}
    for alg in ALGORITHMS:
        key = generate_key(alg)
        private, public = KeySet([key]), KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
        header = {"alg": alg, "typ": "at+jwt", "kid": key.kid}
        token = jwt.encode(header, claims(), private, algorithms=[alg])
        setups[alg] = (
            lambda header=header, private=private, alg=alg: jwt.encode(header, claims(), private, algorithms=[alg]),
            lambda token=token, public=public, alg=alg: jwt.decode(token, public, algorithms=[alg]),
            len(token),
        )

    samples: dict[str, dict[str, list[float]]] = {alg: {"sign": [], "verify": []} for alg in ALGORITHMS}
    for round_number in range(args.rounds):
        order = ALGORITHMS[round_number % 3 :] + ALGORITHMS[: round_number % 3]
        for alg in order:
            sign, verify, _ = setups[alg]
            samples[alg]["verify"].append(per_call_microseconds(verify, args.seconds))
            samples[alg]["sign"].append(per_call_microseconds(sign, args.seconds))

    baseline = statistics.median(samples["RS256"]["verify"])
    report: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "joserfc": joserfc.__version__,
            "cryptography": cryptography.__version__,
            "platform": platform.platform(),
        },
        "seconds_per_cell": args.seconds,
        "rounds": args.rounds,
        "results": {},
    }
    print("| algorithm | verify µs (median, min-max) | verify vs RS256 | sign µs (median) | token bytes |")
    print("|---|---|---|---|---|")
    for alg in ALGORITHMS:
        verify, sign = samples[alg]["verify"], samples[alg]["sign"]
        median_verify = statistics.median(verify)
        report["results"][alg] = {
            "verify_us": verify,
            "sign_us": sign,
            "verify_median_us": median_verify,
            "sign_median_us": statistics.median(sign),
            "token_bytes": setups[alg][2],
        }
        print(
            f"| {alg} | {median_verify:.0f} ({min(verify):.0f}-{max(verify):.0f}) | "
            f"{median_verify / baseline:.2f}x | {statistics.median(sign):.0f} | {setups[alg][2]} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
