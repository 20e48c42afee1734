"""The codec server (`/codec/decode`, `/codec/encode`) of the real API on loopback: who may decode, and CORS."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from mendflow.api.assemble import build_api
from mendflow.auth.signing import DecisionSigner
from mendflow.auth.tokens import Role, StoredTokens
from mendflow.codec import KEY_ID, AesGcmCodec, PayloadKeys, new_key_text
from mendflow.rbac import Person, RbacConfig
from mendflow.runtime.client import TemporalSettings
from mendflow.runtime.loopback import serve_in_thread
from mendflow.settings import Settings
from mendflow.store import Database, database_url

UI = "http://127.0.0.1:8233"
CANARY = "canary-captured-state-7d3e"


@dataclass
class CodecApi:
    base_url: str
    codec: AesGcmCodec
    viewer: str
    operator: str


@pytest.fixture
def codec_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CodecApi]:
    """The real API (no Temporal behind it) with a payload key ring, a viewer's and an operator's tokens."""
    name = f"MF_TEST_PAYLOAD_KEY_{secrets.token_hex(4).upper()}"
    monkeypatch.setenv(name, new_key_text())
    keys = PayloadKeys.parse(f"k1=env:{name}")
    db = Database.open(database_url(tmp_path))
    settings = Settings(rbac=RbacConfig(people={"vera": Person(), "otto": Person()}))
    temporal = TemporalSettings(address="127.0.0.1:1", payload_keys=keys)
    app = build_api(settings, temporal, data_dir=tmp_path, signer=DecisionSigner.generate(), codec_origins=[UI])
    tokens = StoredTokens(db)
    viewer, _ = tokens.create(person="vera", role=Role.viewer, name="ui", ttl_seconds=3600)
    operator, _ = tokens.create(person="otto", role=Role.operator, name="cli", ttl_seconds=3600)
    with serve_in_thread(app) as server:
        yield CodecApi(server.base_url, AesGcmCodec.from_keys(keys), viewer, operator)
    db.dispose()


def _body(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def _read(text: str) -> list[Payload]:
    return list(json_format.Parse(text, Payloads()).payloads)


def _sealed(api: CodecApi) -> Payload:
    return api.codec.encrypt(Payload(metadata={"encoding": b"json/plain"}, data=f'"{CANARY}"'.encode()))


def test_a_viewer_decodes_what_the_ui_sends(codec_api: CodecApi) -> None:
    """An authenticated viewer gets the clear payload back, in the protobuf JSON the Temporal UI reads."""
    answer = httpx.post(
        f"{codec_api.base_url}/codec/decode",
        content=_body([_sealed(codec_api)]),
        headers={"Authorization": f"Bearer {codec_api.viewer}", "Content-Type": "application/json",
                 "X-Namespace": "default", "Origin": UI},
        timeout=30,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    [payload] = _read(answer.text)
    assert payload.data == f'"{CANARY}"'.encode()
    assert answer.headers["access-control-allow-origin"] == UI


@pytest.mark.parametrize("header", [None, "Bearer mfp_not-a-real-token", "Basic dmVyYTp4"])
def test_without_a_valid_credential_the_payload_stays_ciphertext(codec_api: CodecApi, header: str | None) -> None:
    """No token, an unknown one or another scheme: 401, and nothing decrypted comes back."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": header} if header else {})
    answer = httpx.post(f"{codec_api.base_url}/codec/decode", content=_body([_sealed(codec_api)]), headers=headers,
                        timeout=30)  # fmt: skip
    assert answer.status_code == 401, answer.text
    assert CANARY not in answer.text
    assert base64.b64encode(f'"{CANARY}"'.encode()).decode() not in answer.text


def test_encoding_needs_an_operator(codec_api: CodecApi) -> None:
    """A viewer may read but not mint ciphertext (403); an operator's encode is what the workers read."""
    clear = Payload(metadata={"encoding": b"json/plain"}, data=b'"signal input"')
    refused = httpx.post(f"{codec_api.base_url}/codec/encode", content=_body([clear]),
                         headers={"Authorization": f"Bearer {codec_api.viewer}"}, timeout=30)  # fmt: skip
    assert refused.status_code == 403 and "encode needs operator" in refused.json()["error"]
    answer = httpx.post(f"{codec_api.base_url}/codec/encode", content=_body([clear]),
                        headers={"Authorization": f"Bearer {codec_api.operator}"}, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    [sealed] = _read(answer.text)
    assert sealed.metadata[KEY_ID] == b"k1" and b"signal input" not in sealed.data
    assert codec_api.codec.decrypt(sealed) == clear


def test_cors_preflight_is_answered_only_for_the_ui_origin(codec_api: CodecApi) -> None:
    """The configured UI origin may send Authorization cross-origin; any other origin is not allowed."""
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    ok = httpx.options(f"{codec_api.base_url}/codec/decode", headers=ask | {"Origin": UI}, timeout=30)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == UI
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    other = httpx.options(f"{codec_api.base_url}/codec/decode", headers=ask | {"Origin": "https://evil.example"},
                          timeout=30)  # fmt: skip
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers


def test_unknown_key_id_is_a_422_naming_it(codec_api: CodecApi) -> None:
    """A payload sealed with a key the ring lacks is refused with its key id, not a 500."""
    foreign = AesGcmCodec({"2019": secrets.token_bytes(32)}, primary="2019")
    sealed = foreign.encrypt(Payload(metadata={"encoding": b"json/plain"}, data=b'"x"'))
    answer = httpx.post(f"{codec_api.base_url}/codec/decode", content=_body([sealed]),
                        headers={"Authorization": f"Bearer {codec_api.viewer}"}, timeout=30)  # fmt: skip
    assert answer.status_code == 422 and "'2019'" in answer.json()["error"]


def test_a_body_that_is_not_payloads_is_a_400(codec_api: CodecApi) -> None:
    """Not Temporal's Payloads JSON: 400 saying so."""
    answer = httpx.post(f"{codec_api.base_url}/codec/decode", content=b'{"payloads": 7}',
                        headers={"Authorization": f"Bearer {codec_api.viewer}"}, timeout=30)  # fmt: skip
    assert answer.status_code == 400 and "Payloads JSON" in answer.json()["error"]


def test_no_codec_routes_without_payload_keys(tmp_path: Path) -> None:
    """An API whose payloads are not encrypted serves no codec endpoint."""
    app = build_api(Settings(), TemporalSettings(address="127.0.0.1:1"), data_dir=tmp_path,
                    signer=DecisionSigner.generate())  # fmt: skip
    with serve_in_thread(app) as server:
        assert httpx.post(f"{server.base_url}/codec/decode", content=b"{}", timeout=30).status_code == 404


def test_browser_sign_in_lets_the_ui_decode_with_a_cookie_only(codec_api: CodecApi) -> None:
    """A viewer's token pasted at /codec/login becomes an HttpOnly cookie that decodes (and never encodes)."""
    with httpx.Client(base_url=codec_api.base_url, timeout=30) as browser:
        assert "password" in browser.get("/codec/login").text
        signed_in = browser.post("/codec/login", data={"token": codec_api.viewer})
        assert signed_in.status_code == 200 and "Signed in as vera" in signed_in.text
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/codec/decode" in cookie
        answer = browser.post("/codec/decode", content=_body([_sealed(codec_api)]), headers={"Origin": UI})
        assert answer.status_code == 200, answer.text
        assert _read(answer.text)[0].data == f'"{CANARY}"'.encode()
        clear = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')
        assert browser.post("/codec/encode", content=_body([clear])).status_code == 401


def test_browser_sign_in_with_a_bad_token_sets_no_cookie(codec_api: CodecApi) -> None:
    """An unknown token is refused like any API request, and the browser stays without a session."""
    with httpx.Client(base_url=codec_api.base_url, timeout=30) as browser:
        refused = browser.post("/codec/login", data={"token": "mfp_not-a-real-token"})
        assert refused.status_code == 401 and "set-cookie" not in refused.headers
        assert browser.post("/codec/decode", content=_body([_sealed(codec_api)])).status_code == 401
