"""Grants: proof that the authorizer allowed one principal one action on one resource."""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field

from crypto.errors import CryptoError

# Only this module holds these; constructing a Grant or GrantMinter without them
# fails, so a resolver cannot fabricate the proof the keyring asks for.
_MINTING = object()
_ISSUING = object()


class GrantMinter:
    """Mints Grants; each Keyring owns exactly one and hands it out once."""

    __slots__ = ()

    def __init__(self, _token: object = None) -> None:
        if _token is not _ISSUING:
            raise CryptoError("a GrantMinter comes only from Keyring.take_minter()")

    def mint(self, principal_id: str, action: str, resource_id: str, workspace_id: str) -> Grant:
        """Record that `principal_id` may perform `action` on `resource_id`."""
        return Grant(principal_id, action, resource_id, workspace_id, self, _MINTING)


@dataclass(frozen=True)
class Grant:
    """An authorisation decision, required by the keyring to open a sealed field."""

    principal_id: str
    action: str
    resource_id: str
    workspace_id: str
    _minter: GrantMinter | None = field(default=None, repr=False)
    # An InitVar rather than a field, so dataclasses.replace() cannot carry it over
    # onto a grant with a different resource.
    _token: InitVar[object] = None

    def __post_init__(self, _token: object) -> None:
        if _token is not _MINTING or self._minter is None:
            raise CryptoError("a Grant comes only from GrantMinter.mint()")


def _new_minter() -> GrantMinter:
    """Create a minter; for the Keyring only."""
    return GrantMinter(_ISSUING)


def minted_by(grant: Grant, minter: GrantMinter) -> bool:
    """Tell whether `grant` was minted by exactly this `minter`."""
    return isinstance(grant, Grant) and grant._minter is minter
