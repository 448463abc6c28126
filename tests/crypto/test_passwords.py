from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable

import pytest

from crypto.passwords import Argon2Params, PasswordHasher, VerifyResult

PASSWORD = "correct horse"
# Made once with argon2-cffi at Argon2Params.minimum() and at weaker (t=1, m=1024) params.
PINNED_MINIMUM = (
    "$argon2id$v=19$m=19456,t=2,p=1$cV0pFNJhrL9w3S1pd9gPIA"
    "$oir9Nr1B7qLRAPs0j6I4JH5hrYI70o/Wgmr6jaDQR9k"
)
PINNED_WEAK = (
    "$argon2id$v=19$m=1024,t=1,p=1$Cp11XB4HPVWcpBGr5YUs5A"
    "$ggcuNACzvvo6uRA60sOfgRadATJycgc3CD9kZv5ZJM8"
)
OK = VerifyResult(ok=True, needs_rehash=False)
OK_REHASH = VerifyResult(ok=True, needs_rehash=True)
FAILED = VerifyResult(ok=False, needs_rehash=False)


def hasher() -> PasswordHasher:
    return PasswordHasher(Argon2Params.minimum())


def django_pbkdf2(password: str, salt: str, iterations: int) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


@pytest.mark.parametrize(
    "params",
    [
        Argon2Params(time_cost=2, memory_kib=19455, parallelism=1),
        Argon2Params(time_cost=1, memory_kib=65536, parallelism=4),
        Argon2Params(time_cost=3, memory_kib=65536, parallelism=0),
    ],
)
def test_params_below_owasp_minimum_are_rejected(params: Argon2Params) -> None:
    with pytest.raises(ValueError):
        params.validate()
    with pytest.raises(ValueError):
        PasswordHasher(params)


def test_defaults_and_minimum_pass_validation() -> None:
    Argon2Params().validate()
    Argon2Params.minimum().validate()
    assert Argon2Params.minimum() == Argon2Params(time_cost=2, memory_kib=19456, parallelism=1)


def test_hash_verify_roundtrip() -> None:
    stored = hasher().hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher().verify(stored, PASSWORD) == OK
    assert hasher().hash(PASSWORD) != stored


def test_wrong_password_fails() -> None:
    stored = hasher().hash(PASSWORD)
    assert hasher().verify(stored, "correct horsf") == FAILED
    assert hasher().verify(stored, "") == FAILED


def test_pinned_argon2id_hash_verifies() -> None:
    assert hasher().verify(PINNED_MINIMUM, PASSWORD) == OK
    assert hasher().verify(PINNED_MINIMUM, "wrong") == FAILED


def test_weaker_argon2_hash_verifies_and_asks_for_rehash() -> None:
    assert hasher().verify(PINNED_WEAK, PASSWORD) == OK_REHASH
    assert hasher().verify(PINNED_WEAK, "wrong") == FAILED


def test_changed_params_ask_for_rehash() -> None:
    stronger = PasswordHasher(Argon2Params(time_cost=3, memory_kib=19456, parallelism=1))
    assert stronger.verify(PINNED_MINIMUM, PASSWORD) == OK_REHASH


def test_imported_django_pbkdf2_verifies_and_asks_for_rehash() -> None:
    stored = django_pbkdf2(PASSWORD, "sAlTsAlT1234", 10_000)
    assert hasher().verify(stored, PASSWORD) == OK_REHASH
    assert hasher().verify(stored, "wrong") == FAILED
    unicode_stored = django_pbkdf2("pässwörd ✓", "s", 1_000)
    assert hasher().verify(unicode_stored, "pässwörd ✓") == OK_REHASH


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$!!!$???",
        PINNED_MINIMUM[:-4],
        "$argon2i$v=19$m=19456,t=2,p=1$cV0pFNJhrL9w3S1pd9gPIA$oir9Nr1B7qLRAPs0j6I4JH5hrYI70o",
        "pbkdf2_sha256$",
        "pbkdf2_sha256$abc$salt$AAAA",
        "pbkdf2_sha256$-5$salt$AAAA",
        "pbkdf2_sha256$0$salt$" + "A" * 44,
        "pbkdf2_sha256$99999999999$salt$" + "A" * 44,
        "pbkdf2_sha256$1000$$" + "A" * 44,
        "pbkdf2_sha256$1000$salt$not base64!",
        "pbkdf2_sha256$1000$salt$AAAA",
        "pbkdf2_sha256$1000$salt$extra$" + "A" * 44,
        "pbkdf2_sha1$1000$salt$" + "A" * 28,
        "md5$salt$5f4dcc3b5aa765d61d8327deb882cf99",
    ],
)
def test_malformed_stored_hash_fails_without_raising(stored: str) -> None:
    assert hasher().verify(stored, PASSWORD) == FAILED


def test_unencodable_password_fails_without_raising() -> None:
    assert hasher().verify(PINNED_MINIMUM, "\ud800") == FAILED
    hasher().verify_dummy("\ud800")


def test_verify_dummy_costs_as_much_as_a_wrong_password() -> None:
    checker = hasher()

    def fastest(check: Callable[[], object]) -> float:
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            check()
            timings.append(time.perf_counter() - start)
        return min(timings)

    wrong = fastest(lambda: checker.verify(PINNED_MINIMUM, "wrong"))
    dummy = fastest(lambda: checker.verify_dummy("wrong"))
    # Loose bound: a dummy that skipped Argon2 would be orders of magnitude faster.
    assert dummy > wrong / 2
