"""Backup, verify and restore of a data dir: time and peak memory, against `tar` of the same dir.

Builds a data dir of about `--mib` MiB (a quarter SQLite rows, the rest 1 MiB blobs, all random
bytes as sealed data is), then runs each step as its own process (`cove backup create`,
`verify`, `restore`, and the baseline `tar -cf`) and reads its wall time and peak RSS from
wait4. Ratios are against the `tar` of this run. Each process's peak RSS includes what it
was forked from (about 30 MiB, the floor `tar` shows) and Cove's imports.
Run: python -m bench.backup [--mib 32]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crypto.backup_seal import BackupIdentity

MiB = 1024 * 1024
ROW_BYTES = 4096


def build(data: Path, mib: int) -> None:
    run(["init", "--data-dir", str(data)])
    rows = mib * MiB // 4 // ROW_BYTES
    with sqlite3.connect(data / "cove.db") as connection:
        connection.execute("CREATE TABLE payload (id INTEGER PRIMARY KEY, sealed BLOB)")
        connection.executemany(
            "INSERT INTO payload (sealed) VALUES (?)",
            ((os.urandom(ROW_BYTES),) for _ in range(rows)),
        )
    for n in range(mib - mib // 4):
        blob = data / "blobs" / "files" / f"{n:05d}" / "v1"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(os.urandom(MiB))


def run(args: list[str], **env: str) -> None:
    command = [sys.executable, "-m", "api.cli", *args]
    subprocess.run(command, check=True, env={**os.environ, **env}, capture_output=True)


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(
            f"{command[:5]} failed: {process.stderr.read().decode() if process.stderr else ''}"
        )
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=32, help="size of the data dir in MiB")
    args = parser.parse_args()
    cove = [sys.executable, "-m", "api.cli"]
    with tempfile.TemporaryDirectory(prefix="cove-bench-backup-") as scratch:
        root = Path(scratch)
        data, out = root / "data", root / "backups"
        build(data, args.mib)
        size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        identity = root / "identity.key"
        run(["backup", "keygen", "--out", str(identity)])
        recipient = {"COVE_BACKUP_RECIPIENT": str(BackupIdentity.load(identity).recipient)}
        figures = {
            "tar -cf (baseline)": measure(
                ["tar", "-cf", str(root / "plain.tar"), "-C", str(data), "."]
            ),
            "cove backup create": measure(
                [*cove, "backup", "create", "--data-dir", str(data), "--to", str(out)], recipient
            ),
        }
        archive = next(out.iterdir())
        archive_size = archive.stat().st_size
        figures["tar -xf (baseline)"] = measure(
            ["sh", "-c", f"mkdir {root}/untar && tar -xf {root}/plain.tar -C {root}/untar"]
        )
        figures["cove backup verify"] = measure(
            [*cove, "backup", "verify", str(archive), "--identity", str(identity)]
        )
        figures["cove backup restore"] = measure(
            [*cove, "backup", "restore", str(archive), "--identity", str(identity),
             "--data-dir", str(root / "restored"), "--root-key-file", str(data / "keys/root.key")]
        )  # fmt: skip
    tar_out, tar_in = figures["tar -cf (baseline)"][0], figures["tar -xf (baseline)"][0]
    print(f"data dir {size / MiB:.1f} MiB; archive {archive_size / MiB:.1f} MiB")
    print(f"{'step':<22} {'seconds':>8} {'MiB/s':>8} {'peak RSS MiB':>13} {'x tar':>6}")
    for step, (seconds, rss) in figures.items():
        baseline = tar_in if step in ("tar -xf (baseline)", "cove backup restore") else tar_out
        print(
            f"{step:<22} {seconds:8.2f} {size / MiB / seconds:8.1f} {rss:13.1f} "
            f"{seconds / baseline:6.1f}"
        )


if __name__ == "__main__":
    main()
