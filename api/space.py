"""The local volumes a server writes, watched for free space (persistence/space.py).

The data dir's volume is watched when it holds the SQLite store (and keeps the reserve file
deletes use once it fills); the blob root's when blobs are kept locally. ScyllaDB's and S3's
disks are theirs to watch.
"""

from __future__ import annotations

import asyncio
import logging

from api.settings import Settings
from persistence.space import StorageFull, Volume

log = logging.getLogger("cove.space")

# How often a server measures its volumes' free space (besides each `/ready`), so a full
# volume is noticed, and one with room again is written to again, within this many seconds.
PROBE_EVERY_SECONDS = 5.0


def volumes_of(settings: Settings) -> dict[str, Volume]:
    """The volumes to watch, by the setting that names each (`data_dir`, `blob_dir`)."""
    volumes: dict[str, Volume] = {}
    if settings.store == "sqlite":
        volumes["data_dir"] = Volume(
            "data_dir", settings.data_dir, min_free_bytes=settings.min_free_bytes, reserve=True
        )
    if settings.blob_store == "local":
        volumes["blob_dir"] = Volume(
            "blob_dir",
            settings.resolved_blob_dir,
            min_free_bytes=settings.min_free_bytes,
            reserve=False,
        )
    return volumes


async def probe(volume: Volume) -> None:
    """Measure one volume (in a thread: statvfs may block on a network file system); raise
    StorageFull while it is full."""
    if await asyncio.to_thread(volume.probe):
        raise StorageFull(f"the {volume.name} volume at {volume.path} is full")


async def watch(volumes: dict[str, Volume], every: float = PROBE_EVERY_SECONDS) -> None:
    """Measure every volume each `every` seconds, until cancelled."""
    while True:
        for volume in volumes.values():
            try:
                await probe(volume)
            except StorageFull:
                pass  # logged by the volume when it filled
            except Exception:
                log.warning("could not measure the free space of %s", volume.path, exc_info=True)
        await asyncio.sleep(every)
