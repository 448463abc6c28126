from __future__ import annotations

import dataclasses

import pytest

from crypto.errors import CryptoError, SealError
from crypto.field_seal import DataKey, FieldRef
from crypto.grants import Grant, GrantMinter
from crypto.keyring import Keyring

ROOT = bytes(range(32))
SALT = bytes(range(32, 64))
KEY = DataKey("ws-1", 1, bytes(range(64, 96)))
REF = FieldRef("message", "body", "msg-1", "ws-1")


def test_grant_cannot_be_constructed_directly() -> None:
    with pytest.raises(CryptoError):
        Grant("user-1", "read", "msg-1", "ws-1")


def test_grant_cannot_borrow_a_real_minter() -> None:
    minter = Keyring(ROOT, SALT).take_minter()
    with pytest.raises(CryptoError):
        Grant("user-1", "read", "msg-1", "ws-1", _minter=minter)


def test_grant_cannot_be_copied_onto_another_resource() -> None:
    grant = Keyring(ROOT, SALT).take_minter().mint("user-1", "read", "msg-1", "ws-1")
    with pytest.raises(CryptoError):
        dataclasses.replace(grant, resource_id="msg-2")


def test_minter_cannot_be_constructed_directly() -> None:
    with pytest.raises(CryptoError):
        GrantMinter()


def test_minter_is_handed_out_once() -> None:
    keyring = Keyring(ROOT, SALT)
    keyring.take_minter()
    with pytest.raises(CryptoError, match="minter already taken"):
        keyring.take_minter()


def test_minted_grant_shows_its_decision_but_not_its_minter() -> None:
    grant = Keyring(ROOT, SALT).take_minter().mint("user-1", "read", "msg-1", "ws-1")
    assert (grant.principal_id, grant.action, grant.resource_id, grant.workspace_id) == (
        "user-1",
        "read",
        "msg-1",
        "ws-1",
    )
    assert "minter" not in repr(grant)


def test_matching_grant_opens() -> None:
    keyring = Keyring(ROOT, SALT)
    grant = keyring.take_minter().mint("user-1", "read", "msg-1", "ws-1")
    assert keyring.open(grant, KEY, REF, keyring.seal(KEY, REF, b"hi")) == b"hi"


def test_account_scoped_field_opens_with_empty_workspace() -> None:
    keyring = Keyring(ROOT, SALT)
    ref = FieldRef("user", "email", "user-1", "")
    grant = keyring.take_minter().mint("user-1", "read", "user-1", "")
    assert keyring.open_text(grant, KEY, ref, keyring.seal_text(KEY, ref, "a@b.c")) == "a@b.c"


@pytest.mark.parametrize(
    ("resource_id", "workspace_id"),
    [("msg-2", "ws-1"), ("msg-1", "ws-2"), ("msg-1", ""), ("ws-1", "ws-1")],
    ids=["other-resource", "other-workspace", "no-workspace", "workspace-as-resource"],
)
def test_grant_for_something_else_is_refused(resource_id: str, workspace_id: str) -> None:
    keyring = Keyring(ROOT, SALT)
    sealed = keyring.seal(KEY, REF, b"hi")
    grant = keyring.take_minter().mint("user-1", "read", resource_id, workspace_id)
    with pytest.raises(SealError):
        keyring.open(grant, KEY, REF, sealed)
    with pytest.raises(SealError):
        keyring.open_text(grant, KEY, REF, sealed)


def test_grant_from_another_keyring_is_refused() -> None:
    keyring = Keyring(ROOT, SALT)
    keyring.take_minter()
    sealed = keyring.seal(KEY, REF, b"hi")
    # Same root key and salt: a twin keyring's minter is still a different authority.
    foreign = Keyring(ROOT, SALT).take_minter().mint("user-1", "read", "msg-1", "ws-1")
    with pytest.raises(SealError):
        keyring.open(foreign, KEY, REF, sealed)


def test_something_that_is_not_a_grant_is_refused() -> None:
    keyring = Keyring(ROOT, SALT)
    sealed = keyring.seal(KEY, REF, b"hi")
    for fake in (None, object(), "msg-1"):
        with pytest.raises(SealError):
            keyring.open(fake, KEY, REF, sealed)  # type: ignore[arg-type]
