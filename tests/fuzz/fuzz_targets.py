"""Coverage-guided fuzz targets (atheris/libFuzzer) for govlink's parsers.

Each target takes the fuzzer's bytes and feeds them to one public parser. A crash is any
exception that is not govlink's own (for the token verifier: not one of govlink's identity
errors); every govlink error is an accepted outcome. libFuzzer mutates a seed corpus of valid
inputs (sample events, items, a holiday file, a signed token), so the parsers are exercised
deep inside as well as at the edge.

Run one target (the bounded run in the default suite is ``tests/fuzz/test_fuzz.py``)::

    .venv/bin/python tests/fuzz/fuzz_targets.py event CORPUS_DIR -max_total_time=60
    .venv/bin/python tests/fuzz/fuzz_targets.py event crash-<sha1>   # replay a crash

``CORPUS_DIR`` is created and filled with the target's seeds when missing or empty; the other
arguments are libFuzzer's (``-runs``, ``-max_total_time``, ``-seed``, ``-artifact_prefix`` ...).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Target names, in the order the tests run them.
TARGETS = ("event", "item", "identifier", "holidays", "token")

_ROOT = Path(__file__).resolve().parents[2]
_SAMPLES = _ROOT / "src" / "govlink" / "samples" / "data"
AUDIENCE = "hall-370502"
ISSUER = "https://sso.dongying.example"


def _json(data: bytes) -> tuple[bool, Any]:
    # The parsers take decoded JSON; bytes that are not JSON test the JSON library, not them.
    try:
        return True, json.loads(data)
    except (ValueError, RecursionError):
        return False, None


def _records(kind: str, limit: int) -> list[bytes]:
    lines = (_SAMPLES / "cases.ndjson").read_text("utf-8").splitlines()
    found = []
    for line in lines:
        record = json.loads(line)
        if record.pop("kind") == kind:
            found.append(json.dumps(record, ensure_ascii=False).encode())
        if len(found) == limit:
            break
    return found


def build_event() -> tuple[Callable[[bytes], None], list[bytes]]:
    from govlink import GovlinkError
    from govlink.domain import parse_case, parse_case_event

    def target(data: bytes) -> None:
        ok, value = _json(data)
        if not ok:
            return
        for parse in (parse_case_event, parse_case):
            with contextlib.suppress(GovlinkError):
                parse(value)

    return target, _records("event", 6) + _records("case", 2)


def build_item() -> tuple[Callable[[bytes], None], list[bytes]]:
    from govlink import GovlinkError
    from govlink.domain import parse_item

    def target(data: bytes) -> None:
        ok, value = _json(data)
        if not ok:
            return
        try:
            item = parse_item(value, check=False)
        except GovlinkError:
            return
        item.findings()
        item.content_hash()

    catalog = json.loads((_SAMPLES / "catalog.json").read_text("utf-8"))
    items = [json.dumps(i, ensure_ascii=False).encode() for i in catalog["items"][:6]]
    return target, items


def build_identifier() -> tuple[Callable[[bytes], None], list[bytes]]:
    from govlink import GovlinkError
    from govlink.domain import CreditCode, ResidentId, default_regions, normalise_region_code

    regions = default_regions()

    def target(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        for parse in (
            ResidentId.parse,
            CreditCode.parse,
            normalise_region_code,
            regions.get,
        ):
            with contextlib.suppress(GovlinkError):
                parse(text)

    seeds = [b"11010519491231002X", b"91370502MA3C4F5G6X", b"370521000000", b"370500"]
    return target, seeds


def build_holidays() -> tuple[Callable[[bytes], None], list[bytes]]:
    from govlink import GovlinkError
    from govlink.domain import load_holiday_file

    folder = scratch_folder()
    paths = [folder / "holidays.json", folder / "holidays.toml"]

    def target(data: bytes) -> None:
        # The first byte picks the format, so both decoders get every mutation.
        path = paths[data[0] % 2] if data else paths[0]
        path.write_bytes(data[1:])
        with contextlib.suppress(GovlinkError):
            load_holiday_file(path)

    toml = (
        'format = "govlink-holidays/1"\nsource = "国办发明电"\n[[years]]\nyear = 2027\n'
        'holidays = ["2027-01-01", "2027-02-06..2027-02-12", 2027-10-01]\n'
        'makeup_workdays = ["2027-02-14"]\n'
    )
    data = {
        "format": "govlink-holidays/1",
        "years": [
            {
                "year": 2027,
                "source": "s",
                "holidays": ["2027-01-01", "2027-02-06..2027-02-12"],
                "makeup_workdays": ["2027-02-14"],
            }
        ],
    }
    return target, [b"\x00" + json.dumps(data).encode(), b"\x01" + toml.encode()]


def scratch_folder() -> Path:
    """Where the holiday target writes its file: ``$GOVLINK_FUZZ_SCRATCH`` (the tests make
    and remove one), else a new folder removed at exit. /dev/shm where there is one, since
    opening a file on disk would take most of each run."""
    given = os.environ.get("GOVLINK_FUZZ_SCRATCH")
    if given:
        return Path(given)
    shm = Path("/dev/shm")  # noqa: S108 - only a parent for mkdtemp, never a fixed name
    folder = tempfile.mkdtemp(prefix="govlink-fuzz-", dir=shm if shm.is_dir() else None)
    atexit.register(shutil.rmtree, folder, True)
    return Path(folder)


def token_verifier() -> tuple[Any, list[str]]:
    """A verifier trusting one ES256 key, and valid tokens for it (access and id)."""
    from joserfc.jwk import ECKey

    from govlink import VirtualClock
    from govlink.identity import TrustedIssuer, VerificationKey, Verifier
    from govlink.identity._jose import sign_compact

    key = ECKey.generate_key("P-256")
    public = VerificationKey.from_key(key, "k1", "ES256")

    class Keys:
        def lookup(self, kid: str) -> VerificationKey | None:
            return public if kid == "k1" else None

        get_key = lookup

        async def aget_key(self, kid: str) -> VerificationKey | None:
            return self.lookup(kid)

    clock = VirtualClock()
    verifier = Verifier(
        [TrustedIssuer(ISSUER, Keys())], audience=AUDIENCE, clock=clock, cache_size=0
    )
    now = int(clock.time())
    claims = {
        "iss": ISSUER,
        "sub": "p-1",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "jti": "j-1",
        "scope": "cases:read",
        "amr": ["pwd"],
    }
    tokens = [
        sign_compact({"alg": "ES256", "kid": "k1", "typ": "at+jwt"}, claims, key),
        sign_compact(
            {"alg": "ES256", "kid": "k1", "typ": "JWT"},
            {**claims, "aud": [AUDIENCE, "x"], "azp": AUDIENCE},
            key,
        ),
    ]
    verifier.verify(tokens[0])  # the seeds are valid: mutations start from a real token
    return verifier, tokens


def build_token() -> tuple[Callable[[bytes], None], list[bytes]]:
    from govlink.identity import IdentityError

    verifier, tokens = token_verifier()

    def target(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        for kind in ("access", "id"):
            with contextlib.suppress(IdentityError):
                verifier.verify(text, kind=kind)

    return target, [t.encode() for t in tokens]


BUILDERS: dict[str, Callable[[], tuple[Callable[[bytes], None], list[bytes]]]] = {
    "event": build_event,
    "item": build_item,
    "identifier": build_identifier,
    "holidays": build_holidays,
    "token": build_token,
}


def main(argv: list[str]) -> None:
    """``fuzz_targets.py TARGET [CORPUS_DIR|CRASH_FILE] [libFuzzer options]``."""
    import atheris

    if len(argv) < 2 or argv[1] not in BUILDERS:
        sys.exit(f"usage: {argv[0]} {{{','.join(TARGETS)}}} [corpus] [libFuzzer options]")
    name = argv[1]
    # Instrument govlink (and only govlink) so libFuzzer sees which of its branches ran.
    with atheris.instrument_imports(include=["govlink"]):
        target, seeds = BUILDERS[name]()
    rest = argv[2:]
    corpus = next((Path(a) for a in rest if not a.startswith("-")), None)
    if corpus is not None and (not corpus.exists() or corpus.is_dir()):
        corpus.mkdir(parents=True, exist_ok=True)
        if not any(corpus.iterdir()):
            for index, seed in enumerate(seeds):
                (corpus / f"seed-{index}").write_bytes(seed)
    atheris.Setup([argv[0], *rest], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
