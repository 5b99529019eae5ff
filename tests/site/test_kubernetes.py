"""deploy/kubernetes/: plain manifests, each validated against the Kubernetes API's own JSON schemas
(kubernetes-validate bundles them, offline, strict: an unknown field is an error), and checked for what
running several replicas needs."""

import re

import kubernetes_validate
import pytest
import yaml

from harness.servers import ROOT

MANIFESTS = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.37.0"


def documents() -> list[dict]:
    return [doc for path in sorted(MANIFESTS.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str) -> dict:
    [doc] = [doc for doc in documents() if doc["kind"] == kind]
    return doc


@pytest.mark.parametrize("doc", documents(), ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}")
def test_each_manifest_is_valid_against_the_kubernetes_api_schema(doc):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)  # raises on any error


def test_there_is_a_deployment_a_migration_job_a_service_an_ingress_an_autoscaler_and_a_disruption_budget():
    kinds = {doc["kind"] for doc in documents()}
    assert kinds == {"ConfigMap", "Secret", "Deployment", "Job", "Service", "Ingress", "HorizontalPodAutoscaler",
                     "PodDisruptionBudget"}


def container(kind: str) -> dict:
    [spec] = by_kind(kind)["spec"]["template"]["spec"]["containers"]
    return spec


def test_the_pods_are_ready_and_alive_on_health_with_a_host_django_accepts():
    allowed_hosts = by_kind("ConfigMap")["data"]["ALLOWED_HOSTS"].split(",")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = container("Deployment")[probe]["httpGet"]
        assert get["path"] == "/health"
        assert {"name": "Host", "value": allowed_hosts[0]} in get["httpHeaders"]


def test_the_app_and_its_migrations_read_their_settings_from_the_configmap_and_the_secret():
    for kind in ("Deployment", "Job"):
        sources = container(kind)["envFrom"]
        assert {"configMapRef": {"name": "mcp-server"}} in sources and {"secretRef": {"name": "mcp-server"}} in sources
    assert container("Job")["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert container("Job")["image"] == container("Deployment")["image"]


def test_every_variable_they_set_is_a_documented_setting_and_secrets_stay_out_of_the_configmap():
    documented = set(re.findall(r"^\| `([A-Z_0-9]+)`", (ROOT / "README.md").read_text(), re.MULTILINE))
    config, secret = by_kind("ConfigMap")["data"], by_kind("Secret")["stringData"]
    assert set(config) | set(secret) <= documented, (set(config) | set(secret)) - documented
    assert not {name for name in config if re.search("SECRET|PASSWORD|TOKEN|DATABASE_URL", name)}
    assert {"SECRET_KEY", "JWT_SECRET", "DATABASE_URL"} <= set(secret)


def test_replicas_are_spread_scaled_and_never_all_disrupted_at_once():
    deployment, hpa, pdb = by_kind("Deployment"), by_kind("HorizontalPodAutoscaler"), by_kind("PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert by_kind("Service")["spec"]["selector"].items() <= labels.items()
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2 and pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_ingress_streams_mcp_answers_and_buffers_requests_like_deploy_nginx_conf():
    annotations = by_kind("Ingress")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "on"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
