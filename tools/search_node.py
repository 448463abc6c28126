"""Run an OpenSearch node from Maven Central on loopback, for the search engines' tests.

    python tools/search_node.py up   [--dir .search-node] [--port 9200]   # idempotent
    python tools/search_node.py down [--dir .search-node]                 # idempotent

`up` copies the server's jars with Maven (tools/search_node/pom.xml) and the two modules
Cove's queries need, transport-netty4 (HTTP) and reindex (delete-by-query), each from its
own pom; nothing comes from anywhere else. It lays them out as an OpenSearch home (lib/,
modules/<name>/ with a plugin descriptor written here), writes the node's opensearch.yml
(127.0.0.1, single-node discovery, no security plugin installed), starts
`org.opensearch.bootstrap.OpenSearch` with a small heap, and returns once the cluster is
yellow. OpenSearch refuses to run as root: as root, the node runs as `nobody`.
No Elasticsearch node runs this way: Maven Central lacks jars its server needs
(docs/operations.md, "A search node for development").
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent / "search_node"
VERSION = "2.19.6"  # the last line that runs on Java 17
# Each module: its folder (and pom) under search_node/ and its plugin class.
MODULES = {
    "transport-netty4": "org.opensearch.transport.Netty4Plugin",
    "reindex": "org.opensearch.index.reindex.ReindexPlugin",
}
START_SECONDS = 120
STOP_SECONDS = 30
UNPRIVILEGED_USER = "nobody"

YAML = """\
cluster.name: cove-test
node.name: {name}
path.data: {node}/data
path.logs: {node}/logs
network.host: {address}
http.port: {port}
transport.port: {transport_port}
discovery.type: single-node
# A nearly full disk must not turn the test index read-only.
cluster.routing.allocation.disk.threshold_enabled: false
"""

DESCRIPTOR = """\
name={name}
description=OpenSearch's {name} module, laid out by Cove's tools/search_node.py
version={version}
opensearch.version={version}
java.version=11
classname={classname}
"""


@dataclass(frozen=True)
class Node:
    """One node's folder, address and ports."""

    directory: Path
    address: str = "127.0.0.1"
    port: int = 9200
    transport_port: int = 9300

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.directory / "opensearch.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "opensearch.log"

    @property
    def data(self) -> Path:
        return self.directory / "data"


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is missing: an OpenSearch node needs Java 17 and Maven")
    return found


def _copy(pom: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [
            _program("mvn"),
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-Dopensearch.version={VERSION}",
            f"-DoutputDirectory={into}",
        ],
        check=True,
    )


def home(root: Path) -> Path:
    """The OpenSearch home under `root`, laid out from Maven Central once."""
    lib = root / "lib"
    if not any(lib.glob(f"opensearch-{VERSION}.jar")):
        _copy(HERE / "pom.xml", lib)
    server_jars = {jar.name for jar in lib.glob("*.jar")}
    for name, classname in MODULES.items():
        module = root / "modules" / name
        if not any(module.glob(f"*-{VERSION}.jar")):
            _copy(HERE / name / "pom.xml", module)
            # A jar on both the server's and a module's class path fails OpenSearch's jar check.
            for jar in module.glob("*.jar"):
                if jar.name in server_jars:
                    jar.unlink()
        # Written at every start, so that a change to them here needs no new copy.
        policy = HERE / name / "plugin-security.policy"
        if policy.exists():
            shutil.copy(policy, module / policy.name)
        descriptor = module / "plugin-descriptor.properties"
        descriptor.write_text(DESCRIPTOR.format(name=name, version=VERSION, classname=classname))
    for empty in ("bin", "plugins"):  # the security policy grants them: they must exist
        (root / empty).mkdir(exist_ok=True)
    return root


def health(node: Node, wait_seconds: float = 0) -> str | None:
    """The cluster's status (green, yellow, red), or None if the node does not answer."""
    url = f"{node.url}/_cluster/health?wait_for_status=yellow&timeout={wait_seconds}s"
    try:
        with urllib.request.urlopen(url, timeout=wait_seconds + 2) as answer:  # noqa: S310
            return str(json.load(answer)["status"])
    except (OSError, ValueError, KeyError):
        return None


def _jvm_flags() -> list[str]:
    lines = (HERE / "jvm.options").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _run_as() -> pwd.struct_passwd | None:
    """The user the node runs as: `nobody` when we are root (OpenSearch refuses root)."""
    return pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None


def _open_to_others(folder: Path) -> bool:
    """Whether any user may enter `folder` and every folder above it."""
    return all(path.stat().st_mode & 0o005 == 0o005 for path in (folder, *folder.parents))


def up(node: Node, root: Path, heap_mib: int = 256) -> None:
    """Start the node unless it answers already; return once the cluster is yellow."""
    if health(node) is not None:
        return
    opensearch_home = home(root)
    config = node.directory / "config"
    for sub in (config, node.data, node.directory / "logs", node.directory / "tmp"):
        sub.mkdir(parents=True, exist_ok=True)
    (config / "opensearch.yml").write_text(
        YAML.format(
            name=node.directory.name,
            node=node.directory,
            address=node.address,
            port=node.port,
            transport_port=node.transport_port,
        )
    )
    shutil.copy(HERE / "log4j2.properties", config / "log4j2.properties")
    user = _run_as()
    if user is not None:
        if not _open_to_others(node.directory.parent):
            raise RuntimeError(
                f"as root, the node runs as {UNPRIVILEGED_USER}, who cannot enter "
                f"{node.directory.parent}: give a folder others may enter"
            )
        if not _open_to_others(opensearch_home):
            # A copy in the node's folder, for a checkout under a private folder (/root).
            copy = node.directory / "home"
            shutil.copytree(opensearch_home, copy, dirs_exist_ok=True)
            opensearch_home = copy
        for path in opensearch_home.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        # The node writes its keystore, data, logs and temporary files: all in its folder.
        for path in (node.directory, *node.directory.rglob("*")):
            if not path.is_relative_to(opensearch_home):
                os.chown(path, user.pw_uid, user.pw_gid)
    command = [
        _program("java"),
        *_jvm_flags(),
        f"-Xms{heap_mib}m",
        f"-Xmx{heap_mib}m",
        f"-Djava.io.tmpdir={node.directory / 'tmp'}",
        f"-Dopensearch.path.home={opensearch_home}",
        f"-Dopensearch.path.conf={config}",
        "-cp",
        f"{opensearch_home / 'lib'}/*",
        "org.opensearch.bootstrap.OpenSearch",
    ]
    with node.log_file.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=node.directory,
            start_new_session=True,
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],
        )
    node.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + START_SECONDS
    while health(node, wait_seconds=1) not in ("yellow", "green"):
        if process.poll() is not None or time.monotonic() > deadline:
            down(node)
            tail = node.log_file.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"OpenSearch did not start; the end of its log:\n{tail}")
        time.sleep(0.2)


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
    while not _gone(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    node.pid_file.unlink(missing_ok=True)


def _gone(pid: int) -> bool:
    try:  # our own child (the tests' node) stays a zombie until reaped
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--dir", type=Path, default=Path(".search-node"))
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--transport-port", type=int, default=9300)
    args = parser.parse_args(argv)
    root = args.dir.resolve()
    node = Node(root / "node1", port=args.port, transport_port=args.transport_port)
    if args.action == "up":
        started = time.monotonic()
        up(node, root)
        print(
            f"OpenSearch {VERSION} answers on {node.url} "
            f"({time.monotonic() - started:.1f} s; log: {node.log_file})"
        )
    else:
        down(node)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
