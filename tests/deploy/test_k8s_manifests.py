"""Static checks of the Kubernetes manifests (deploy/k8s): render, validate against schemas, check properties.

No cluster and no network are needed. Each overlay is rendered with `kubectl kustomize`, then every object is
validated against the Kubernetes JSON schemas bundled in the kubernetes-validate package (strict: unknown
fields are errors) or, for the operators' custom resources, against the CRD schemas vendored in
deploy/k8s/schemas (made strict the same way). Then the properties the deployment relies on are checked:
replicas, probes, resources, pinned images, no committed secrets, non-root read-only containers, PDBs, HPAs,
default-deny NetworkPolicy, database isolation, the Jobs that run before a rollout and the environment each
process reads. Each property check is a function returning a list of problems, and is also run against a
deliberately broken document so that it is known to be able to fail.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema.validators import Draft202012Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
README = K8S / "README.md"
OVERLAYS = ("dev", "production")
KUBERNETES_VERSION = "1.30.0"  # the oldest release the manifests target (the preStop sleep action)

SERVICES = {"scheduling": 8001, "billing": 8002, "notifications": 8003}
WEB_FRONT = "web-portal"
WEB_DEPLOYMENTS = {f"{service}-web" for service in SERVICES} | {WEB_FRONT}
WORKER_DEPLOYMENTS = {f"{service}-worker" for service in SERVICES}
JOBS = {f"{service}-{step}": [service, step] for service in SERVICES for step in ("migrate", "setup-broker")}

# What each process must find in its environment (env or a referenced ConfigMap), as in docker-compose.yml.
COMMON_ENV = {"JWT_ISSUER", "JWT_AUDIENCE", "LOG_LEVEL"}
SERVICE_ENV = {
    "scheduling": {"SCHEDULING_DATABASE_URL", "SCHEDULING_AMQP_URL", "JWT_SIGNING_KEY_DIR", "PORT"},
    "billing": {"BILLING_DATABASE_URL", "BILLING_AMQP_URL", "JWKS_URL", "DOCUMENT_LINK_SECRET", "PORT"},
    "notifications": {"NOTIFICATIONS_DATABASE_URL", "NOTIFICATIONS_AMQP_URL", "JWKS_URL", "SMTP_URL", "PORT"},
    "web": {"WEB_SECRET_KEY", "REDIS_URL", "SCHEDULING_URL", "BILLING_URL", "NOTIFICATIONS_URL", "PORT"},
}
# Variables whose values are credentials: they must come from a Secret, never a literal or a ConfigMap.
SECRET_ENV = re.compile(r"(DATABASE_URL|AMQP_URL|REDIS_URL|SMTP_URL|SECRET|PASSWORD|TOKEN|SMS_PROVIDER_URL)")
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]+:[^/@\s]+@")

CRD_SCHEMAS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmqcluster-rabbitmq.com-v1beta1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster-postgresql.cnpg.io-v1.json",
}

Doc = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# Rendering and schema validation
# ---------------------------------------------------------------------------------------------------------


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail(
            "kubectl is not installed: these checks render deploy/k8s with `kubectl kustomize`. "
            "Install it (Debian: apt-get install kubectl; .ci/run does so) and run the tests again.",
            pytrace=False,
        )
    return path


@functools.cache
def render(overlay: str) -> tuple[Doc, ...]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"kubectl kustomize overlays/{overlay} failed:\n{done.stderr}", pytrace=False)
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def docs(overlay: str) -> tuple[Doc, ...]:
    return render(overlay)


def strict(schema: Any) -> Any:
    """The schema with unknown fields rejected, as by the API server under `kubectl apply --validate=strict`:
    each object schema listing properties gets additionalProperties: false unless it keeps unknown fields."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


@functools.cache
def crd_validator(api_version: str, kind: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / CRD_SCHEMAS[api_version, kind]).read_text())
    schema.pop("$comment")
    return Draft202012Validator(strict(schema))


def bundled_schemas() -> Traversable:
    """kubernetes-validate's copy of the Kubernetes JSON schemas for KUBERNETES_VERSION (strict variant)."""
    directory = (
        resources.files("kubernetes_validate")
        / "kubernetes-json-schema"
        / f"v{KUBERNETES_VERSION}-local-strict"
    )
    if not directory.is_dir():
        pytest.fail(
            f"kubernetes-validate bundles no schemas for Kubernetes {KUBERNETES_VERSION}", pytrace=False
        )
    return directory


@functools.cache
def kubernetes_definitions() -> Registry:
    """The definitions every kind's schema refers to (1.3 MB of JSON), loaded once."""
    definitions = json.loads((bundled_schemas() / "_definitions.json").read_text())
    return Registry().with_resource(
        "https://kubernetes.io/api/_definitions.json", Resource.from_contents(definitions)
    )


@functools.cache
def kubernetes_validator(api_version: str, kind: str) -> Draft202012Validator | None:
    """A validator for a built-in kind (None if Kubernetes has no such kind), built once."""
    # The file naming of kubernetes-validate: apps/v1 -> apps-v1, networking.k8s.io/v1 -> networking-v1.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = bundled_schemas() / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    return Draft202012Validator(json.loads(path.read_text()), registry=kubernetes_definitions())


def schema_errors(doc: Doc) -> list[str]:
    """Why a rendered object would be rejected: schema violations, or a kind with no known schema."""
    name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    validator = crd_validator(*key) if key in CRD_SCHEMAS else kubernetes_validator(*key)
    if validator is None:
        return [
            f"{name}: no schema for {key[0]} in Kubernetes {KUBERNETES_VERSION} nor in deploy/k8s/schemas"
        ]
    return [
        f"{name}: {'.'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(doc)
    ]


def test_every_overlay_renders(docs: tuple[Doc, ...]) -> None:
    kinds = {doc["kind"] for doc in docs}
    assert {
        "Namespace",
        "ConfigMap",
        "Deployment",
        "Job",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Ingress",
        "NetworkPolicy",
        "RabbitmqCluster",
        "Cluster",
    } <= kinds
    namespaces = {doc["metadata"].get("namespace") for doc in docs if doc["kind"] != "Namespace"}
    (namespace,) = (doc["metadata"]["name"] for doc in docs if doc["kind"] == "Namespace")
    assert namespaces == {namespace}


def test_every_object_validates_against_its_schema(docs: tuple[Doc, ...]) -> None:
    problems = [problem for doc in docs for problem in schema_errors(doc)]
    assert problems == []


@pytest.mark.parametrize(
    ("kind", "breakage"),
    [
        ("Deployment", lambda doc: doc["spec"].__setitem__("replicas", "two")),
        ("Deployment", lambda doc: doc["spec"]["template"]["spec"].__setitem__("restartPolicyy", "Always")),
        ("RabbitmqCluster", lambda doc: doc["spec"].__setitem__("replica", 3)),
        ("Cluster", lambda doc: doc["spec"].__setitem__("instances", "three")),
        ("Cluster", lambda doc: doc["spec"]["bootstrap"]["initdb"].__setitem__("databse", "x")),
    ],
)
def test_schema_validation_rejects_broken_objects(kind: str, breakage: Callable[[Doc], None]) -> None:
    doc = copy.deepcopy(next(doc for doc in render("production") if doc["kind"] == kind))
    assert schema_errors(doc) == []
    breakage(doc)
    assert schema_errors(doc) != []


def test_an_unknown_kind_is_a_problem() -> None:
    doc = {"apiVersion": "example.org/v1", "kind": "Gadget", "metadata": {"name": "x"}}
    assert schema_errors(doc) != []


# ---------------------------------------------------------------------------------------------------------
# Helpers over rendered objects
# ---------------------------------------------------------------------------------------------------------


def by_kind(docs: tuple[Doc, ...], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_templates(docs: tuple[Doc, ...]) -> Iterator[tuple[str, Doc]]:
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]
        elif doc["kind"] == "CronJob":
            yield f"CronJob/{doc['metadata']['name']}", doc["spec"]["jobTemplate"]["spec"]["template"]
        elif doc["kind"] == "Pod":
            yield f"Pod/{doc['metadata']['name']}", doc


def containers(pod: Doc) -> list[Doc]:
    spec = pod["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions: In, NotIn, Exists, DoesNotExist) matches."""
    if not selector:
        return False
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def environment(container: Doc, docs: tuple[Doc, ...]) -> dict[str, str]:
    """The variables a container gets and where from: 'literal', 'secret', or 'configmap:<name>'."""
    config_maps = by_kind(docs, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            for key in config_maps.get(name, {}).get("data", {}):
                env[key] = f"configmap:{name}"
        if "secretRef" in source:
            env[f"<all of Secret {source['secretRef']['name']}>"] = "secret"
    for var in container.get("env", []):
        value_from = var.get("valueFrom", {})
        env[var["name"]] = (
            "secret"
            if "secretKeyRef" in value_from
            else f"configmap:{value_from['configMapKeyRef']['name']}"
            if "configMapKeyRef" in value_from
            else "literal"
        )
    return env


def app_of(pod: Doc) -> str:
    return pod["metadata"]["labels"]["app.kubernetes.io/name"]


# ---------------------------------------------------------------------------------------------------------
# Property checks: each returns the problems it finds
# ---------------------------------------------------------------------------------------------------------


def replica_problems(docs: tuple[Doc, ...], minimum: int) -> list[str]:
    deployments = by_kind(docs, "Deployment")
    problems = [
        f"Deployment/{name} is missing" for name in (WEB_DEPLOYMENTS | WORKER_DEPLOYMENTS) - set(deployments)
    ]
    for name, deployment in deployments.items():
        if deployment["spec"].get("replicas", 1) < minimum:
            problems.append(
                f"Deployment/{name} runs {deployment['spec'].get('replicas', 1)} < {minimum} replicas"
            )
    for name, hpa in by_kind(docs, "HorizontalPodAutoscaler").items():
        if hpa["spec"].get("minReplicas", 1) < minimum:
            problems.append(f"HorizontalPodAutoscaler/{name} may scale below {minimum}")
    return sorted(set(problems))


def probe_problems(docs: tuple[Doc, ...]) -> list[str]:
    problems = []
    for name in sorted(WEB_DEPLOYMENTS):
        deployment = by_kind(docs, "Deployment").get(name)
        if deployment is None:
            problems.append(f"Deployment/{name} is missing")
            continue
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ports = {port.get("name") for port in container.get("ports", [])} | {
            port["containerPort"] for port in container.get("ports", [])
        }
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            http = container.get(probe, {}).get("httpGet", {})
            if http.get("path") != path or http.get("port") not in ports:
                problems.append(f"Deployment/{name}: {probe} must GET {path} on the container's port")
    return problems


def resource_problems(docs: tuple[Doc, ...]) -> list[str]:
    problems = []
    for where, pod in pod_templates(docs):
        for container in containers(pod):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(resources.get(bound, {}))
                if missing:
                    problems.append(
                        f"{where} container {container['name']}: no {bound} for {sorted(missing)}"
                    )
    for name, cluster in by_kind(docs, "RabbitmqCluster").items():
        if not {"requests", "limits"} <= set(cluster["spec"].get("resources", {})):
            problems.append(f"RabbitmqCluster/{name}: no resource requests and limits")
    for name, cluster in by_kind(docs, "Cluster").items():
        if not {"requests", "limits"} <= set(cluster["spec"].get("resources", {})):
            problems.append(f"Cluster/{name}: no resource requests and limits")
    return problems


def image_problem(image: str) -> str | None:
    if "@sha256:" in image:
        return None
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return "has no tag"
    if tag == "latest":
        return "is tagged latest"
    return None


def image_problems(docs: tuple[Doc, ...]) -> list[str]:
    images = [
        (f"{where} container {container['name']}", container.get("image", ""))
        for where, pod in pod_templates(docs)
        for container in containers(pod)
    ]
    images += [
        (f"RabbitmqCluster/{n}", c["spec"].get("image", ""))
        for n, c in by_kind(docs, "RabbitmqCluster").items()
    ]
    images += [(f"Cluster/{n}", c["spec"].get("imageName", "")) for n, c in by_kind(docs, "Cluster").items()]
    return [
        f"{where}: image {image!r} {problem}" for where, image in images if (problem := image_problem(image))
    ]


def secret_problems(docs: tuple[Doc, ...]) -> list[str]:
    problems = [
        f"Secret/{doc['metadata']['name']} is committed with values"
        for doc in docs
        if doc["kind"] == "Secret" and (doc.get("data") or doc.get("stringData"))
    ]
    for name, config_map in by_kind(docs, "ConfigMap").items():
        for key, value in config_map.get("data", {}).items():
            if SECRET_ENV.search(key) or CREDENTIALS_IN_URL.search(value):
                problems.append(f"ConfigMap/{name}: {key} is a credential; reference a Secret")
    for where, pod in pod_templates(docs):
        for container in containers(pod):
            for var in container.get("env", []):
                if "value" in var and (
                    SECRET_ENV.search(var["name"]) or CREDENTIALS_IN_URL.search(var["value"])
                ):
                    problems.append(
                        f"{where} container {container['name']}: {var['name']} is a literal credential"
                    )
    return problems


def security_problems(docs: tuple[Doc, ...]) -> list[str]:
    problems = []
    for where, pod in pod_templates(docs):
        spec = pod["spec"]
        pod_context = spec.get("securityContext", {})
        if pod_context.get("runAsNonRoot") is not True:
            problems.append(f"{where}: the pod's securityContext lacks runAsNonRoot: true")
        mounts_of_tmp = set()
        for container in containers(pod):
            context = container.get("securityContext", {})
            label = f"{where} container {container['name']}"
            if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
                problems.append(f"{label}: may run as root")
            if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
                problems.append(f"{label}: runs as uid 0")
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{label}: the root filesystem is writable")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{label}: allows privilege escalation")
            if context.get("privileged"):
                problems.append(f"{label}: is privileged")
            if "ALL" not in context.get("capabilities", {}).get("drop", []) or context.get(
                "capabilities", {}
            ).get("add"):
                problems.append(f"{label}: does not drop ALL capabilities")
            mounts_of_tmp |= {
                m["name"] for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"
            }
            if not any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", [])):
                problems.append(f"{label}: no writable /tmp")
        empty_dirs = {volume["name"] for volume in spec.get("volumes", []) if "emptyDir" in volume}
        if mounts_of_tmp - empty_dirs:
            problems.append(f"{where}: /tmp is not an emptyDir")
    return problems


def disruption_problems(docs: tuple[Doc, ...]) -> list[str]:
    budgets = list(by_kind(docs, "PodDisruptionBudget").values())
    return [
        f"Deployment/{name} has no PodDisruptionBudget"
        for name, deployment in by_kind(docs, "Deployment").items()
        if not any(
            selects(budget["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
            for budget in budgets
        )
    ]


def autoscaling_problems(docs: tuple[Doc, ...]) -> list[str]:
    scaled = {
        hpa["spec"]["scaleTargetRef"]["name"]
        for hpa in by_kind(docs, "HorizontalPodAutoscaler").values()
        if hpa["apiVersion"] == "autoscaling/v2"
        and hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        and any(metric.get("resource", {}).get("name") == "cpu" for metric in hpa["spec"].get("metrics", []))
    }
    return [f"Deployment/{name} has no HPA on CPU" for name in sorted(WEB_DEPLOYMENTS - scaled)]


def network_policy_problems(docs: tuple[Doc, ...]) -> list[str]:
    default_deny = [
        policy
        for policy in by_kind(docs, "NetworkPolicy").values()
        if policy["spec"]["podSelector"] == {}
        and set(policy["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not policy["spec"].get("ingress")
        and not policy["spec"].get("egress")
    ]
    return [] if default_deny else ["no NetworkPolicy denies all ingress and egress by default"]


def isolation_problems(docs: tuple[Doc, ...]) -> list[str]:
    """Each service's pods may reach no database but their own (egress rules to CloudNativePG pods)."""
    problems = []
    policies = by_kind(docs, "NetworkPolicy").values()
    for where, pod in pod_templates(docs):
        labels = pod["metadata"]["labels"]
        for policy in policies:
            if not selects(policy["spec"]["podSelector"], labels):
                continue
            for rule in policy["spec"].get("egress", []):
                for peer in rule.get("to", []):
                    database = peer.get("podSelector", {}).get("matchLabels", {}).get("cnpg.io/cluster")
                    if database is not None and database != f"{app_of(pod)}-db":
                        problems.append(
                            f"{where} may reach {database} (NetworkPolicy/{policy['metadata']['name']})"
                        )
    return problems


def job_problems(docs: tuple[Doc, ...]) -> list[str]:
    jobs = by_kind(docs, "Job")
    problems = []
    for name, command in JOBS.items():
        job = jobs.get(name)
        if job is None:
            problems.append(f"Job/{name} is missing")
            continue
        (container,) = job["spec"]["template"]["spec"]["containers"]
        if container.get("command") != command:
            problems.append(f"Job/{name} runs {container.get('command')}, not {command}")
        annotations = job["metadata"].get("annotations", {})
        deployments_wave = min(
            int(d["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))
            for d in by_kind(docs, "Deployment").values()
        )
        if int(annotations.get("argocd.argoproj.io/sync-wave", "0")) >= deployments_wave:
            problems.append(f"Job/{name} is not ordered before the Deployments (argocd sync-wave)")
    return problems


def environment_problems(docs: tuple[Doc, ...]) -> list[str]:
    problems = []
    for where, pod in pod_templates(docs):
        app = app_of(pod)
        for container in pod["spec"]["containers"]:
            env = environment(container, docs)
            needed = COMMON_ENV | SERVICE_ENV[app]
            if where.startswith("Job/"):
                needed -= {"PORT"}
            missing = needed - set(env)
            if missing:
                problems.append(f"{where} container {container['name']}: missing {sorted(missing)}")
            literal_secrets = [v for v, src in env.items() if SECRET_ENV.search(v) and src != "secret"]
            if literal_secrets:
                problems.append(f"{where}: {sorted(literal_secrets)} not from a Secret")
    return problems


def reference_problems(docs: tuple[Doc, ...]) -> list[str]:
    """Services select pods, the Ingress routes to Services' ports, Deployments read ConfigMaps that exist."""
    problems = []
    services = by_kind(docs, "Service")
    templates = dict(pod_templates(docs))
    for name, service in services.items():
        if not any(
            selects({"matchLabels": service["spec"]["selector"]}, pod["metadata"]["labels"])
            for where, pod in templates.items()
            if where.startswith("Deployment/")
        ):
            problems.append(f"Service/{name} selects no Deployment's pods")
    for ingress in by_kind(docs, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = services.get(backend["name"])
                port_names = {p.get("name") for p in service["spec"]["ports"]} if service else set()
                if service is None or backend["port"].get("name") not in port_names:
                    problems.append(f"Ingress {rule['host']} routes to a missing Service or port: {backend}")
    config_maps = by_kind(docs, "ConfigMap")
    for where, pod in templates.items():
        for container in containers(pod):
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                if ref and ref not in config_maps:
                    problems.append(f"{where}: ConfigMap {ref} does not exist")
    return problems


def referenced_secrets(docs: tuple[Doc, ...]) -> set[str]:
    names = set()
    for _, pod in pod_templates(docs):
        for container in containers(pod):
            names |= {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
            names |= {
                v["valueFrom"]["secretKeyRef"]["name"]
                for v in container.get("env", [])
                if "secretKeyRef" in v.get("valueFrom", {})
            }
    for ingress in by_kind(docs, "Ingress").values():
        names |= {tls["secretName"] for tls in ingress["spec"].get("tls", [])}
    return names


SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus-kubernetes.yml"
SCRAPED = {"scheduling", "billing", "notifications"}  # their APIs and workers (the web front has no metrics)


def relabel(rules: list[Doc], labels: dict[str, str]) -> dict[str, str] | None:
    """Prometheus' relabelling (``keep``, ``replace``: what the scrape config uses); None if dropped."""
    labels = dict(labels)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule["source_labels"])
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if action == "keep":
            if match is None:
                return None
        elif action == "replace":
            if match is not None:
                replacement = re.sub(r"\$(\d+)", r"\\\1", rule.get("replacement", "$1"))
                labels[rule["target_label"]] = match.expand(replacement)
        else:
            raise AssertionError(f"relabel action {action} is not simulated here")
    return labels


def admits(policy: Doc, pod_labels: dict[str, str], namespace: str, port: int) -> bool:
    """Whether a NetworkPolicy lets pods of ``namespace`` reach these pods on ``port``."""
    if not selects(policy["spec"]["podSelector"], pod_labels):
        return False
    for rule in policy["spec"].get("ingress", []):
        from_namespace = any(
            peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
            == namespace
            for peer in rule.get("from", [])
        )
        if from_namespace and any(p.get("port") == port for p in rule.get("ports", [])):
            return True
    return False


def metrics_problems(docs: tuple[Doc, ...]) -> list[str]:
    """Every API and worker pod is scraped by the Kubernetes scrape config under the job name the alerts
    use, on a port it serves, admitted by a NetworkPolicy from the monitoring namespace."""
    rules = yaml.safe_load(SCRAPE_CONFIG.read_text())["scrape_configs"][0]["relabel_configs"]
    policies = by_kind(docs, "NetworkPolicy").values()
    problems = []
    for where, pod in pod_templates(docs):
        labels = pod["metadata"]["labels"]
        name, component = labels.get("app.kubernetes.io/name"), labels.get("app.kubernetes.io/component")
        if not where.startswith("Deployment/") or name not in SCRAPED or component not in {"web", "worker"}:
            continue
        annotations = pod["metadata"].get("annotations", {})
        meta = {
            "__address__": "10.0.0.7",
            **{
                f"__meta_kubernetes_pod_annotation_{re.sub(r'[^a-z0-9]', '_', k)}": v
                for k, v in annotations.items()
            },
            **{f"__meta_kubernetes_pod_label_{re.sub(r'[^a-z0-9]', '_', k)}": v for k, v in labels.items()},
        }
        target = relabel(rules, meta)
        if target is None:
            problems.append(f"{where} is not scraped (prometheus.io/scrape)")
            continue
        port = int(target["__address__"].rsplit(":", 1)[1])
        expected_job = "api" if component == "web" else f"{name}-worker"
        if target.get("job") != expected_job:
            problems.append(f"{where} is scraped as job {target.get('job')}, not {expected_job}")
        served = {p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        if port not in served:
            problems.append(f"{where} is scraped on port {port}, which it does not declare")
        if component == "worker":
            (container,) = pod["spec"]["containers"]
            env = {var["name"]: var.get("value") for var in container.get("env", [])}
            if (env.get("METRICS_PORT"), env.get("METRICS_HOST")) != (str(port), "0.0.0.0"):
                problems.append(f"{where} does not serve its metrics on 0.0.0.0:{port} (METRICS_PORT/HOST)")
        if not any(admits(policy, labels, "monitoring", port) for policy in policies):
            problems.append(f"{where}: no NetworkPolicy admits the monitoring namespace on port {port}")
    return problems


# ---------------------------------------------------------------------------------------------------------
# The checks against both overlays
# ---------------------------------------------------------------------------------------------------------

CHECKS: dict[str, Callable[[tuple[Doc, ...]], list[str]]] = {
    "probes": probe_problems,
    "resources": resource_problems,
    "images": image_problems,
    "secrets": secret_problems,
    "security": security_problems,
    "disruption budgets": disruption_problems,
    "autoscaling": autoscaling_problems,
    "network policies": network_policy_problems,
    "database isolation": isolation_problems,
    "jobs": job_problems,
    "environment": environment_problems,
    "references": reference_problems,
    "metrics": metrics_problems,
}


@pytest.mark.parametrize("check", CHECKS)
def test_property(docs: tuple[Doc, ...], check: str) -> None:
    assert CHECKS[check](docs) == []


def test_production_runs_at_least_two_of_every_process() -> None:
    docs = render("production")
    assert replica_problems(docs, minimum=2) == []
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == WEB_DEPLOYMENTS | WORKER_DEPLOYMENTS


def test_production_broker_and_databases() -> None:
    docs = render("production")
    (broker,) = by_kind(docs, "RabbitmqCluster").values()
    assert broker["apiVersion"] == "rabbitmq.com/v1beta1"
    assert broker["spec"]["replicas"] == 3
    clusters = by_kind(docs, "Cluster")
    assert {cluster["spec"]["bootstrap"]["initdb"]["database"] for cluster in clusters.values()} == set(
        SERVICES
    )
    assert all(cluster["apiVersion"] == "postgresql.cnpg.io/v1" for cluster in clusters.values())
    assert all(cluster["spec"]["instances"] >= 2 for cluster in clusters.values())


def test_each_service_reads_its_own_database() -> None:
    for where, pod in pod_templates(render("production")):
        app = app_of(pod)
        if app == "web":
            continue
        (container,) = pod["spec"]["containers"]
        (url,) = (v for v in container["env"] if v["name"] == f"{app.upper()}_DATABASE_URL")
        assert url["valueFrom"]["secretKeyRef"]["name"] == f"{app}-db-app", where


def test_every_referenced_secret_is_documented(docs: tuple[Doc, ...]) -> None:
    readme = README.read_text()
    assert sorted(name for name in referenced_secrets(docs) if f"`{name}`" not in readme) == []


def shape(docs: tuple[Doc, ...]) -> set[tuple[str, str]]:
    """Kinds and names, without the ConfigMaps' content hashes and the namespace itself."""
    return {
        (
            doc["kind"],
            doc["metadata"]["name"].rsplit("-", 1)[0]
            if doc["kind"] == "ConfigMap"
            else doc["metadata"]["name"],
        )
        for doc in docs
        if doc["kind"] != "Namespace"
    }


def test_overlays_differ_in_size_not_in_shape() -> None:
    dev, production = render("dev"), render("production")
    assert shape(dev) == shape(production)
    assert replica_problems(dev, minimum=1) == []


# ---------------------------------------------------------------------------------------------------------
# Every check can fail
# ---------------------------------------------------------------------------------------------------------


def broken(mutate: Callable[[list[Doc]], None]) -> tuple[Doc, ...]:
    docs = copy.deepcopy(list(render("production")))
    mutate(docs)
    return tuple(docs)


def first(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    return next(d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name))


def web_container(docs: list[Doc]) -> Doc:
    return first(docs, "Deployment", "billing-web")["spec"]["template"]["spec"]["containers"][0]


BREAKAGES: dict[str, tuple[Callable[[tuple[Doc, ...]], list[str]], Callable[[list[Doc]], None]]] = {
    "one replica": (
        lambda docs: replica_problems(docs, minimum=2),
        lambda docs: first(docs, "Deployment", "billing-worker")["spec"].__setitem__("replicas", 1),
    ),
    "no readiness probe": (probe_problems, lambda docs: web_container(docs).pop("readinessProbe")),
    "liveness on /readyz": (
        probe_problems,
        lambda docs: web_container(docs)["livenessProbe"]["httpGet"].__setitem__("path", "/readyz"),
    ),
    "no limits": (resource_problems, lambda docs: web_container(docs)["resources"].pop("limits")),
    "latest tag": (
        image_problems,
        lambda docs: web_container(docs).__setitem__("image", "registry/x/billing:latest"),
    ),
    "untagged": (
        image_problems,
        lambda docs: web_container(docs).__setitem__("image", "registry:5000/x/billing"),
    ),
    "secret with data": (
        secret_problems,
        lambda docs: docs.append({"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}),
    ),
    "password in a literal": (
        secret_problems,
        lambda docs: web_container(docs)["env"].append({"name": "X_URL", "value": "amqp://u:p@mq/ims"}),
    ),
    "secret in a config map": (
        secret_problems,
        lambda docs: first(docs, "ConfigMap")["data"].__setitem__("DOCUMENT_LINK_SECRET", "s"),
    ),
    "root": (
        security_problems,
        lambda docs: web_container(docs)["securityContext"].__setitem__("runAsNonRoot", False),
    ),
    "uid 0": (
        security_problems,
        lambda docs: web_container(docs)["securityContext"].__setitem__("runAsUser", 0),
    ),
    "pod may run as root": (
        security_problems,
        lambda docs: first(docs, "Job")["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"),
    ),
    "writable root": (
        security_problems,
        lambda docs: web_container(docs)["securityContext"].__setitem__("readOnlyRootFilesystem", False),
    ),
    "capabilities kept": (
        security_problems,
        lambda docs: web_container(docs)["securityContext"].pop("capabilities"),
    ),
    "no pdb": (
        disruption_problems,
        lambda docs: docs.remove(first(docs, "PodDisruptionBudget", "notifications-worker")),
    ),
    "no hpa": (
        autoscaling_problems,
        lambda docs: docs.remove(first(docs, "HorizontalPodAutoscaler", "web-portal")),
    ),
    "no default deny": (
        network_policy_problems,
        lambda docs: docs.remove(first(docs, "NetworkPolicy", "default-deny-all")),
    ),
    "another service's database": (
        isolation_problems,
        lambda docs: first(docs, "NetworkPolicy", "billing-egress")["spec"]["egress"][0]["to"][0][
            "podSelector"
        ]["matchLabels"].__setitem__("cnpg.io/cluster", "scheduling-db"),
    ),
    "no migration job": (job_problems, lambda docs: docs.remove(first(docs, "Job", "billing-migrate"))),
    "job not before rollout": (
        job_problems,
        lambda docs: first(docs, "Job", "scheduling-setup-broker")["metadata"]["annotations"].pop(
            "argocd.argoproj.io/sync-wave"
        ),
    ),
    "missing env": (environment_problems, lambda docs: web_container(docs)["env"].pop(0)),
    "dangling ConfigMap": (
        reference_problems,
        lambda docs: web_container(docs)["envFrom"][0]["configMapRef"].__setitem__("name", "nope"),
    ),
    "worker not scraped": (
        metrics_problems,
        lambda docs: first(docs, "Deployment", "billing-worker")["spec"]["template"]["metadata"].pop(
            "annotations"
        ),
    ),
    "worker metrics on localhost": (
        metrics_problems,
        lambda docs: first(docs, "Deployment", "scheduling-worker")["spec"]["template"]["spec"]["containers"][
            0
        ]["env"].pop(1),
    ),
    "scrape not admitted": (
        metrics_problems,
        lambda docs: docs.remove(first(docs, "NetworkPolicy", "allow-metrics-scrape")),
    ),
    "ingress to nowhere": (
        reference_problems,
        lambda docs: first(docs, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"][
            "service"
        ].__setitem__("name", "nope"),
    ),
}


@pytest.mark.parametrize("case", BREAKAGES)
def test_each_check_finds_its_breakage(case: str) -> None:
    check, mutate = BREAKAGES[case]
    assert check(render("production")) == []
    assert check(broken(mutate)) != []
