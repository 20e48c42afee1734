"""The AES-256-GCM payload codec and its key ring, without Temporal."""

from __future__ import annotations

import base64
import secrets
import stat
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from mendflow.codec import (
    ENCODING,
    KEY_ID,
    AesGcmCodec,
    KeylessCodec,
    PayloadKeys,
    data_converter,
    embedded_keys,
    key_bytes,
    new_key_text,
)
from mendflow.errors import InputError, PayloadKeyError
from mendflow.models import Severity

CANARY = "canary-inventory-4f1d9c"


def _clear(text: str = CANARY) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


def _key() -> bytes:
    return secrets.token_bytes(32)


async def test_encoded_payload_is_ciphertext_that_decodes_back() -> None:
    """Encoding hides the data, labels it with the primary key id, and decoding restores it exactly."""
    codec = AesGcmCodec({"k1": _key()}, primary="k1")
    [sealed] = await codec.encode([_clear()])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"k1"
    assert CANARY.encode() not in sealed.SerializeToString()
    assert base64.b64encode(CANARY.encode()) not in sealed.SerializeToString()
    [opened] = await codec.decode([sealed])
    assert opened == _clear()


async def test_same_payload_encrypts_differently_each_time() -> None:
    """A fresh nonce per payload: equal inputs do not give equal ciphertexts."""
    codec = AesGcmCodec({"k1": _key()}, primary="k1")
    first, second = await codec.encode([_clear(), _clear()])
    assert first.data != second.data


async def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    """After a rotation the new primary encrypts and payloads sealed with the old key still open."""
    old, new = _key(), _key()
    before = AesGcmCodec({"2025": old}, primary="2025")
    after = AesGcmCodec({"2026": new, "2025": old}, primary="2026")
    [legacy] = await before.encode([_clear("old")])
    [fresh] = await after.encode([_clear("new")])
    assert fresh.metadata[KEY_ID] == b"2026"
    assert await after.decode([legacy, fresh]) == [_clear("old"), _clear("new")]
    assert after.key_ids == ("2026", "2025")


async def test_unknown_key_id_names_the_key_never_its_bytes() -> None:
    """A payload sealed with a key the ring lacks fails with the key id and the ring's ids, no key material."""
    gone, kept = _key(), _key()
    [sealed] = await AesGcmCodec({"retired": gone}, primary="retired").encode([_clear()])
    codec = AesGcmCodec({"current": kept}, primary="current")
    with pytest.raises(PayloadKeyError) as caught:
        await codec.decode([sealed])
    message = str(caught.value)
    assert "'retired'" in message and "current" in message
    for key in (gone, kept):
        assert key.hex() not in message
        assert base64.urlsafe_b64encode(key).decode().rstrip("=") not in message


async def test_relabelled_payload_does_not_decrypt() -> None:
    """The key id is authenticated: moving a payload under another id (or flipping a bit) is refused."""
    key = _key()
    codec = AesGcmCodec({"a": key, "b": _key()}, primary="a")
    [sealed] = await codec.encode([_clear()])
    relabelled = Payload(metadata={"encoding": ENCODING, KEY_ID: b"b"}, data=sealed.data)
    with pytest.raises(PayloadKeyError, match="'b' does not decrypt"):
        await codec.decode([relabelled])
    flipped = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(PayloadKeyError):
        await codec.decode([flipped])


async def test_clear_payloads_pass_through_decode() -> None:
    """Payloads written before encryption was switched on decode unchanged (old histories replay)."""
    codec = AesGcmCodec({"k": _key()}, primary="k")
    assert await codec.decode([_clear()]) == [_clear()]


def test_codec_refuses_a_short_key_or_unknown_primary() -> None:
    """A key that is not 32 bytes, or a primary outside the ring, is refused at construction."""
    with pytest.raises(PayloadKeyError, match="'k'"):
        AesGcmCodec({"k": b"short"}, primary="k")
    with pytest.raises(PayloadKeyError, match="'x'"):
        AesGcmCodec({"k": _key()}, primary="x")


async def test_data_converter_round_trips_models_through_the_ring(monkeypatch: pytest.MonkeyPatch) -> None:
    """The converter built from references encrypts what it serializes and reads it back."""
    monkeypatch.setenv("MF_TEST_PAYLOAD_KEY", new_key_text())
    converter = data_converter(PayloadKeys.parse("k1=env:MF_TEST_PAYLOAD_KEY"))
    [encoded] = await converter.encode([{"secret": CANARY, "severity": Severity.critical}])
    assert encoded.metadata[KEY_ID] == b"k1" and CANARY.encode() not in encoded.data
    [decoded] = await converter.decode([encoded], [dict])
    assert decoded == {"secret": CANARY, "severity": "critical"}
    assert isinstance(data_converter(None).payload_codec, KeylessCodec)


async def test_without_keys_payloads_stay_clear_and_an_encrypted_one_names_its_key() -> None:
    """A process given no ring writes clear payloads, and one it cannot read is a PayloadKeyError naming the key."""
    keyless = data_converter(None)
    [clear] = await keyless.encode([{"secret": CANARY}])
    assert clear.metadata["encoding"] == b"json/plain"
    sealed = AesGcmCodec({"prod-1": _key()}, primary="prod-1").encrypt(clear)
    with pytest.raises(PayloadKeyError, match=r"'prod-1'.*--payload-keys"):
        await keyless.decode([sealed], [dict])


def test_parse_takes_the_first_key_as_primary() -> None:
    """`ID=REF,ID=REF`: the first key encrypts, every key decrypts."""
    keys = PayloadKeys.parse("new=env:A, old=file:/run/secrets/old")
    assert keys.primary == "new"
    assert [r.ref for r in keys.keys.values()] == ["env:A", "file:/run/secrets/old"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "entry 1"),
        ("k1=env:A,,k2=env:B", "entry 2"),
        ("k1=plain-secret-value", "key 'k1'"),
        ("k1=env:A,k1=env:B", "given twice"),
        ("bad id=env:A", "entry 1"),
    ],
)
def test_parse_errors_name_the_entry_never_a_value(text: str, problem: str) -> None:
    """Malformed `--payload-keys` is an InputError naming the entry or key id, not the text given."""
    with pytest.raises(InputError, match=problem) as caught:
        PayloadKeys.parse(text)
    assert "plain-secret-value" not in str(caught.value)


def test_key_text_of_the_wrong_size_is_refused_without_echoing_it() -> None:
    """A key that is not 32 bytes of base64url names its key id and not its text."""
    text = base64.urlsafe_b64encode(b"x" * 16).decode()
    with pytest.raises(InputError, match="'k1'") as caught:
        key_bytes("k1", text)
    assert text not in str(caught.value)
    assert len(key_bytes("k1", new_key_text())) == 32


def test_missing_key_reference_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key whose variable is unset fails when resolved, naming the reference."""
    monkeypatch.delenv("MF_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(InputError, match="MF_TEST_NO_SUCH_KEY"):
        AesGcmCodec.from_keys(PayloadKeys.parse("k=env:MF_TEST_NO_SUCH_KEY"))


def test_embedded_key_is_private_and_reused(tmp_path: Path) -> None:
    """The embedded stack's key is made once, mode 0600, and the same key is read on the next start."""
    first = embedded_keys(tmp_path)
    path = Path(first.keys[first.primary].ref.removeprefix("file:"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert embedded_keys(tmp_path).resolve() == first.resolve()
    assert path.read_text() == text


async def test_failure_messages_are_encrypted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error's message and stack trace travel in an encrypted payload, not in the failure's clear fields."""
    monkeypatch.setenv("MF_TEST_PAYLOAD_KEY", new_key_text())
    converter = data_converter(PayloadKeys.parse("k1=env:MF_TEST_PAYLOAD_KEY"))
    failure = Failure()
    await converter.encode_failure(ApplicationError(f"cannot write {CANARY}"), failure)
    assert CANARY.encode() not in failure.SerializeToString()
    assert failure.encoded_attributes.metadata[KEY_ID] == b"k1"
    error = await converter.decode_failure(failure)
    assert CANARY in str(error)
