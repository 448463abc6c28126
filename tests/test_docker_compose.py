"""docker-compose.yml cannot drift from the code: every COVE_* variable it gives a Cove node is
a setting, the nodes' environment loads as settings, and its services hang together. (No
Docker runs here; the file is read as YAML.)"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _services() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services: dict[str, dict[str, Any]] = document["services"]
    return services


def _cove_nodes() -> dict[str, dict[str, Any]]:
    """The services that serve Cove: built from this repository, with COVE_* settings."""
    return {
        name: service
        for name, service in _services().items()
        if service.get("build") == "." and "environment" in service
    }


def _setting_of(variable: str) -> str:
    """The setting a COVE_* variable sets; `<secret>_FILE` sets the secret from a file."""
    assert variable.startswith(ENV_PREFIX), variable
    name = variable.removeprefix(ENV_PREFIX).lower()
    if name not in FIELDS and name.endswith("_file"):
        secret = name.removesuffix("_file")
        if secret in FIELDS and FIELDS[secret].metadata.get("secret"):
            return secret
    return name


def test_there_are_two_cove_nodes_with_one_configuration() -> None:
    nodes = _cove_nodes()
    assert sorted(nodes) == ["cove-1", "cove-2"]
    environments = [node["environment"] for node in nodes.values()]
    assert environments[0] == environments[1]
    assert len({port for node in nodes.values() for port in node["ports"]}) == 2


def test_every_cove_variable_is_a_setting() -> None:
    for name, node in _cove_nodes().items():
        for variable, value in node["environment"].items():
            setting = _setting_of(variable)
            assert setting in FIELDS, f"{name}: {variable} is no setting"
            # Quoted, so YAML turns no `on`, `1` or `3` into something else on the way.
            assert isinstance(value, str), f"{name}: {variable} is not a string"


def test_the_nodes_environment_loads_as_settings(tmp_path: Path) -> None:
    """load_settings reads the nodes' environment as `cove serve` would, with the mounted
    files replaced by local ones."""
    environment = next(iter(_cove_nodes().values()))["environment"]
    salt = tmp_path / "install.salt"
    salt.write_text(base64.b64encode(bytes(32)).decode())
    given: dict[str, str] = {"COVE_DATA_DIR": str(tmp_path / "data")}
    for variable, value in environment.items():
        given[variable] = str(salt) if variable.endswith("_FILE") else value
    settings = load_settings(environ=given)
    assert settings.store == "scylla"
    assert settings.scylla_consistency == "LOCAL_QUORUM"
    assert settings.broker_url == "redis://redis:6379/0"
    assert settings.search_engine == "elasticsearch"
    assert settings.blob_store == "s3"
    assert settings.workers >= 1


def test_the_store_is_the_scylla_cluster_of_the_file() -> None:
    services = _services()
    scylla = sorted(
        name for name, service in services.items() if "scylla" in service.get("image", "")
    )
    assert scylla == ["scylla-1", "scylla-2", "scylla-3"]
    for name in scylla:
        command = services[name]["command"]
        flags = dict(zip(command[::2], command[1::2], strict=True))
        assert flags["--smp"] == "1"
        assert flags["--overprovisioned"] == "1"
        assert flags["--developer-mode"] == "1"
        assert flags["--memory"].endswith(("M", "G"))
        assert flags["--seeds"] == scylla[0]
    environment = _cove_nodes()["cove-1"]["environment"]
    assert environment["COVE_STORE"] == "scylla"
    assert environment["COVE_SCYLLA_HOSTS"].split(",") == [f"{name}:9042" for name in scylla]
    assert environment["COVE_SCYLLA_CONSISTENCY"] == "LOCAL_QUORUM"
    assert int(environment["COVE_SCYLLA_REPLICATION"]) == len(scylla)


@pytest.mark.parametrize("key", ["depends_on", "volumes"])
def test_services_name_only_what_the_file_declares(key: str) -> None:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = document["services"]
    volumes = set(document["volumes"])
    for name, service in services.items():
        if key == "depends_on":
            assert set(service.get("depends_on", ())) <= set(services), name
        else:
            named = {mount.split(":")[0] for mount in service.get("volumes", ())}
            assert named <= volumes, name
    if key == "volumes":
        used = {m.split(":")[0] for s in services.values() for m in s.get("volumes", ())}
        assert used == volumes
