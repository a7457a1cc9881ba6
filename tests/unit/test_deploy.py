"""The deployment files parse, and every command they run is one the `simpul` command knows."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateways import runtime
from gateways.cli import parser
from gateways.tokens import public_key_pem
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


PUBLIC_KEY = public_key_pem(Ed25519PrivateKey.generate().public_key())
SECRET_PLACEHOLDERS = {
    "database-url": "postgresql://simpul_service:secret@postgres:5432/simpul",
    "owner-database-url": "postgresql://simpul_owner:secret@postgres:5432/simpul",
    "token-public-key": PUBLIC_KEY,
}
# What the operator exports before `docker compose up`.
COMPOSE_VARIABLES = {
    "SIMPUL_TOKEN_PUBLIC_KEY": PUBLIC_KEY,
    "SIMPUL_DB_OWNER_PASSWORD": "owner-secret",
    "SIMPUL_DB_SERVICE_PASSWORD": "service-secret",
}


def kubernetes_workloads() -> dict[str, dict[str, str]]:
    """Each Deployment's and Job's container environment, as Kubernetes would set it."""
    config = next(doc for doc in kubernetes() if doc["kind"] == "ConfigMap")["data"]
    workloads = {}
    for doc in kubernetes():
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            environment = dict(config)
            for variable in container.get("env", []):
                if "valueFrom" in variable:
                    key = variable["valueFrom"]["secretKeyRef"]["key"]
                    environment[variable["name"]] = SECRET_PLACEHOLDERS[key]
                else:
                    environment[variable["name"]] = variable["value"]
            workloads[doc["metadata"]["name"]] = environment
    return workloads


def compose_services() -> dict[str, dict[str, str]]:
    """Each Simpul service's environment, with the operator's variables substituted."""

    def substituted(value: object) -> str:
        return re.sub(
            r"\$\{(\w+):\?[^}]*\}", lambda match: COMPOSE_VARIABLES[match.group(1)], str(value)
        )

    return {
        name: {key: substituted(value) for key, value in service["environment"].items()}
        for name, service in compose()["services"].items()
        if service.get("image") == "simpul:latest"
    }


def settings_of(environment: dict[str, str]) -> Settings:
    fields = {
        name.removeprefix("SIMPUL_").lower(): value
        for name, value in environment.items()
        if name.startswith("SIMPUL_")
    }
    return Settings(_env_file=None, **fields)  # raises if production settings are missing


def test_every_kubernetes_process_gets_the_settings_production_requires():
    for environment in kubernetes_workloads().values():
        settings_of(environment)


def test_compose_services_get_the_settings_production_requires():
    services = compose_services()
    assert {"db-setup", "api", "relay", "projectors", "coordinator-projector"} <= set(services)
    for environment in services.values():
        settings_of(environment)


def _token_keys(environment: dict[str, str]) -> set[str]:
    return {name for name in environment if name.startswith("SIMPUL_TOKEN_")}


def test_only_the_api_holds_a_token_key_and_only_the_public_one():
    for deployment in (kubernetes_workloads(), compose_services()):
        api = next(env for name, env in deployment.items() if name in ("simpul-api", "api"))
        others = [env for name, env in deployment.items() if name not in ("simpul-api", "api")]

        assert _token_keys(api) == {"SIMPUL_TOKEN_PUBLIC_KEY"}
        assert all(_token_keys(environment) == set() for environment in others)
        # The API builds its verifier from exactly that, and can mint nothing with it.
        assert not runtime.token_service(settings_of(api)).can_mint


def test_every_process_connects_as_the_service_role_and_only_set_up_as_the_owner():
    for deployment in (kubernetes_workloads(), compose_services()):
        users = {
            name: urlsplit(environment["SIMPUL_DATABASE_URL"]).username
            for name, environment in deployment.items()
        }
        set_up = {name for name in users if "db-setup" in name}

        assert len(set_up) == 1
        owner = users[set_up.pop()]
        assert {user for name, user in users.items() if "db-setup" not in name} == {
            "simpul_service"
        }
        assert owner != "simpul_service"


def test_the_set_up_job_runs_simpul_db_setup():
    job = next(doc for doc in kubernetes() if doc["kind"] == "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]

    assert container["args"] == ["db", "setup"]
    parses_as_simpul_command(container["args"])
    assert compose()["services"]["db-setup"]["command"] == ["db", "setup"]
    for name in ("api", "relay", "projectors", "coordinator-projector"):
        depends = compose()["services"][name]["depends_on"]
        assert depends["db-setup"]["condition"] == "service_completed_successfully"
