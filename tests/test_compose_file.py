"""Static checks of the container stack: docker-compose.yml, the Dockerfiles and the Postgres init script.

No Docker engine is needed. The compose file is validated against the Compose Specification's JSON Schema
(deploy/compose-spec.json, vendored from compose-spec/compose-spec), then checked for what a schema cannot
express: files that must exist, references between services, published ports and the configuration every
service reads from its environment. Each semantic check is a function returning a list of problems, and is
also run against a deliberately broken document so that it is known to be able to fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from clinic_shared.messaging.broker_users import DEV_PASSWORDS, definitions_json, dev_definitions, user_for

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "deploy" / "compose-spec.json"
INIT_SQL = ROOT / "deploy" / "postgres" / "init-databases.sql"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
WEB_CONFIG = ROOT / "services" / "web" / "src" / "web" / "config.py"

# The three data-owning services (each with its database, migrations, worker and API).
SERVICE_PORTS = {"scheduling": 8001, "billing": 8002, "notifications": 8003}
JWKS_URL = "http://scheduling-web:8001/.well-known/jwks.json"
INFRASTRUCTURE = {"postgres", "rabbitmq", "mailpit", "redis"}

# The web front (services/web): an application container with no database and no broker, built from
# services/web/Dockerfile, calling the three APIs and keeping its sessions in Redis.
WEB_APP = "web"
WEB_SERVICE = "web-portal"
WEB_PORT = 8000
WEB_FACTORY = "web.entrypoints.app:create_app()"

# Environment every container of the three data-owning services gets (and its own broker user's URL).
APP_ENV = {"LOG_LEVEL"}
# Environment each compose service must be given (APP_ENV included for the data-owning services).
REQUIRED_ENV: dict[str, set[str]] = {
    name: required | APP_ENV | {f"{name.split('-')[0].upper()}_AMQP_URL"}
    for name, required in {
        "scheduling-migrate": {"SCHEDULING_DATABASE_URL"},
        "scheduling-web": {"SCHEDULING_DATABASE_URL", "JWT_PRIVATE_KEY_FILE", "PORT"},
        "scheduling-worker": {"SCHEDULING_DATABASE_URL"},
        "billing-migrate": {"BILLING_DATABASE_URL"},
        "billing-web": {"BILLING_DATABASE_URL", "JWKS_URL", "PORT"},
        "billing-worker": {"BILLING_DATABASE_URL"},
        "notifications-migrate": {"NOTIFICATIONS_DATABASE_URL"},
        "notifications-web": {
            "NOTIFICATIONS_DATABASE_URL",
            "JWKS_URL",
            "SMTP_URL",
            "MAILBOX_DIR",
            "SMS_SINK_DIR",
            "PORT",
            "WEB_PUBLIC_URL",
        },
        "notifications-worker": {
            "NOTIFICATIONS_DATABASE_URL",
            "SMTP_URL",
            "MAILBOX_DIR",
            "SMS_SINK_DIR",
            # Messages link to the portal's pages (password reset, waitlist offers).
            "WEB_PUBLIC_URL",
        },
    }.items()
} | {
    WEB_SERVICE: {
        "SCHEDULING_URL",
        "BILLING_URL",
        "NOTIFICATIONS_URL",
        "WEB_PUBLIC_URL",
        "WEB_SECRET_KEY",
        "REDIS_URL",
        "LOG_LEVEL",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "PORT",
    },
}

# Every variable the services read; .env.example must document each one.
DOCUMENTED_ENV = set().union(*REQUIRED_ENV.values()) | {
    "JWKS_FILE",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "SMTP_FROM",
    "SMS_PROVIDER_URL",
    "SCHEDULING_PORT",
    "BILLING_PORT",
    "NOTIFICATIONS_PORT",
    "WEB_CONCURRENCY",
    "RELAY_BATCH_SIZE",
    "CONSUMER_PREFETCH",
    "DELIVERY_LIMIT",
    "METRICS_PORT",
    "METRICS_HOST",
    "TOKEN_TTL_MINUTES",
    "VAR_DIR",
    "WEB_SESSION_FILE",
    "WEB_SESSION_HOURS",
    "WEB_API_TIMEOUT_SECONDS",
    "WEB_PORT",
}

BROKEN_DOCUMENT: dict[str, Any] = {"services": {"x": {"ports": "not-a-list", "bogus_key": 1}}}


# ----------------------------------------------------------------------------------------------------
# Loading and schema validation
# ----------------------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def compose_validator(schema: Mapping[str, Any]) -> Validator:
    """The validator class the schema's own ``$schema`` declares, checked against its metaschema.

    json-schema.org's canonical identifiers for drafts 3 to 7 are ``http://json-schema.org/draft-0N/schema#``;
    the compose spec writes ``https://json-schema.org/draft-07/schema``, which ``validator_for`` does not
    recognise, so the scheme and fragment are normalised before the lookup instead of silently falling back
    to the newest draft.
    """
    declared = schema.get("$schema", "")
    canonical = re.sub(r"^https?://(json-schema\.org/draft-0\d/schema)#?$", r"http://\1#", declared)
    cls = validator_for({"$schema": canonical}, default=None)
    if cls is None:
        raise AssertionError(f"no jsonschema validator for the compose spec's $schema {declared!r}")
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(validator: Validator, document: Any) -> list[str]:
    errors = sorted(validator.iter_errors(document), key=lambda error: list(map(str, error.absolute_path)))
    return [f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}" for error in errors]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    with SCHEMA_FILE.open(encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Validator:
    return compose_validator(schema)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = load_yaml(COMPOSE_FILE)
    assert isinstance(document, dict), "docker-compose.yml must be a mapping"
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_schema_declares_draft_7_and_is_valid(schema: dict[str, Any]) -> None:
    validator = compose_validator(schema)
    assert "draft-07" in type(validator).META_SCHEMA["$schema"]


def test_compose_file_conforms_to_the_compose_spec(validator: Validator, compose: dict[str, Any]) -> None:
    assert schema_errors(validator, compose) == []


def test_validator_rejects_a_broken_document(validator: Validator) -> None:
    errors = schema_errors(validator, BROKEN_DOCUMENT)
    assert any(
        error.startswith("services/x/ports:") and "not of type 'array'" in error for error in errors
    ), errors
    assert any(error.startswith("services/x:") and "bogus_key" in error for error in errors), errors


# ----------------------------------------------------------------------------------------------------
# Helpers that normalise the several syntaxes Compose accepts
# ----------------------------------------------------------------------------------------------------


def environment_of(service: Mapping[str, Any]) -> dict[str, str | None]:
    """``environment`` as a mapping, whether written as a mapping or as a list of ``NAME=value``."""
    raw = service.get("environment") or {}
    if isinstance(raw, Mapping):
        return {name: None if value is None else str(value) for name, value in raw.items()}
    environment: dict[str, str | None] = {}
    for item in raw:
        name, separator, value = str(item).partition("=")
        environment[name] = value if separator else None
    return environment


def dependencies_of(service: Mapping[str, Any]) -> dict[str, str]:
    """``depends_on`` as ``{service: condition}``; the short (list) syntax means ``service_started``."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (options or {}).get("condition", "service_started") for name, options in raw.items()}


def published_ports(service: Mapping[str, Any]) -> set[tuple[int, int]]:
    """``(host port, container port)`` pairs from short (``[ip:]host:container[/proto]``) and long syntax."""
    pairs: set[tuple[int, int]] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, Mapping):
            if entry.get("published") is not None:
                pairs.add((int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/", 1)[0].rsplit(":", 2)
        if len(parts) >= 2 and parts[-2].isdigit():
            pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def has_healthcheck(service: Mapping[str, Any]) -> bool:
    healthcheck = service.get("healthcheck")
    return bool(healthcheck) and not healthcheck.get("disable") and bool(healthcheck.get("test"))


def named_volume_mounts(service: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(volume name, container path)`` for every named-volume mount (bind mounts are skipped)."""
    for entry in service.get("volumes") or []:
        if isinstance(entry, Mapping):
            if entry.get("type", "volume") == "volume" and entry.get("source"):
                yield entry["source"], entry["target"]
            continue
        source, _, rest = str(entry).partition(":")
        if rest and not source.startswith((".", "/", "~", "$")):
            yield source, rest.split(":", 1)[0]


def app_services(services: Mapping[str, Any]) -> dict[str, str]:
    """``{compose service: application}`` for the containers built from services/<application>/Dockerfile.

    The web front is one of them; ``data_services`` narrows this to the three services that own a database.
    """
    found = {}
    for name, service in services.items():
        build = service.get("build")
        dockerfile = build.get("dockerfile", "") if isinstance(build, Mapping) else ""
        match = re.fullmatch(r"services/(\w+)/Dockerfile", dockerfile)
        if match:
            found[name] = match.group(1)
    return found


def data_services(services: Mapping[str, Any]) -> dict[str, str]:
    """``app_services`` restricted to the applications that own a database (not the web front)."""
    return {name: app for name, app in app_services(services).items() if app in SERVICE_PORTS}


def interpolation_default(value: str) -> str | None:
    """The default of a whole-value ``${NAME:-default}`` (or ``${NAME-default}``) interpolation."""
    match = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-(.*)\}", value)
    return match.group(1) if match else None


# ----------------------------------------------------------------------------------------------------
# Semantic checks (each returns a list of problems)
# ----------------------------------------------------------------------------------------------------


def build_problems(compose: Mapping[str, Any], root: Path) -> list[str]:
    problems = []
    for name, service in compose.get("services", {}).items():
        build = service.get("build")
        if build is None:
            continue
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        context_dir = (root / context).resolve()
        if not context_dir.is_dir():
            problems.append(f"{name}: build context {context!r} is not a directory")
        elif not (context_dir / dockerfile).is_file():
            problems.append(f"{name}: dockerfile {dockerfile!r} not found in build context {context!r}")
    return problems


def dependency_problems(compose: Mapping[str, Any]) -> list[str]:
    services = compose.get("services", {})
    problems = []
    for name, service in services.items():
        for target, condition in dependencies_of(service).items():
            if target not in services:
                problems.append(f"{name}: depends_on undefined service {target!r}")
            elif condition == "service_healthy" and not has_healthcheck(services[target]):
                problems.append(
                    f"{name}: waits for {target!r} to be healthy but {target!r} has no healthcheck"
                )
            elif (
                condition == "service_completed_successfully"
                and services[target].get("restart", "no") != "no"
            ):
                problems.append(f"{name}: waits for {target!r} to complete but {target!r} restarts")
    return problems


def volume_problems(compose: Mapping[str, Any]) -> list[str]:
    declared = set(compose.get("volumes") or {})
    return [
        f"{name}: named volume {volume!r} is not declared under top-level volumes"
        for name, service in compose.get("services", {}).items()
        for volume, _ in named_volume_mounts(service)
        if volume not in declared
    ]


def url_host_problems(compose: Mapping[str, Any]) -> list[str]:
    """Every URL-valued variable must point at a compose service (nothing outside the stack).

    Values interpolated from the host's environment (``${...}``, e.g. public URLs a browser uses) are
    skipped. When the target service sets ``PORT`` (the web apps), the URL must name that port.
    """
    services = compose.get("services", {})
    problems = []
    for name, service in services.items():
        for variable, value in environment_of(service).items():
            if variable.endswith("_URL") and value and "://" in value and "${" not in value:
                parts = urlsplit(value)
                host = parts.hostname
                if host not in services:
                    problems.append(f"{name}: {variable} points at {host!r}, which is not a compose service")
                    continue
                listening = environment_of(services[host]).get("PORT")
                if listening and parts.port != int(listening):
                    problems.append(
                        f"{name}: {variable} uses port {parts.port}, but {host!r} listens on {listening}"
                    )
    return problems


def test_build_contexts_and_dockerfiles_exist(compose: dict[str, Any]) -> None:
    assert build_problems(compose, ROOT) == []


def test_dependencies_are_defined_and_health_conditions_are_checkable(compose: dict[str, Any]) -> None:
    assert dependency_problems(compose) == []


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    assert volume_problems(compose) == []


def test_urls_point_at_services_in_the_stack(compose: dict[str, Any]) -> None:
    assert url_host_problems(compose) == []


def test_semantic_checks_catch_a_broken_document() -> None:
    broken = {
        "services": {
            "web": {
                "build": {"context": ".", "dockerfile": "services/nowhere/Dockerfile"},
                "depends_on": {
                    "db": {"condition": "service_healthy"},
                    "ghost": {"condition": "service_started"},
                    "setup": {"condition": "service_completed_successfully"},
                },
                "environment": [
                    "AMQP_URL=amqp://guest:guest@elsewhere:5672/",
                    "API_URL=http://api:8001",
                    "OTHER_API_URL=http://api:8009",
                    "CACHE_URL=redis://db:6379/0",
                    "PUBLIC_URL=${PUBLIC_URL:-https://example.org}",
                ],
                "volumes": ["undeclared:/data"],
            },
            "api": {"image": "api", "environment": {"PORT": 8001}},
            "db": {"image": "postgres:15", "healthcheck": {"disable": True}},
            "setup": {"build": "no-such-dir", "restart": "always"},
        }
    }
    assert len(build_problems(broken, ROOT)) == 2
    problems = dependency_problems(broken)
    assert any("'ghost'" in problem for problem in problems)
    assert any("'db'" in problem and "healthcheck" in problem for problem in problems)
    assert any("'setup'" in problem and "restarts" in problem for problem in problems)
    assert volume_problems(broken) == [
        "web: named volume 'undeclared' is not declared under top-level volumes"
    ]
    assert url_host_problems(broken) == [
        "web: AMQP_URL points at 'elsewhere', which is not a compose service",
        "web: OTHER_API_URL uses port 8009, but 'api' listens on 8001",
    ]


def test_the_stack_has_every_expected_service(services: dict[str, Any]) -> None:
    applications = {f"{app}-{role}" for app in SERVICE_PORTS for role in ("migrate", "web", "worker")}
    expected = INFRASTRUCTURE | applications | {WEB_SERVICE}
    assert expected <= set(services)
    assert set(app_services(services)) == applications | {WEB_SERVICE}
    assert set(data_services(services)) == applications
    assert app_services(services)[WEB_SERVICE] == WEB_APP
    for name, app in app_services(services).items():
        assert name.startswith(f"{app}-"), f"{name} is built from services/{app}/Dockerfile"


def test_infrastructure_images_and_healthchecks(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"] == "postgres:15"
    assert services["rabbitmq"]["image"] == "rabbitmq:3.10-management"
    assert services["rabbitmq"]["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert services["redis"]["image"] == "redis:7-alpine"
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for name in INFRASTRUCTURE:
        assert has_healthcheck(services[name]), name


def test_the_broker_loads_the_generated_definitions_of_one_user_per_service(services: dict[str, Any]) -> None:
    mounts = {mount.split(":")[1]: mount.split(":")[0] for mount in services["rabbitmq"]["volumes"]}
    config = ROOT / mounts["/etc/rabbitmq/conf.d/20-definitions.conf"]
    assert "load_definitions = /etc/rabbitmq/definitions.json" in config.read_text()
    loaded = ROOT / mounts["/etc/rabbitmq/definitions.json"]
    assert loaded.read_text() == definitions_json(dev_definitions()), (
        "regenerate: python -m clinic_shared.messaging.broker_users --definitions --dev"
    )
    assert "environment" not in services["rabbitmq"], "no default user: the definitions make them"


def test_web_services_publish_their_ports_and_probe_healthz(services: dict[str, Any]) -> None:
    for app, port in SERVICE_PORTS.items():
        web = services[f"{app}-web"]
        assert (port, port) in published_ports(web), f"{app}-web must publish {port}:{port}"
        assert environment_of(web)["PORT"] == str(port)
        assert environment_of(web)[f"{app.upper()}_PORT"] == str(port)
        assert has_healthcheck(web)
        assert "/healthz" in json.dumps(web["healthcheck"]["test"])
        assert "command" not in web, "the web container runs the image's default gunicorn command"


def test_one_shot_migrations_and_workers(services: dict[str, Any]) -> None:
    for app in SERVICE_PORTS:
        migrate, web, worker = (services[f"{app}-{role}"] for role in ("migrate", "web", "worker"))
        steps = migrate["command"][2].split(" && ")
        assert migrate["command"][:2] == ["sh", "-c"]
        # Queues must be declared before any worker relays an event, and the demo seeded after that.
        assert steps[:2] == [f"{app} migrate", f"{app} setup-broker"]
        if app in {"scheduling", "billing"}:
            assert steps[2:] == [f"{app} seed-demo"]
        assert dependencies_of(migrate) == {"postgres": "service_healthy", "rabbitmq": "service_healthy"}
        assert {f"{name}-migrate" for name in SERVICE_PORTS} <= set(dependencies_of(worker))
        assert migrate.get("restart", "no") == "no"
        assert worker["command"] == [app, "worker"]
        for service in (web, worker):
            dependencies = dependencies_of(service)
            assert dependencies[f"{app}-migrate"] == "service_completed_successfully"
            assert dependencies["rabbitmq"] == "service_healthy"
        # The image's HEALTHCHECK probes HTTP /healthz, which only the web container serves.
        for service in (migrate, worker):
            assert service["healthcheck"] == {"disable": True}
        # Metrics for a scraper on the compose network (deploy/prometheus/prometheus.yml), never published.
        assert (worker["environment"]["METRICS_PORT"], worker["environment"]["METRICS_HOST"]) == (
            "9100",
            "0.0.0.0",
        )
        assert "ports" not in worker


def test_token_verifiers_wait_for_the_issuer(services: dict[str, Any]) -> None:
    for app in ("billing", "notifications"):
        assert dependencies_of(services[f"{app}-web"])["scheduling-web"] == "service_healthy"
    assert dependencies_of(services["notifications-web"])["mailpit"] == "service_healthy"
    assert dependencies_of(services["notifications-worker"])["mailpit"] == "service_healthy"


def test_every_service_gets_the_configuration_it_reads(services: dict[str, Any]) -> None:
    assert set(REQUIRED_ENV) == set(app_services(services))
    missing = {}
    for name, required in REQUIRED_ENV.items():
        provided = {variable for variable, value in environment_of(services[name]).items() if value}
        if absent := required - provided:
            missing[name] = sorted(absent)
    assert missing == {}


def test_configuration_values(services: dict[str, Any]) -> None:
    for name, app in data_services(services).items():
        env = environment_of(services[name])
        database = urlsplit(env[f"{app.upper()}_DATABASE_URL"])
        assert database.scheme == "postgresql+psycopg", name
        assert (database.hostname, database.path) == ("postgres", f"/{app}"), name
        broker = urlsplit(env[f"{app.upper()}_AMQP_URL"])
        assert (broker.hostname, broker.path) == ("rabbitmq", "/ims"), name
        assert (broker.username, broker.password) == (user_for(app), DEV_PASSWORDS[app]), name
        assert "AMQP_URL" not in env, f"{name}: its own broker user only, no shared login"
        if "JWKS_URL" in env:
            assert env["JWKS_URL"] == JWKS_URL, name
    notifications = environment_of(services["notifications-worker"])
    assert notifications["SMTP_URL"] == "smtp://mailpit:1025"


def test_web_front_is_built_published_and_probed(services: dict[str, Any]) -> None:
    web = services[WEB_SERVICE]
    assert web["build"] == {"context": ".", "dockerfile": f"services/{WEB_APP}/Dockerfile"}
    assert (WEB_PORT, WEB_PORT) in published_ports(web)
    env = environment_of(web)
    assert env["PORT"] == env["WEB_PORT"] == str(WEB_PORT)
    assert has_healthcheck(web)
    assert "/healthz" in json.dumps(web["healthcheck"]["test"])
    assert "command" not in web, "the web front runs the image's default gunicorn command"


def test_web_front_calls_the_three_apis_once_they_are_healthy(services: dict[str, Any]) -> None:
    web = services[WEB_SERVICE]
    env = environment_of(web)
    dependencies = dependencies_of(web)
    for app, port in SERVICE_PORTS.items():
        assert env[f"{app.upper()}_URL"] == f"http://{app}-web:{port}"
        assert dependencies[f"{app}-web"] == "service_healthy"
    # It reads tokens scheduling issues, so it must expect the same issuer and audience.
    scheduling = environment_of(services["scheduling-web"])
    for variable in ("JWT_ISSUER", "JWT_AUDIENCE"):
        assert env[variable] == scheduling[variable], variable


def test_web_front_keeps_sessions_in_redis_and_owns_no_data(services: dict[str, Any]) -> None:
    web = services[WEB_SERVICE]
    env = environment_of(web)
    redis = urlsplit(env["REDIS_URL"])
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
    assert dependencies_of(web)["redis"] == "service_healthy"
    assert not any(variable.endswith("_DATABASE_URL") for variable in env)
    assert "AMQP_URL" not in env
    assert not set(dependencies_of(web)) & {"postgres", "rabbitmq"}
    assert not list(named_volume_mounts(web)), "with Redis sessions the web front is stateless"


def test_web_front_secret_and_public_url(services: dict[str, Any]) -> None:
    assert "WEB_SECRET_KEY" in REQUIRED_ENV[WEB_SERVICE]
    env = environment_of(services[WEB_SERVICE])
    # Overridable from the host; WebSettings refuses a key shorter than 32 characters.
    secret = interpolation_default(env["WEB_SECRET_KEY"] or "")
    assert secret is not None
    assert secret.startswith("dev-only-")
    assert len(secret) >= 32
    public_url = interpolation_default(env["WEB_PUBLIC_URL"] or "")
    assert public_url == f"http://localhost:{WEB_PORT}"
    # Notifications links its messages to the portal's pages under the same URL.
    for name in ("notifications-web", "notifications-worker"):
        assert environment_of(services[name])["WEB_PUBLIC_URL"] == env["WEB_PUBLIC_URL"], name


def test_every_variable_the_web_front_reads_is_documented() -> None:
    read = set(re.findall(r"\benv\.\w+\(\s*\"([A-Z][A-Z0-9_]*)\"", WEB_CONFIG.read_text(encoding="utf-8")))
    assert {"WEB_SECRET_KEY", "SCHEDULING_URL", "REDIS_URL"} <= read
    assert sorted(read - DOCUMENTED_ENV) == []


def test_jwt_key_and_data_live_in_named_volumes(compose: dict[str, Any], services: dict[str, Any]) -> None:
    assert {"postgres-data", "rabbitmq-data", "redis-data", "jwt-key"} <= set(compose["volumes"])
    assert ("postgres-data", "/var/lib/postgresql/data") in set(named_volume_mounts(services["postgres"]))
    assert ("rabbitmq-data", "/var/lib/rabbitmq") in set(named_volume_mounts(services["rabbitmq"]))
    key_dir = str(Path(environment_of(services["scheduling-web"])["JWT_PRIVATE_KEY_FILE"]).parent)
    assert ("jwt-key", key_dir) in set(named_volume_mounts(services["scheduling-web"]))


def test_init_script_creates_one_database_per_service(services: dict[str, Any]) -> None:
    sql = re.sub(r"--[^\n]*", "", INIT_SQL.read_text(encoding="utf-8"))
    created = set(re.findall(r"\bCREATE\s+DATABASE\s+\"?(\w+)\"?", sql, flags=re.IGNORECASE))
    assert created == set(SERVICE_PORTS)
    mounts = services["postgres"]["volumes"]
    assert any(
        isinstance(m, str)
        and m.startswith("./deploy/postgres/init-databases.sql:/docker-entrypoint-initdb.d/")
        for m in mounts
    ), mounts
    # The credentials in the database URLs are the roles the script creates.
    for name, app in data_services(services).items():
        url = urlsplit(environment_of(services[name])[f"{app.upper()}_DATABASE_URL"])
        assert re.search(rf"\bCREATE\s+ROLE\s+{url.username}\s+LOGIN\s+PASSWORD\s+'{url.password}'", sql), (
            name
        )


# ----------------------------------------------------------------------------------------------------
# Dockerfiles, .dockerignore and .env.example
# ----------------------------------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


# (application, port, gunicorn app factory) per services/<application>/Dockerfile.
DOCKERFILES = [(app, port, f"{app}.entrypoints.api:create_app()") for app, port in SERVICE_PORTS.items()] + [
    (WEB_APP, WEB_PORT, WEB_FACTORY)
]


@pytest.mark.parametrize(("app", "port", "factory"), sorted(DOCKERFILES))
def test_dockerfile(app: str, port: int, factory: str) -> None:
    instructions = dockerfile_instructions(ROOT / "services" / app / "Dockerfile")

    def arguments(keyword: str) -> list[str]:
        return [args for kw, args in instructions if kw == keyword]

    assert arguments("FROM")
    assert all(base.startswith("python:3.11-slim") for base in arguments("FROM"))
    assert f"pip install --no-cache-dir -c constraints.txt ./shared ./services/{app}" in arguments("RUN")
    assert any("deploy/gunicorn.conf.py" in args for args in arguments("COPY"))
    assert arguments("USER")
    assert arguments("USER")[-1].split(":")[0] not in {"root", "0"}
    assert str(port) in arguments("EXPOSE")[-1].split()
    assert any(f"PORT={port}" in args.split() for args in arguments("ENV")), "gunicorn binds to $PORT"
    # Exec form must be valid JSON, or Docker silently runs the text through a shell instead.
    probe = json.loads(arguments("HEALTHCHECK")[-1].split(" CMD ", 1)[1])
    assert probe[:2] == ["python", "-c"]
    assert "/healthz" in probe[2]
    assert json.loads(arguments("CMD")[-1]) == [
        "gunicorn",
        "-c",
        "deploy/gunicorn.conf.py",
        factory,
    ]


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    patterns = set(DOCKERIGNORE.read_text(encoding="utf-8").split())
    assert {".venv", "var", "artifacts", ".git", "node_modules", "**/__pycache__"} <= patterns
    assert not patterns & {"shared", "services", "constraints.txt", "deploy"}


def test_env_example_documents_every_variable() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    documented = {}
    for index, line in enumerate(lines):
        match = re.fullmatch(r"#? ?([A-Z][A-Z0-9_]*)=.*", line)
        if match:
            documented[match.group(1)] = lines[index - 1] if index else ""
    assert sorted(DOCUMENTED_ENV - set(documented)) == []
    undescribed = [
        name
        for name, previous in documented.items()
        if not previous.startswith("# ") or re.fullmatch(r"# ?[A-Z][A-Z0-9_]*=.*", previous)
    ]
    assert undescribed == [], "each variable needs a one-line description comment right above it"
    defaults = {
        line.split("=", 1)[0]: line.split("=", 1)[1] for line in lines if re.match(r"[A-Z][A-Z0-9_]*=", line)
    }
    for app, port in SERVICE_PORTS.items():
        assert defaults[f"{app.upper()}_DATABASE_URL"] == f"sqlite:///var/{app}.db"
        assert defaults[f"{app.upper()}_PORT"] == str(port)
        # The web front's defaults for running side by side: each API on its local port.
        assert defaults[f"{app.upper()}_URL"] == f"http://127.0.0.1:{port}"
    assert defaults["WEB_PORT"] == str(WEB_PORT)
    assert defaults["WEB_SESSION_FILE"] == "var/web-sessions.db"
