"""Password hashing off the event loop, with a bound on hashes computed at once."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from crypto.passwords import PasswordHasher, VerifyResult

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


class PasswordService:
    """Runs Argon2id in a bounded thread pool so the loop keeps serving while it works."""

    def __init__(self, hasher: PasswordHasher, concurrency: int) -> None:
        self._hasher = hasher
        # A dedicated pool: its size bounds memory (each hash holds memory_kib) and CPU use.
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cove-argon2")

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, stored: str, password: str) -> VerifyResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.verify, stored, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for callers with no account to check against."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._hasher.verify_dummy, password)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
