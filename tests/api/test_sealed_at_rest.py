"""Emails, display names, passwords and bearer tokens never reach the disk in plaintext."""

from __future__ import annotations

from pathlib import Path

from support import LOG_IN, PASSWORD, make_settings, serve, sign_up, stored_contents


def all_bytes(directory: Path) -> list[tuple[Path, bytes]]:
    return stored_contents(directory)


def test_canary_absent_from_every_file_of_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    canary_email = "zebra-canary-7f3a@quartz-canary.example"
    canary_name = "Canary Xylophone Quokka"
    with serve(make_settings(data_dir)) as server:
        client = server.client()
        first_token, _ = sign_up(client, canary_email, name=canary_name)
        second = client.data(LOG_IN, {"email": canary_email, "password": PASSWORD})
        tokens = [first_token, second["logIn"]["token"]]
        files = all_bytes(data_dir)  # while running: database, WAL and shared memory
    files += all_bytes(data_dir)  # after shut-down and checkpoint
    needles = [
        canary_email.encode(),
        canary_email.encode("utf-16-le"),
        b"zebra-canary",
        canary_name.encode(),
        b"Xylophone",
        canary_name.encode("utf-16-le"),
        PASSWORD.encode(),
        # Bearer tokens are stored only as hashes: neither the token nor its random part.
        *(token.encode() for token in tokens),
        *(token.removeprefix("cove_").encode() for token in tokens),
    ]
    for path, content in files:
        for needle in needles:
            assert needle not in content.lower() and needle.lower() not in content.lower(), (
                f"{needle!r} found in {path}"
            )
