"""The blob settings pick the engine; a missing setting fails at start, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.blobs import LocalBlobStore, S3BlobStore, blob_store_from_config


async def test_local_needs_only_a_root(tmp_path: Path) -> None:
    store = blob_store_from_config("local", root=tmp_path / "blobs")
    assert isinstance(store, LocalBlobStore)
    assert store.name == "local"
    await store.close()


@pytest.mark.parametrize(
    "keys", [{}, {"access_key_id": "AKIA", "secret_access_key": "hunter2"}], ids=["chain", "keys"]
)
async def test_s3_needs_a_bucket_and_makes_no_request(keys: dict[str, str]) -> None:
    store = blob_store_from_config(
        "s3", bucket="cove", endpoint_url="http://127.0.0.1:1", region="eu-west-1", **keys
    )
    assert isinstance(store, S3BlobStore)
    assert store.name == "s3"
    assert store.bucket == "cove"
    await store.close()


@pytest.mark.parametrize(
    ("kind", "options", "named"),
    [
        ("local", {}, "root"),
        ("s3", {}, "bucket"),
        ("s3", {"bucket": ""}, "bucket"),
        ("s3", {"bucket": "b", "access_key_id": "AKIA"}, "secret_access_key"),
        ("s3", {"bucket": "b", "secret_access_key": "hunter2"}, "access_key_id"),
        ("s3", {"bucket": "b", "endpoint_url": "ftp://hunter2@host"}, "endpoint_url"),
        ("swift", {}, "kind"),
    ],
)
def test_a_missing_or_wrong_setting_is_named(
    kind: str, options: dict[str, str], named: str
) -> None:
    with pytest.raises(ValueError, match=named) as refused:
        blob_store_from_config(kind, **options)  # type: ignore[arg-type]
    assert "hunter2" not in str(refused.value)
