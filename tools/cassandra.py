"""Run Apache Cassandra nodes from Maven Central on loopback, for the ScyllaDB engine's tests.

    python -m tools.cassandra up   [--dir .cassandra] [--port 9042]       # one node, idempotent
    python -m tools.cassandra down [--dir .cassandra]                     # idempotent
    python -m tools.cassandra cluster-up   [--dir .cassandra] [--addresses A,B,C] [--port 9042]
    python -m tools.cassandra cluster-down [--dir .cassandra] [--addresses A,B,C]

`up` copies `cassandra-all` and its libraries with Maven (tools/cassandra_node/pom.xml; nothing
from anywhere else), writes a minimal cassandra.yaml under the folder, starts
`CassandraDaemon` on 127.0.0.1 with a small heap, and returns once CQL answers. `cluster-up`
does the same for three nodes on 127.0.0.1, .2 and .3 (tools/cassandra_cluster.py) and returns
once each sees all three Up and Normal. ScyllaDB speaks the same protocol and CQL; no ScyllaDB
build runs here.
"""

from __future__ import annotations

import argparse
import contextlib
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

# `auto_bootstrap: false`: these clusters start empty, so a joining node has nothing to stream
# and need not wait for the ring to settle (it never applies to the seed or to a restart).
YAML = """\
cluster_name: {cluster_name}
num_tokens: 16
auto_bootstrap: false
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories: [{node}/data]
commitlog_directory: {node}/commitlog
saved_caches_directory: {node}/saved_caches
hints_directory: {node}/hints
cdc_raw_directory: {node}/cdc
commitlog_sync: periodic
commitlog_sync_period: 10000ms
concurrent_compactors: 1
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{seed}"
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

# Beyond the module flags (jvm17.options): a small machine's settings. The serial collector
# needs no background threads (heaps here are a few hundred MiB); logging at INFO, not DEBUG.
NODE_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:+HeapDumpOnOutOfMemoryError",
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    f"-Dlogback.configurationFile={HERE / 'logback.xml'}",
)


@dataclass(frozen=True)
class Node:
    """One node's folder, address and ports; `seed` ("address:port") defaults to itself. Nodes
    of different `cluster_name`s refuse to gossip, so a cluster never takes in a stray node."""

    directory: Path
    address: str = "127.0.0.1"
    port: int = 9042
    storage_port: int = 7000
    jmx_port: int = 7199
    seed: str = ""
    cluster_name: str = "cove"

    @property
    def pid_file(self) -> Path:
        return self.directory / "cassandra.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "cassandra.log"

    @property
    def config_file(self) -> Path:
        return self.directory / "cassandra.yaml"


def program(name: str) -> str:
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
                program("mvn"),
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


def jvm_flags() -> list[str]:
    lines = (HERE / "jvm17.options").read_text().splitlines()
    # `--add-opens a=b` as one argument: `--add-opens=a=b`.
    return [
        line.strip().replace(" ", "=", 1)
        for line in lines
        if line.strip() and not line.startswith("#")
    ]


def running(node: Node) -> int | None:
    """The id of the process this folder's node runs in, or None: a pid file naming a process
    that is gone, or that is not this node's `CassandraDaemon`, counts as nothing."""
    try:
        pid = int(node.pid_file.read_text())
    except (OSError, ValueError):
        return None
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return None
    state = stat.rsplit(")", 1)[-1].split()[0]
    if state == "Z" or "CassandraDaemon" not in command or str(node.config_file) not in command:
        return None
    return pid


def _reap(pid: int) -> None:
    """Collect the exit of a node this process started, so that it leaves no zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def start(node: Node, root: Path, heap_mib: int) -> subprocess.Popen[bytes]:
    """Write the node's configuration and start it, without waiting for it."""
    lib = libraries(root)
    for sub in ("data", "commitlog", "saved_caches", "hints", "cdc"):
        (node.directory / sub).mkdir(parents=True, exist_ok=True)
    node.config_file.write_text(
        YAML.format(
            node=node.directory,
            address=node.address,
            port=node.port,
            storage_port=node.storage_port,
            seed=node.seed or f"{node.address}:{node.storage_port}",
            cluster_name=node.cluster_name,
        )
    )
    command = [
        program("java"),
        *jvm_flags(),
        *NODE_FLAGS,
        f"-Xms{heap_mib}m",
        f"-Xmx{heap_mib}m",
        f"-Dcassandra.config=file://{node.config_file}",
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
    return process


def wait_for_cql(
    node: Node, process: subprocess.Popen[bytes] | None = None, seconds: float = START_SECONDS
) -> None:
    """Return once the node answers on its CQL port; stop it and raise if it dies or is late.
    `process` is what `start` returned, when this process started the node."""
    deadline = time.monotonic() + seconds
    while not answers(node.address, node.port):
        alive = process.poll() is None if process is not None else running(node) is not None
        if not alive or time.monotonic() > deadline:
            if process is not None:
                process.kill()
                process.wait(STOP_SECONDS)
            down(node)
            tail = node.log_file.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"Cassandra did not start; the end of its log:\n{tail}")
        time.sleep(0.5)


def up(node: Node, root: Path, heap_mib: int = 768) -> None:
    """Start the node unless it answers already; return once CQL answers."""
    if answers(node.address, node.port):
        return
    wait_for_cql(node, start(node, root, heap_mib))


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _reap(pid)
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.2)
    return False


def terminate(node: Node) -> None:
    """Ask the node to stop (SIGTERM: it drains and flushes), without waiting."""
    pid = running(node)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)


def down(node: Node) -> None:
    """Stop the node started in this folder, if it runs (SIGTERM, then SIGKILL after 30 s)."""
    pid = running(node)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, STOP_SECONDS):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, STOP_SECONDS)
    node.pid_file.unlink(missing_ok=True)


def kill(node: Node) -> None:
    """SIGKILL the node, as a crash would: no drain, no goodbye to its peers."""
    pid = running(node)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, STOP_SECONDS)
    node.pid_file.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("action", choices=("up", "down", "cluster-up", "cluster-down"))
    parser.add_argument("--dir", type=Path, default=Path(".cassandra"))
    parser.add_argument("--port", type=int, default=9042)
    parser.add_argument(
        "--addresses", help="the cluster's three loopback addresses, the seed first"
    )
    args = parser.parse_args(argv)
    root = args.dir.resolve()
    if args.action.startswith("cluster-"):
        # Imported here, so that `python tools/cassandra.py up` keeps working as a script.
        from tools import cassandra_cluster

        addresses = args.addresses or ",".join(cassandra_cluster.ADDRESSES)
        cluster = cassandra_cluster.Cluster(
            root, addresses=tuple(addresses.split(",")), port=args.port
        )
        if args.action == "cluster-up":
            cassandra_cluster.cluster_up(cluster)
            where = ", ".join(f"{node.address}:{node.port}" for node in cluster.nodes)
            print(f"three Cassandra nodes Up and Normal; CQL on {where} (logs: {cluster.folder})")
        else:
            cassandra_cluster.cluster_down(cluster)
        return 0
    node = Node(root / "node1", port=args.port)
    if args.action == "up":
        up(node, root)
        print(f"Cassandra answers CQL on {node.address}:{node.port} (log: {node.log_file})")
    else:
        down(node)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except RuntimeError as error:
        sys.exit(f"cassandra: {error}")
