"""The deployment files parse, and every command they run is one the `simpul` command knows."""

from pathlib import Path

import pytest
import yaml

from gateways.cli import parser
from services.settings import Settings
from services.sharing import load_matrix

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS = {f"SIMPUL_{name.upper()}" for name in Settings.model_fields}


def parses_as_simpul_command(args: list[str]) -> None:
    try:
        parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"`simpul {' '.join(args)}` is not a valid command")


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def kubernetes() -> list[dict]:
    return [
        doc
        for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def test_compose_runs_kafka_in_kraft_mode_postgres_the_api_the_relay_and_the_projectors():
    services = compose()["services"]

    assert {"kafka", "postgres", "api", "relay", "projectors"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    for name in ("api", "relay", "projectors"):
        parses_as_simpul_command(services[name]["command"])
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert set(services[name]["environment"]) <= SETTINGS


def test_every_kubernetes_container_runs_a_simpul_command_with_known_settings():
    documents = kubernetes()
    deployments = [doc for doc in documents if doc["kind"] == "Deployment"]
    config = next(doc for doc in documents if doc["kind"] == "ConfigMap")

    assert {d["metadata"]["name"] for d in deployments} >= {"simpul-api", "simpul-relay"}
    assert set(config["data"]) <= SETTINGS
    for deployment in deployments:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["command"] == ["simpul"]
            parses_as_simpul_command(container["args"])
            assert {e["name"] for e in container.get("env", [])} <= SETTINGS
            secrets = [e for e in container.get("env", []) if "valueFrom" in e]
            assert all("secretKeyRef" in e["valueFrom"] for e in secrets)


def test_there_is_one_projector_deployment_per_agency_in_the_matrix_and_one_for_the_office():
    projector_args = [
        container["args"][1:]
        for doc in kubernetes()
        if doc["kind"] == "Deployment"
        for container in doc["spec"]["template"]["spec"]["containers"]
        if container["args"][0] == "project"
    ]

    agencies = {args[1] for args in projector_args if args[0] == "--agency"}
    assert agencies == set(load_matrix().agencies)
    assert projector_args.count(["--coordinator"]) == 1


def test_the_image_runs_simpul():
    dockerfile = (DEPLOY / "Dockerfile").read_text()

    assert 'ENTRYPOINT ["simpul"]' in dockerfile
    assert "-c constraints.txt" in dockerfile


def test_every_kubernetes_process_gets_the_settings_production_requires():
    config = next(doc for doc in kubernetes() if doc["kind"] == "ConfigMap")["data"]
    placeholders = {
        "database-url": "postgresql://simpul:secret@postgres:5432/simpul",
        "token-secret": "k" * 40,
    }
    for doc in kubernetes():
        if doc["kind"] != "Deployment":
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            environment = dict(config)
            for variable in container.get("env", []):
                if "valueFrom" in variable:
                    key = variable["valueFrom"]["secretKeyRef"]["key"]
                    environment[variable["name"]] = placeholders[key]
                else:
                    environment[variable["name"]] = variable["value"]
            fields = {
                name.removeprefix("SIMPUL_").lower(): value
                for name, value in environment.items()
                if name.startswith("SIMPUL_")
            }
            Settings(_env_file=None, **fields)  # raises if production settings are missing


def test_compose_services_get_the_settings_production_requires():
    services = compose()["services"]
    for name in ("api", "relay", "projectors", "coordinator-projector"):
        environment = {key: str(value) for key, value in services[name]["environment"].items()}
        environment["SIMPUL_TOKEN_SECRET"] = "k" * 40  # given by the operator at `up`
        fields = {key.removeprefix("SIMPUL_").lower(): value for key, value in environment.items()}
        Settings(_env_file=None, **fields)
