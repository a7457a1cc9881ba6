"""The deployment files parse, run commands the `simpul` command knows, give each process the
settings production requires and only the secrets it needs, and secure the broker.

No Docker engine or cluster runs where Simpul is developed, so this is what is checked of
them; the shell scripts (make-secrets.sh, kafka/acls.sh) are run for real, the Kafka and
Kubernetes tools they drive are stubbed by a command that prints its arguments.
"""

import json
import os
import re
import shlex
import stat
import subprocess
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateways import runtime
from gateways.cli import parser
from gateways.kafka.signing import MessageSigner, MessageVerifier
from gateways.tokens import load_private_key, load_public_key, private_key_pem, public_key_pem
from services.settings import Settings
from services.sharing import load_matrix

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS = {f"SIMPUL_{name.upper()}" for name in Settings.model_fields}
AGENCIES = list(load_matrix().agencies)
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::?[-?][^}]*)?\}")

# What each process needs, by the settings it reads a secret into.
DATABASE, TOKEN = "SIMPUL_DATABASE_URL", "SIMPUL_TOKEN_PUBLIC_KEY"
KAFKA_PASSWORD, SIGNING_KEY = "SIMPUL_KAFKA_SASL_PASSWORD", "SIMPUL_MESSAGE_SIGNING_KEY"
MATCH_KEY = "SIMPUL_PERSON_MATCH_KEY"
SEARCH_KEY = "SIMPUL_SEARCH_KEY"
DOCUMENT_KEY = "SIMPUL_DOCUMENT_MASTER_KEY"
ACCOUNT_KEY, LOGIN_KEY = "SIMPUL_ACCOUNT_KEY", "SIMPUL_TOKEN_PRIVATE_KEY"
SMTP_PASSWORD = "SIMPUL_SMTP_PASSWORD"
SECRET_SETTINGS = {
    DATABASE,
    TOKEN,
    KAFKA_PASSWORD,
    SIGNING_KEY,
    MATCH_KEY,
    SEARCH_KEY,
    DOCUMENT_KEY,
    ACCOUNT_KEY,
    LOGIN_KEY,
    SMTP_PASSWORD,
}
NEEDS = {
    "db-setup": {DATABASE},
    "api": {DATABASE, TOKEN, MATCH_KEY, SEARCH_KEY, DOCUMENT_KEY, ACCOUNT_KEY, LOGIN_KEY},
    "relay": {DATABASE, KAFKA_PASSWORD, SIGNING_KEY},
    "coordinator": {DATABASE, SEARCH_KEY},
    "notifier": {DATABASE, SMTP_PASSWORD},
    **{f"projector-{agency}": {DATABASE, KAFKA_PASSWORD} for agency in AGENCIES},
}
PRINCIPALS = {
    "relay": "simpul-relay",
    **{f"projector-{agency}": f"simpul-projector-{agency}" for agency in AGENCIES},
}


def parses_as_simpul_command(args: list[str]) -> None:
    try:
        parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"`simpul {' '.join(args)}` is not a valid command")


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def simpul_services() -> dict[str, dict]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image") == "simpul:latest"
    }


def role(command: list[str]) -> str:
    """db-setup, api, relay, coordinator, notifier or projector-<agency>, from a `simpul`
    command line."""
    if command == ["db", "setup"]:
        return "db-setup"
    if command == ["notify"]:
        return "notifier"
    if command[0] == "serve":
        return "api"
    if command[0] == "relay":
        return "relay"
    if command[:2] == ["project", "--coordinator"]:
        return "coordinator"
    assert command[:2] == ["project", "--agency"] and len(command) == 3, command
    return f"projector-{command[2]}"


def kubernetes() -> list[dict]:
    return [
        doc
        for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def containers() -> list[dict]:
    return [
        container
        for doc in kubernetes()
        if doc["kind"] in ("Deployment", "Job")
        for container in doc["spec"]["template"]["spec"]["containers"]
    ]


@pytest.fixture(scope="module")
def made_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/make-secrets.sh, run for real into a temporary deploy folder."""
    folder = tmp_path_factory.mktemp("deploy")
    subprocess.run(
        ["bash", str(DEPLOY / "make-secrets.sh")],
        env={
            **os.environ,
            "SIMPUL_DEPLOY_DIR": str(folder),
            "SIMPUL_PUBLIC_HOST": "simpul.dinas.example.go.id",
            "SIMPUL_KAFKA_PUBLIC_HOST": "kafka.dinas.example.go.id",
        },
        check=True,
        capture_output=True,
    )
    return folder


def dotenv(path: Path) -> dict[str, str]:
    """A .env as docker compose reads it (KEY=value, KEY='literal value')."""
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = shlex.split(value)[0] if value.startswith("'") else value
    return values


def interpolated(value: str, env: dict[str, str]) -> str:
    return INTERPOLATION.sub(lambda match: env[match["name"]], value)


# ---- docker-compose.yml ---------------------------------------------------------------------


def test_compose_runs_kafka_in_kraft_mode_postgres_a_tls_proxy_the_api_and_every_process():
    services = compose()["services"]

    assert {"kafka", "postgres", "proxy"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    roles = []
    for service in simpul_services().values():
        parses_as_simpul_command(service["command"])
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert set(service["environment"]) <= SETTINGS
        roles.append(role(service["command"]))
    assert sorted(roles) == sorted(NEEDS), "one process per role, one projector per agency"


def test_compose_publishes_only_https_and_kafka_over_tls_never_the_api_or_metrics():
    services = compose()["services"]
    published = {
        name: [str(port).split(":")[0] for port in service.get("ports", [])]
        for name, service in services.items()
        if service.get("ports")
    }

    assert published == {"proxy": ["443", "80"], "kafka": ["9094"]}
    caddyfile = (DEPLOY / "caddy" / "Caddyfile").read_text()
    assert "reverse_proxy api:8000" in caddyfile
    assert "tls /run/secrets/api_crt /run/secrets/api_key" in caddyfile
    for service in simpul_services().values():
        assert "SIMPUL_METRICS_HOST" not in service["environment"], "metrics stay on loopback"
        assert "SIMPUL_PROJECTION_METRICS_HOST" not in service["environment"]


def test_compose_writes_no_secret_down_and_gives_each_process_only_its_own():
    text = (DEPLOY / "docker-compose.yml").read_text()
    services = compose()["services"]

    assert "POSTGRES_PASSWORD: ${SIMPUL_POSTGRES_PASSWORD:?" in text
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|SIGNING_KEY$", key) and key != "SIMPUL_KAFKA_SSL_CAFILE":
                assert INTERPOLATION.fullmatch(str(value)), f"{name}: {key} is written down"
    for service in simpul_services().values():
        environment = service["environment"]
        process = role(service["command"])
        owner = process == "db-setup"
        password = "SIMPUL_POSTGRES_PASSWORD" if owner else "SIMPUL_DB_SERVICE_PASSWORD"
        assert f"${{{password}:?}}" in environment[DATABASE], process
        assert set(environment) & SECRET_SETTINGS == NEEDS[process], process
        if KAFKA_PASSWORD in environment:
            principal = PRINCIPALS[process]
            assert environment["SIMPUL_KAFKA_SASL_USERNAME"] == principal
            own = "SIMPUL_KAFKA_PASSWORD_" + principal.removeprefix("simpul-").upper()
            assert environment[KAFKA_PASSWORD] == f"${{{own.replace('-', '_')}:?}}", process


def test_the_compose_broker_requires_tls_and_scram_on_every_listener_reachable_from_outside():
    kafka = compose()["services"]["kafka"]["environment"]
    protocols = dict(
        item.split(":") for item in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    listeners = dict(
        re.fullmatch(r"(\w+)://(.*)", item).groups()  # type: ignore[union-attr]
        for item in kafka["KAFKA_LISTENERS"].split(",")
    )

    for name, address in listeners.items():
        if not address.startswith("127.0.0.1:"):
            assert protocols[name] == "SASL_SSL", name
    assert kafka["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert kafka["KAFKA_SSL_KEYSTORE_LOCATION"] == "/run/secrets/kafka_keystore"
    for agency in AGENCIES:
        assert f"SIMPUL_KAFKA_PASSWORD_AGENCY_{agency.upper()}" in kafka, "acls.sh makes the user"


def test_compose_services_get_the_settings_production_requires(made_secrets: Path):
    env = dotenv(made_secrets / ".env")
    for name, service in simpul_services().items():
        environment = {
            key: interpolated(str(value), env) for key, value in service["environment"].items()
        }
        fields = {key.removeprefix("SIMPUL_").lower(): value for key, value in environment.items()}
        settings = Settings(_env_file=None, **fields)  # raises if production settings are missing
        assert settings.kafka_security_protocol == "SASL_SSL", name
        assert settings.effective_database_sslmode() == "verify-full", name


def test_make_secrets_makes_every_value_compose_asks_for(made_secrets: Path):
    env = dotenv(made_secrets / ".env")
    asked = set(INTERPOLATION.findall((DEPLOY / "docker-compose.yml").read_text()))
    secrets = made_secrets / "secrets"

    assert asked <= set(env)
    assert stat.S_IMODE((made_secrets / ".env").stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    for file in (spec["file"] for spec in compose()["secrets"].values()):
        assert (made_secrets / file).is_file(), file
    signer = MessageSigner.from_text(
        env["SIMPUL_MESSAGE_SIGNING_KEY_ID"], env["SIMPUL_MESSAGE_SIGNING_KEY"]
    )
    published = Settings(_env_file=None, message_verify_keys=env["SIMPUL_MESSAGE_VERIFY_KEYS"])
    verifier = MessageVerifier(published.message_verify_keys)
    value = signer.signed_value({"id": "x", "data": {}})
    assert verifier.refusal(value, json.loads(value)) is None, "the signing and verify keys pair"
    passwords = [value for key, value in env.items() if "PASSWORD" in key]
    assert len(set(passwords)) == len(passwords), "no two principals share a password"
    for name, host in (
        ("postgres", "postgres"),
        ("kafka", "kafka"),
        ("kafka", "kafka.dinas.example.go.id"),
        ("api", "simpul.dinas.example.go.id"),
    ):
        verified = subprocess.run(
            ["openssl", "verify", "-CAfile", "ca.crt", "-verify_hostname", host, f"{name}.crt"],
            cwd=secrets,
            capture_output=True,
            text=True,
            check=False,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
    keystore = (secrets / "kafka.pem").read_text()
    assert keystore.count("BEGIN PRIVATE KEY") == 1 and keystore.count("BEGIN CERTIFICATE") == 2
    token_key = secrets / "token-private.pem"
    assert stat.S_IMODE(token_key.stat().st_mode) == 0o600
    assert load_private_key(token_key.read_text()).public_key() == load_public_key(
        env["SIMPUL_TOKEN_PUBLIC_KEY"]
    ), "the API's public key pairs with the kept private key"
    assert all("token-private" not in spec["file"] for spec in compose()["secrets"].values())


# ---- The Kafka principals and ACLs (deploy/kafka/acls.sh) ------------------------------------


def acl_commands(tmp_path: Path) -> list[list[str]]:
    stub = tmp_path / "kafka-tool"
    stub.write_text(
        '#!/bin/sh\nfor a in "$(basename "$0")" "$@"; do printf "%s\\0" "$a"; done\necho\n'
    )
    stub.chmod(0o755)
    (tmp_path / "kafka-acls.sh").symlink_to(stub)
    (tmp_path / "kafka-configs.sh").symlink_to(stub)
    passwords = {"SIMPUL_KAFKA_PASSWORD_RELAY": "r"}
    for agency in AGENCIES:
        passwords[f"SIMPUL_KAFKA_PASSWORD_PROJECTOR_{agency.upper()}"] = "p"
        passwords[f"SIMPUL_KAFKA_PASSWORD_AGENCY_{agency.upper()}"] = "a"
    run = subprocess.run(
        ["bash", str(DEPLOY / "kafka" / "acls.sh")],
        env={**os.environ, **passwords, "KAFKA_BIN": str(tmp_path)},
        check=True,
        capture_output=True,
        text=True,
    )
    return [line.strip("\0").split("\0") for line in run.stdout.splitlines() if line]


def granted(commands: list[list[str]]) -> dict[tuple[str, str], set[str]]:
    """(resource kind, name) -> {"principal:Operation", ...}, from kafka-acls.sh --add lines."""
    grants: dict[tuple[str, str], set[str]] = defaultdict(set)
    for command in commands:
        if command[0] != "kafka-acls.sh":
            continue
        args = command[1:]
        principal = args[args.index("--allow-principal") + 1].removeprefix("User:")
        operations = [args[i + 1] for i, arg in enumerate(args) if arg == "--operation"]
        if "--cluster" in args:
            resource = ("cluster", "")
        else:
            kind = next(kind for kind in ("--topic", "--group") if kind in args)
            resource = (kind.strip("-"), args[args.index(kind) + 1])
        grants[resource] |= {f"{principal}:{operation}" for operation in operations}
    return grants


def who(grants: dict[tuple[str, str], set[str]], resource: tuple[str, str], operation: str) -> set:
    return {grant.split(":")[0] for grant in grants[resource] if grant.endswith(f":{operation}")}


def test_only_the_relay_writes_the_topics_and_each_agency_reads_only_its_own(tmp_path: Path):
    grants = granted(acl_commands(tmp_path))

    internal = ("topic", "simpul.cases.v1")
    assert who(grants, internal, "Write") == {"simpul-relay"}
    assert who(grants, internal, "Read") == set(), "no one reads the internal topic over Kafka"
    for agency in AGENCIES:
        topic = ("topic", f"simpul.agency.{agency}.v1")
        dead_letters = ("topic", f"simpul.agency.{agency}.v1.dlq")
        assert who(grants, topic, "Write") == {"simpul-relay"}, agency
        assert who(grants, topic, "Read") == {f"simpul-projector-{agency}", f"agency-{agency}"}
        assert who(grants, dead_letters, "Write") == {f"simpul-projector-{agency}"}, agency
        assert who(grants, dead_letters, "Read") == set(), agency
        assert who(grants, ("group", f"simpul-{agency}-projector"), "Read") == {
            f"simpul-projector-{agency}"
        }
        assert who(grants, ("group", f"{agency}-inbox"), "Read") == {f"agency-{agency}"}
    readable = defaultdict(set)
    for (kind, name), entries in grants.items():
        for entry in entries:
            if kind == "topic" and entry.endswith(":Read"):
                readable[entry.split(":")[0]].add(name)
    for agency in AGENCIES:
        assert readable[f"agency-{agency}"] == {f"simpul.agency.{agency}.v1"}


def test_every_principal_the_acls_name_is_a_scram_user_with_its_own_password(tmp_path: Path):
    commands = acl_commands(tmp_path)
    users = {
        command[command.index("--entity-name") + 1]: command[command.index("--add-config") + 1]
        for command in commands
        if command[0] == "kafka-configs.sh"
    }
    named = {grant.split(":")[0] for grants in granted(commands).values() for grant in grants}

    assert named == set(users)
    assert set(PRINCIPALS.values()) | {f"agency-{agency}" for agency in AGENCIES} == set(users)
    assert all(config.startswith("SCRAM-SHA-512=[iterations=") for config in users.values())


def test_the_acl_script_refuses_to_run_without_a_principals_password(tmp_path: Path):
    run = subprocess.run(
        ["bash", str(DEPLOY / "kafka" / "acls.sh")],
        env={**os.environ, "KAFKA_BIN": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode != 0
    assert "SIMPUL_KAFKA_PASSWORD_RELAY" in run.stderr


# ---- Kubernetes -----------------------------------------------------------------------------


def test_every_kubernetes_container_runs_a_simpul_command_with_known_settings():
    documents = kubernetes()
    deployments = [doc for doc in documents if doc["kind"] == "Deployment"]
    config = next(doc for doc in documents if doc["kind"] == "ConfigMap")

    assert {d["metadata"]["name"] for d in deployments} >= {"simpul-api", "simpul-relay"}
    assert set(config["data"]) <= SETTINGS
    for container in containers():
        assert container["command"] == ["simpul"]
        parses_as_simpul_command(container["args"])
        assert {e["name"] for e in container.get("env", [])} <= SETTINGS
        secrets = [e for e in container.get("env", []) if "valueFrom" in e]
        assert all("secretKeyRef" in e["valueFrom"] for e in secrets)


def test_there_is_one_projector_deployment_per_agency_in_the_matrix_and_one_for_the_office():
    projector_args = [
        container["args"][1:] for container in containers() if container["args"][0] == "project"
    ]

    agencies = {args[1] for args in projector_args if args[0] == "--agency"}
    assert agencies == set(AGENCIES)
    assert projector_args.count(["--coordinator"]) == 1


def test_every_kubernetes_name_is_a_valid_dns_label():
    """RFC 1123, as the API server checks it: an agency's '_' would make it refuse the file."""
    label = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
    names = [doc["metadata"]["name"] for doc in kubernetes()] + [
        e["valueFrom"]["secretKeyRef"]["name"]
        for container in containers()
        for e in container.get("env", [])
        if "valueFrom" in e
    ]

    assert [name for name in names if not (label.fullmatch(name) and len(name) <= 63)] == []


def test_each_kubernetes_process_reads_only_its_own_secret_and_only_what_it_needs():
    for container in containers():
        process = role(container["args"])
        references = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container.get("env", [])
            if "valueFrom" in e
        }
        own = f"simpul-{'coordinator-projector' if process == 'coordinator' else process}-secrets"
        own = own.replace("_", "-")  # Kubernetes names allow no '_' (legal_aid's projector)
        assert {ref["name"] for ref in references.values()} == {own}, process
        assert set(references) & SECRET_SETTINGS == NEEDS[process], process
        username = {e["name"]: e.get("value") for e in container.get("env", [])}.get(
            "SIMPUL_KAFKA_SASL_USERNAME"
        )
        assert username == PRINCIPALS.get(process), process


def test_the_kubernetes_config_secures_kafka_postgres_and_leaves_no_secret_in_it():
    config = next(doc for doc in kubernetes() if doc["kind"] == "ConfigMap")["data"]

    assert config["SIMPUL_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["SIMPUL_DATABASE_SSLMODE"] == "verify-full"
    assert not set(config) & (SECRET_SETTINGS | {"SIMPUL_KAFKA_SASL_USERNAME"})


def test_the_api_is_reached_only_through_an_ingress_with_tls():
    documents = kubernetes()
    services = [doc for doc in documents if doc["kind"] == "Service"]
    ingress = next(doc for doc in documents if doc["kind"] == "Ingress")

    assert all(service["spec"].get("type", "ClusterIP") == "ClusterIP" for service in services)
    tls = ingress["spec"]["tls"]
    assert tls and all(entry["secretName"] for entry in tls)
    hosts = {host for entry in tls for host in entry["hosts"]}
    assert {rule["host"] for rule in ingress["spec"]["rules"]} <= hosts
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"simpul-api"}


def test_metrics_are_admitted_only_from_the_monitoring_namespace():
    policies = [doc for doc in kubernetes() if doc["kind"] == "NetworkPolicy"]
    metrics_ports = {9464, 9465, 9466}

    deny_all = [p for p in policies if not p["spec"].get("ingress")]
    assert deny_all and deny_all[0]["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/part-of": "simpul"
    }
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            ports = {port["port"] for port in rule["ports"]}
            sources = {
                source["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                for source in rule["from"]
            }
            if ports & metrics_ports:
                assert sources == {"monitoring"}, policy["metadata"]["name"]


PLACEHOLDER_TOKEN_KEY = Ed25519PrivateKey.generate()
SECRET_PLACEHOLDERS = {
    "database-url": "postgresql://simpul_service:secret@postgres:5432/simpul",
    "owner-database-url": "postgresql://simpul_owner:secret@postgres:5432/simpul",
    "token-public-key": public_key_pem(PLACEHOLDER_TOKEN_KEY.public_key()),
    "kafka-password": "p" * 40,
    "message-signing-key-id": "relay-202612",
    "message-signing-key": MessageSigner.generate("x").private_key_text(),
    "person-match-key": "m" * 43,
    "search-key": "A" * 43,
    "document-master-key": "d" * 43,
    "token-private-key": private_key_pem(PLACEHOLDER_TOKEN_KEY),
    "account-key": "k" * 43,
    "smtp-password": "s" * 24,
}


def kubernetes_workloads() -> dict[str, dict[str, str]]:
    """Each process's container environment (by role), as Kubernetes would set it."""
    config = next(doc for doc in kubernetes() if doc["kind"] == "ConfigMap")["data"]
    workloads = {}
    for container in containers():
        environment = dict(config)
        for variable in container.get("env", []):
            if "valueFrom" in variable:
                key = variable["valueFrom"]["secretKeyRef"]["key"]
                environment[variable["name"]] = SECRET_PLACEHOLDERS[key]
            else:
                environment[variable["name"]] = variable["value"]
        workloads[role(container["args"])] = environment
    return workloads


def compose_workloads(made_secrets: Path) -> dict[str, dict[str, str]]:
    """Each Simpul service's environment (by role), with deploy/.env substituted."""
    env = dotenv(made_secrets / ".env")
    return {
        role(service["command"]): {
            key: interpolated(str(value), env) for key, value in service["environment"].items()
        }
        for service in simpul_services().values()
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


def test_the_image_runs_simpul():
    dockerfile = (DEPLOY / "Dockerfile").read_text()

    assert 'ENTRYPOINT ["simpul"]' in dockerfile
    assert "-c constraints.txt" in dockerfile


# ---- Tokens and database roles, in both deployments -----------------------------------------


def test_only_the_api_holds_the_token_keys_which_its_login_mints_with(made_secrets: Path):
    for deployment in (kubernetes_workloads(), compose_workloads(made_secrets)):
        token_keys = {
            process: {name for name in environment if name.startswith("SIMPUL_TOKEN_")}
            for process, environment in deployment.items()
        }

        assert token_keys.pop("api") == {"SIMPUL_TOKEN_PUBLIC_KEY", "SIMPUL_TOKEN_PRIVATE_KEY"}
        assert all(keys == set() for keys in token_keys.values())
        # Requests are verified with the public key; only the login mints, with the pair.
        api = settings_of(deployment["api"])
        assert not runtime.token_service(api).can_mint
        login = runtime.login_token_service(api)
        assert login is not None and login.can_mint


def test_every_process_connects_as_the_service_role_and_only_set_up_as_the_owner(
    made_secrets: Path,
):
    for deployment in (kubernetes_workloads(), compose_workloads(made_secrets)):
        users = {
            process: urlsplit(environment[DATABASE]).username
            for process, environment in deployment.items()
        }
        owner = users.pop("db-setup")

        assert set(users.values()) == {"simpul_service"}
        assert owner != "simpul_service"


def test_the_set_up_job_runs_simpul_db_setup_before_every_other_process():
    job = next(doc for doc in kubernetes() if doc["kind"] == "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]

    assert container["args"] == ["db", "setup"]
    for name, service in simpul_services().items():
        if role(service["command"]) != "db-setup":
            depends = service["depends_on"]
            assert depends["db-setup"]["condition"] == "service_completed_successfully", name


# ---- E-mail -----------------------------------------------------------------------------------


def test_only_the_notifier_holds_the_smtp_password_and_it_links_to_the_public_host_over_https(
    made_secrets: Path,
):
    for deployment in (kubernetes_workloads(), compose_workloads(made_secrets)):
        holders = {
            process for process, environment in deployment.items() if SMTP_PASSWORD in environment
        }

        assert holders == {"notifier"}
        notifier = settings_of(deployment["notifier"])
        assert notifier.smtp_starttls
        assert notifier.public_url.startswith("https://")
