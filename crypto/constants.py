"""Constants baked into the code: the pepper and the format versions."""

from __future__ import annotations

from typing import Final

# Twake's "static salt in code": an attacker needs the code as well as the
# configuration and the root key to rebuild any derived key.
CODE_PEPPER: Final[bytes] = bytes.fromhex(
    "f17f731d790df8d364bd2fff8dc06f789b4fcce8e13262251097889aa8b0026c"
)

FIELD_FORMAT_V1: Final[int] = 1
WRAP_FORMAT_V1: Final[int] = 1
