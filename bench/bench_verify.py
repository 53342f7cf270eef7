"""Token verification throughput: govlink's Verifier against PyJWT, same run, same tokens.

For each algorithm (ES256, Ed25519 as ``EdDSA``, RS256) the same city access tokens are
verified by:

* **govlink, every check on**: canonical base64url, duplicate-member-free JSON, header rules,
  issuer pinned to its key, typ ``at+jwt``, signature, exp/iat/nbf with leeway, exact aud,
  sub/jti/claim types, revocation (token, session, subject) — with the verified-token cache off;
* **PyJWT** ``jwt.decode(token, key, algorithms=[alg], audience=..., issuer=...,
  options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})``;
* **govlink, repeated token** — the same token again (served by the verified-token cache).

Prints tokens/s and the ratio govlink/PyJWT (goal >= 1.0x). Best of several interleaved rounds,
because absolute times on a shared machine are noise.

    .venv/bin/python bench/bench_verify.py            # full
    .venv/bin/python bench/bench_verify.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jwt as pyjwt

from govlink.domain import ResidentId
from govlink.identity import HallRegistry, Issuer, KeyRing, PassphraseProtector, PersonSubject
from govlink.store import SQLiteStore

ISSUER = "https://sso.dongying.example"
AUD = "hall-370502"
REQUIRE = {"require": ["exp", "iat", "iss", "aud", "sub", "jti"]}


def best_rate(run: Callable[[], int], rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        count = run()
        elapsed = time.perf_counter() - start
        best = max(best, count / elapsed)
    return best


def bench(alg: str, tokens_per_round: int, rounds: int, home: Path) -> dict[str, float]:
    store = SQLiteStore(home / f"bench-{alg}.db")
    ring = KeyRing(store, PassphraseProtector("bench"))
    ring.init([alg])
    issuer = Issuer(issuer=ISSUER, keys=ring, halls=HallRegistry.demo_city(), store=store, alg=alg)
    person = PersonSubject(ResidentId("11010519491231002X"))
    sid = issuer.sign_in(person, client=AUD, acr=4).session.sid
    tokens = [
        issuer.tokens_for(sid, AUD, refresh=False).access_token for _ in range(tokens_per_round)
    ]
    key = pyjwt.PyJWKSet.from_dict(ring.jwks())[ring.signing_key().kid].key
    full = issuer.verifier(AUD, cache_size=0)
    cached = issuer.verifier(AUD)

    def run_govlink() -> int:
        verify = full.verify
        for token in tokens:
            verify(token)
        return len(tokens)

    def run_pyjwt() -> int:
        decode = pyjwt.decode
        for token in tokens:
            decode(token, key, algorithms=[alg], audience=AUD, issuer=ISSUER, options=REQUIRE)
        return len(tokens)

    one = tokens[0]
    cached.verify(one)
    repeats = tokens_per_round * 20

    def run_cached() -> int:
        verify = cached.verify
        for _ in range(repeats):
            verify(one)
        return repeats

    def run_pyjwt_repeated() -> int:
        decode = pyjwt.decode
        for _ in range(tokens_per_round):
            decode(one, key, algorithms=[alg], audience=AUD, issuer=ISSUER, options=REQUIRE)
        return tokens_per_round

    # Same answers first: both accept every token.
    run_govlink()
    run_pyjwt()
    g = p = 0.0
    for _ in range(rounds):  # interleaved, so machine noise hits both alike
        g = max(g, best_rate(run_govlink, 1))
        p = max(p, best_rate(run_pyjwt, 1))
    c = best_rate(run_cached, rounds)
    pr = best_rate(run_pyjwt_repeated, rounds)
    store.close()
    return {"govlink": g, "pyjwt": p, "cached": c, "pyjwt_repeated": pr}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tokens and rounds")
    args = parser.parse_args()
    per_round, rounds = (300, 3) if args.quick else (2000, 7)
    print(f"tokens per round {per_round}, best of {rounds} interleaved rounds")
    header = (
        f"{'alg':<8}{'govlink/s':>12}{'PyJWT/s':>12}{'ratio':>8}{'cached/s':>14}{'vs PyJWT':>10}"
    )
    print(header)
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        for alg in ("ES256", "EdDSA", "RS256"):
            r = bench(alg, per_round, rounds, Path(scratch))
            ratio = r["govlink"] / r["pyjwt"]
            cached_ratio = r["cached"] / r["pyjwt_repeated"]
            ok = ok and ratio >= 1.0
            print(
                f"{alg:<8}{r['govlink']:>12,.0f}{r['pyjwt']:>12,.0f}{ratio:>7.2f}x"
                f"{r['cached']:>14,.0f}{cached_ratio:>9.0f}x"
            )
    print("goal (>= 1.0x with every check on):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
