"""TOTP (RFC 6238) codes and recovery codes: 30 s steps, one step either side, never loose."""

from __future__ import annotations

import pyotp

from crypto import totp


def test_a_code_matches_its_own_step_and_one_either_side_only() -> None:
    secret = totp.new_secret()
    now = 1_800_000_015.0  # 15 s into a step
    step = int(now // 30)
    for offset in (-1, 0, 1):
        code = pyotp.TOTP(secret).at(now + 30 * offset)
        assert totp.matching_step(secret, code, now) == step + offset
    for offset in (-3, -2, 2, 3):
        code = pyotp.TOTP(secret).at(now + 30 * offset)
        assert totp.matching_step(secret, code, now) is None


def test_malformed_codes_match_nothing() -> None:
    secret = totp.new_secret()
    code = pyotp.TOTP(secret).at(1_800_000_000)
    for bad in (
        "",
        "12345",
        "1234567",
        "abcdef",
        code + "0",
        "\uff11\uff12\uff13\uff14\uff15\uff16",
    ):
        assert totp.matching_step(secret, bad, 1_800_000_000) is None
    # Spaces a person types between the groups are fine.
    assert totp.matching_step(secret, f"{code[:3]} {code[3:]}", 1_800_000_000) is not None


def test_secrets_are_160_bits_of_base32() -> None:
    secrets = {totp.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(s) == 32 and s.isalnum() and s.isupper() for s in secrets)


def test_the_uri_is_what_authenticator_apps_read() -> None:
    uri = totp.otpauth_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "ann@example.org", "Cove")
    assert uri.startswith("otpauth://totp/Cove:ann%40example.org?")
    assert "secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" in uri
    assert "issuer=Cove" in uri


def test_recovery_codes_are_ten_distinct_and_normalise() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == 10 == len(set(codes))
    for code in codes:
        assert len(code) == 11 and code[5] == "-"
        assert totp.normalize_recovery_code(code.upper().replace("-", " ")) == code
    assert totp.normalize_recovery_code("not a code") is None
