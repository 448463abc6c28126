"""Run an Apache Cassandra node from Maven Central on loopback, for the ScyllaDB engine's tests.

    python tools/cassandra.py up   [--dir .cassandra] [--port 9042]   # idempotent
    python tools/cassandra.py down [--dir .cassandra]                 # idempotent

`up` copies `cassandra-all` and its libraries with Maven (tools/cassandra_node/pom.xml; nothing
from anywhere else), writes a minimal cassandra.yaml under the folder, starts
`CassandraDaemon` on 127.0.0.1 with a small heap, and returns once CQL answers. ScyllaDB
speaks the same protocol and CQL; no ScyllaDB build runs here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent / "cassandra_node"
START_SECONDS = 120
STOP_SECONDS = 30

YAML = """\
cluster_name: cove
num_tokens: 16
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories: [{node}/data]
commitlog_directory: {node}/commitlog
saved_caches_directory: {node}/saved_caches
hints_directory: {node}/hints
cdc_raw_directory: {node}/cdc
commitlog_sync: periodic
commitlog_sync_period: 10000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{address}:{storage_port}"
listen_address: {address}
rpc_address: {address}
native_transport_port: {port}
storage_port: {storage_port}
endpoint_snitch: SimpleSnitch
start_native_transport: true
# ScyllaDB's limits: a batch is refused past 1 MiB (Cassandra's own default is 50 KiB, too
# small for a message with its index rows), and logged past 128 KiB.
# TRUNCATE (tests empty tables between runs) takes no snapshot: a development node keeps none.
auto_snapshot: false
batch_size_warn_threshold: 128KiB
batch_size_fail_threshold: 1024KiB
"""


@dataclass(frozen=True)
class Node:
    """One node's folder, address and ports."""

    directory: Path
    address: str = "127.0.0.1"
    port: int = 9042
    storage_port: int = 7000
    jmx_port: int = 7199

    @property
    def pid_file(self) -> Path:
        return self.directory / "cassandra.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "cassandra.log"


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is missing: a Cassandra node needs Java 17 and Maven")
    return found


def libraries(root: Path) -> Path:
    """The server's jars under `root`/lib, copied by Maven once."""
    lib = root / "lib"
    if not any(lib.glob("cassandra-all-*.jar")):
        lib.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [
                _program("mvn"),
                "-q",
                "-B",
                "-f",
                str(HERE / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={lib}",
            ],
            check=True,
        )
    return lib


def answers(address: str, port: int) -> bool:
    """Whether something accepts connections on the CQL port."""
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def _jvm_flags() -> list[str]:
    lines = (HERE / "jvm17.options").read_text().splitlines()
    # `--add-opens a=b` as one argument: `--add-opens=a=b`.
    return [
        line.strip().replace(" ", "=", 1)
        for line in lines
        if line.strip() and not line.startswith("#")
    ]


def up(node: Node, root: Path, heap_mib: int = 768) -> None:
    """Start the node unless it answers already; return once CQL answers."""
    if answers(node.address, node.port):
        return
    lib = libraries(root)
    for sub in ("data", "commitlog", "saved_caches", "hints", "cdc"):
        (node.directory / sub).mkdir(parents=True, exist_ok=True)
    config = node.directory / "cassandra.yaml"
    config.write_text(
        YAML.format(
            node=node.directory,
            address=node.address,
            port=node.port,
            storage_port=node.storage_port,
        )
    )
    command = [
        _program("java"),
        *_jvm_flags(),
        f"-Xms{heap_mib // 2}m",
        f"-Xmx{heap_mib}m",
        f"-Dcassandra.config=file://{config}",
        f"-Dcassandra.storagedir={node.directory}",
        "-Dcassandra-foreground=yes",
        f"-Dcassandra.jmx.local.port={node.jmx_port}",
        "-cp",
        f"{lib}/*",
        "org.apache.cassandra.service.CassandraDaemon",
    ]
    with node.log_file.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    node.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + START_SECONDS
    while not answers(node.address, node.port):
        if process.poll() is not None or time.monotonic() > deadline:
            down(node)
            tail = node.log_file.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"Cassandra did not start; the end of its log:\n{tail}")
        time.sleep(0.5)


def down(node: Node) -> None:
    """Stop the node started in this folder, if it runs."""
    if not node.pid_file.exists():
        return
    pid = int(node.pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        node.pid_file.unlink()
        return
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    node.pid_file.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--dir", type=Path, default=Path(".cassandra"))
    parser.add_argument("--port", type=int, default=9042)
    args = parser.parse_args(argv)
    root = args.dir.resolve()
    node = Node(root / "node1", port=args.port)
    if args.action == "up":
        up(node, root)
        print(f"Cassandra answers CQL on {node.address}:{node.port} (log: {node.log_file})")
    else:
        down(node)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
