"""``govlink mock-province``: help, bad options, the OpenAPI document, a real short serve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from govlink._http import httpx
from govlink.adapters.reference import wire as ref
from govlink.cli import main
from govlink.testing import render_gateway_openapi, render_reference_openapi


def test_serve_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["mock-province", "serve", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--adapter", "--faults", "--seed"):
        assert option in out


def test_bad_fault_spec_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mock-province", "serve", "--faults", "meteor:rate=2"]) == 2
    err = capsys.readouterr().err
    assert "--faults" in err
    assert "faults[0].kind" in err
    assert "Traceback" not in err


def test_openapi_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mock-province", "openapi"]) == 0
    assert capsys.readouterr().out == render_reference_openapi()


def test_openapi_prints_the_gateway_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mock-province", "openapi", "--api", "gateway"]) == 0
    assert capsys.readouterr().out == render_gateway_openapi()
    assert main(["mock-province", "openapi", "--api", "nowhere"]) == 2
    assert "--api" in capsys.readouterr().err


def test_unknown_adapter_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mock-province", "serve", "--adapter", "nowhere", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "--adapter" in err
    assert "reference" in err
    assert "Traceback" not in err


@pytest.mark.server
def test_real_serve_in_a_subprocess() -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-c", "from govlink.cli import run; run()"]
    command += ["mock-province", "serve", "--port", "0", "--json", "--faults", "latency:ms=1"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        assert process.stdout is not None
        text = ""
        while True:
            line = process.stdout.readline()
            assert line, "the server ended before printing where it listens"
            text += line
            try:
                served = json.loads(text)
                break
            except json.JSONDecodeError:
                continue
        assert served["faults"] == "latency:ms=1"
        base = served["base_url"]
        for _ in range(100):  # the socket listens at once; uvicorn may need a moment
            try:
                with httpx.Client(base_url=base) as http:
                    token = http.post(
                        ref.TOKEN_PATH,
                        data={"grant_type": "client_credentials"},
                        auth=(
                            served["reference"]["client_id"],
                            served["reference"]["client_secret"],
                        ),
                    )
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert token.status_code == 200
        # The provincial identity platform is served on the same port, naming the served URL.
        identity = served["identity"]
        assert identity["issuer"] == f"{base}/identity"
        with httpx.Client() as http:
            keys = http.get(identity["jwks_url"]).json()["keys"]
            page = http.get(identity["sign_in_url"], params={"service": "http://127.0.0.1/cb"})
        assert keys
        assert all(key["kty"] for key in keys)
        assert page.status_code == 200
        assert "name='person' value='wang-l4'" in page.text
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]
    assert code == 0
