"""The identity provider's deployment file: halls, clients and exchange rules from TOML/JSON,
each problem a ConfigError naming the field and the rule; and the development halls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey

from govlink import ConfigError
from govlink.identity import dev_halls, load_provider_config
from govlink.identity._provider import redirect_allowed

CITY = "https://sso.dongying.example"
PROVINCE = "https://sso.shandong.example"

FILE = """
[[halls]]
client_id = "hall-370502"
hall_code = "370502"
redirect_uris = ["https://370502.hall.example/callback"]
post_logout_redirect_uris = ["https://370502.hall.example/"]
backchannel_logout_uri = "https://370502.hall.example/backchannel-logout"
grant_types = [
    "authorization_code",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:token-exchange",
]

[[halls]]
client_id = "hall-370503"
hall_code = "370503"
name = "河口区政务服务中心"
grant_types = ["client_credentials"]
scopes = ["cases:read"]
token_endpoint_auth_method = "private_key_jwt"
jwks = {keys = [JWK]}

[[exchange]]
subject_issuer = "city"
clients = ["hall-370502"]
audiences = ["hall-370503"]
min_acr = 3

[[exchange]]
subject_issuer = "province"
"""


def write(tmp_path: Path, text: str, name: str = "idp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
def jwk() -> dict[str, object]:
    key = ECKey.generate_key("P-256", auto_kid=True)
    return dict(key.as_dict(private=False))


def toml_of(jwk: dict[str, object]) -> str:
    inline = "{" + ", ".join(f'{k} = "{v}"' for k, v in jwk.items()) + "}"
    return FILE.replace("JWK", inline)


def test_halls_clients_and_exchange_rules_are_read(tmp_path: Path, jwk: dict[str, object]) -> None:
    config = load_provider_config(write(tmp_path, toml_of(jwk)))
    first = config.halls.resolve("hall-370502")
    assert first.redirect_uris == ("https://370502.hall.example/callback",)
    assert first.post_logout_redirect_uris == ("https://370502.hall.example/",)
    assert first.name not in ("", "hall-370502")  # named from the region registry
    second = config.halls.resolve("370503")
    assert second.auth_method == "private_key_jwt"
    assert second.grant_types == frozenset({"client_credentials"})
    assert second.jwks is not None
    policy = config.exchange_policy(CITY, [PROVINCE])
    assert [r.subject_issuer for r in policy.rules] == [CITY, PROVINCE]
    assert policy.rules[0].audiences == frozenset({"hall-370503"})
    assert policy.rules[0].min_acr == 3


def test_json_is_read_too(tmp_path: Path) -> None:
    data = {
        "halls": [{"client_id": "h", "hall_code": "370502", "grant_types": ["client_credentials"]}]
    }
    config = load_provider_config(write(tmp_path, json.dumps(data), "idp.json"))
    assert config.halls.resolve("h").hall_code == "370502"
    assert config.exchange_rules == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("private_key_jwt", "tls_client_auth"),
            "halls[1].token_endpoint_auth_method: known_method",
        ),
        (("jwks = {keys = [JWK]}", ""), "halls[1].jwks: required"),
        (('client_id = "hall-370503"', 'client_id = "hall-370502"'), "halls[1].client_id: unique"),
        (
            ('redirect_uris = ["https://370502.hall.example/callback"]', ""),
            "halls[0].redirect_uris: required",
        ),
        (("min_acr = 3", "min_acr = 9"), "exchange[0].min_acr"),
        (
            ('"https://370502.hall.example/"', '"https://370502.hall.example/#x"'),
            "halls[0].post_logout_redirect_uris[0]: no_fragment",
        ),
    ],
)
def test_each_problem_names_its_field_and_rule(
    tmp_path: Path, jwk: dict[str, object], change: tuple[str, str], message: str
) -> None:
    old, new = change
    text = FILE.replace(old, new) if "JWK" in old else toml_of(jwk).replace(old, new)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_provider_config(write(tmp_path, text))


def test_a_private_jwk_is_refused(tmp_path: Path) -> None:
    private = dict(ECKey.generate_key("P-256", auto_kid=True).as_dict(private=True))
    with pytest.raises(ConfigError, match=r"halls\[1\]\.jwks: public_key"):
        load_provider_config(write(tmp_path, toml_of(private)))


def test_dev_halls_take_loopback_redirects_on_any_port() -> None:
    halls = dev_halls("370500")
    hall = halls.resolve("hall-370502")
    assert "client_credentials" in hall.grant_types
    assert hall.backchannel_logout_uri is None
    assert redirect_allowed("http://127.0.0.1:53121/callback", hall.redirect_uris)
    assert redirect_allowed("http://localhost:8080/callback", hall.redirect_uris)
    assert not redirect_allowed("http://127.0.0.1:53121/other", hall.redirect_uris)
    assert not redirect_allowed("http://evil.example:80/callback", hall.redirect_uris)
    assert not redirect_allowed("https://127.0.0.1:443/callback", hall.redirect_uris)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
_hall = st.fixed_dictionaries(
    {},
    optional={
        "client_id": _json | st.just("hall-370502"),
        "hall_code": _json | st.just("370502"),
        "redirect_uris": _json | st.just(["https://370502.hall.example/callback"]),
        "grant_types": _json | st.just(["client_credentials"]),
        "token_endpoint_auth_method": _json | st.just("private_key_jwt"),
        "jwks": _json | st.just({"keys": [{"kty": "oct", "k": "x", "kid": "k"}]}),
        "scopes": _json,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.fixed_dictionaries(
        {},
        optional={
            "halls": st.lists(_hall, max_size=3) | _json,
            "exchange": st.lists(
                st.dictionaries(st.text(max_size=12), _json, max_size=4), max_size=2
            )
            | _json,
            "sign_in": st.dictionaries(
                st.sampled_from(["authenticator", "users", "max_failures"]), _json
            )
            | _json,
        },
    )
)
def test_any_file_is_read_or_refused_with_a_config_error(tmp_path: Path, data: object) -> None:
    """Whatever the file holds, the loader answers a configuration or a ConfigError."""
    path = tmp_path / "idp.json"
    path.write_text(json.dumps(data), "utf-8")
    problem: ConfigError | None = None
    try:
        load_provider_config(path)
    except ConfigError as exc:
        problem = exc
    if problem is not None:
        assert ": " in problem.message  # names the field and the rule
