"""deploy/: valid YAML, and consistent with the commands, ports, health routes and
variables the code really has (Docker cannot run here, so this is what can be checked).
The container entry point (scripts/service_env.py) runs for real."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml

from scripts import action_server, haproxy
from scripts.stack import ROOT, Stack

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY")
# the port and the health route of each service, as the code defines them
DEFAULTS = Stack()
SERVICES = {
    "rasa": (DEFAULTS.rasa_port, "/"),  # Rasa has no /health; "/" answers once the model is loaded
    "actions": (DEFAULTS.action_port, "/health"),
    "handoff": (DEFAULTS.handoff_port, "/health"),
    "workbench": (DEFAULTS.workbench_port, "/health"),
}


def compose() -> Dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def k8s_documents() -> Iterator[Dict[str, Any]]:
    for path in sorted(K8S.glob("*.yaml")):
        yield from (doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)


def deployments() -> Dict[str, Dict[str, Any]]:
    found = {}
    for doc in k8s_documents():
        if doc["kind"] in ("Deployment", "StatefulSet"):
            found[doc["metadata"]["name"]] = doc
    return found


def command_words(service: Dict[str, Any]) -> List[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else list(command)


def test_every_deploy_yaml_file_parses() -> None:
    files = [DEPLOY / "docker-compose.yml", *sorted(K8S.glob("*.yaml"))]
    assert len(files) >= 8
    for path in files:
        assert list(yaml.safe_load_all(path.read_text(encoding="utf-8"))), path


def test_the_routes_the_health_checks_use_exist_in_the_code() -> None:
    rasa_server = importlib.util.find_spec("rasa.server")  # its source, without importing Rasa
    assert rasa_server is not None and '@app.get("/")' in Path(str(rasa_server.origin)).read_text()
    assert "/health" in action_server.PUBLIC_PATHS
    assert 'add_get("/health", health)' in (ROOT / "handoff/app.py").read_text()
    assert 'add_get("/health", health)' in (ROOT / "workbench/app.py").read_text()


def test_compose_runs_the_commands_and_ports_of_make_run() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "rasa", "actions", "handoff", "workbench", "proxy"}
    rasa = " ".join(command_words(services["rasa"]))
    stack_rasa = " ".join(DEFAULTS._rasa_command(DEFAULTS.rasa_port)[1:])  # without the interpreter's path
    for option in ("-m scripts.rasa_run run", "--port 5005", "--endpoints endpoints.yml", "--credentials credentials.yml", "--enable-api"):
        assert option in rasa and option in stack_rasa
    assert " ".join(command_words(services["actions"])).startswith("python -m scripts.action_server --actions actions")
    assert command_words(services["handoff"]) == ["python", "-m", "handoff"]
    assert command_words(services["workbench"]) == ["python", "-m", "workbench", "serve"]
    for name, (port, path) in SERVICES.items():
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}{path}'" in probe, name
    assert services["actions"]["command"].endswith(f"--port {DEFAULTS.action_port}")
    assert services["handoff"]["environment"]["HANDOFF_PORT"] == str(DEFAULTS.handoff_port)
    assert services["workbench"]["environment"]["TRAINER_PORT"] == str(DEFAULTS.workbench_port)
    # published: the proxy, and the workbench on the host's loopback only
    assert services["proxy"]["ports"] == ["8080:8080"]
    assert services["workbench"]["ports"] == [f"127.0.0.1:{DEFAULTS.workbench_port}:{DEFAULTS.workbench_port}"]
    assert not any("ports" in services[name] for name in ("redis", "rasa", "actions", "handoff"))


def test_compose_takes_every_secret_from_the_env_file() -> None:
    services = compose()["services"]
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert str(value).startswith("${") and str(value).endswith("}"), f"{name}: {key} is written in the file"
            if key == "REDIS_URL":
                assert "${REDIS_PASSWORD}" in value
    # every variable compose reads is in the template, and the template holds no value
    template = (DEPLOY / "env.example").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^#? ?([A-Z_]+)=(.*)$", template, flags=re.M))
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert used <= set(listed), used - set(listed)
    assert all(value == "" for key, value in listed.items() if SECRET_NAME.search(key))
    # the filled-in copy is never committed
    assert subprocess.run(["git", "check-ignore", "-q", "deploy/.env"], cwd=ROOT).returncode == 0


def test_the_rasa_containers_get_every_variable_endpoints_yml_reads() -> None:
    wanted = set(re.findall(r"\$\{([A-Z_]+)\}", (ROOT / "endpoints.yml").read_text(encoding="utf-8")))
    derived = {"TRACKER_RECORD_EXP_SECONDS"}
    rasa_env = set(compose()["services"]["rasa"]["environment"])
    assert wanted - derived <= rasa_env
    config = next(doc for doc in k8s_documents() if doc["kind"] == "ConfigMap")["data"]
    container = deployments()["rasa"]["spec"]["template"]["spec"]["containers"][0]
    assert wanted - derived <= set(config) | {item["name"] for item in container["env"]}


def test_kubernetes_probes_resources_and_replicas() -> None:
    found = deployments()
    assert set(found) == {"rasa", "actions", "handoff", "workbench", "redis"}
    for name, (port, path) in SERVICES.items():
        spec = found[name]["spec"]
        container = spec["template"]["spec"]["containers"][0]
        assert [p["containerPort"] for p in container["ports"]] == [port], name
        assert container["readinessProbe"]["httpGet"]["path"] == path, name
        liveness = container["livenessProbe"]
        assert liveness.get("httpGet", {}).get("path", path) == path or "tcpSocket" in liveness, name
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name
        # secrets only from the Secret, never written in a manifest
        for item in container.get("env", []):
            if SECRET_NAME.search(item["name"]):
                assert item["valueFrom"]["secretKeyRef"]["name"] == "noor-secrets", (name, item["name"])
    assert found["rasa"]["spec"]["replicas"] >= 2 and found["actions"]["spec"]["replicas"] >= 2
    for single in ("handoff", "workbench"):
        assert found[single]["spec"]["replicas"] == 1 and found[single]["spec"]["strategy"]["type"] == "Recreate"
    secret = next(doc for doc in k8s_documents() if doc["kind"] == "Secret")
    assert secret["stringData"] and all(value == "" for value in secret["stringData"].values())


def test_the_compose_proxy_configuration_is_valid_and_keeps_the_internal_api_in() -> None:
    try:
        result = haproxy.check(DEPLOY / "haproxy.cfg")
    except FileNotFoundError:
        pytest.skip("haproxy is not installed")
    assert result.returncode == 0, result.stdout + result.stderr
    text = (DEPLOY / "haproxy.cfg").read_text()
    assert "rasa:5005" in text and f"handoff:{DEFAULTS.handoff_port}" in text
    assert "http-request deny deny_status 403 if internal_api" in text and "acl internal_api path_beg /api/internal/" in text


def test_the_dockerfile_installs_the_projects_pins() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert [line for line in text.splitlines() if line.startswith("FROM")] == ["FROM python:3.10-slim"]
    assert "pip install -r requirements.txt -c constraints.txt" in text
    pinned = [re.findall(r"setuptools==([\d.]+)", source) for source in (text, (ROOT / "Makefile").read_text())]
    assert pinned[0] and pinned[0] == pinned[1]
    assert 'ENTRYPOINT ["python", "-m", "scripts.service_env"]' in text
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".env", ".env.*", "deploy/.env", ".venv", "data/"} <= set(ignored)


def _service_env(env: Dict[str, str]) -> subprocess.CompletedProcess:
    dump = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(('REDIS_', 'TRACKER_'))}))"
    return subprocess.run([sys.executable, "-m", "scripts.service_env", sys.executable, "-c", dump],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_the_container_entry_point_derives_what_endpoints_yml_reads() -> None:
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    result = _service_env({**base, "REDIS_URL": "redis://:p%40ss@redis:6380/2", "RETENTION_DAYS_TRACKERS": "30"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "REDIS_URL": "redis://:p%40ss@redis:6380/2", "TRACKER_RECORD_EXP_SECONDS": str(30 * 86400),
    }
    missing = _service_env(base)
    assert missing.returncode == 2 and "REDIS_URL is not set" in missing.stderr and not missing.stdout
    wrong = _service_env({**base, "REDIS_URL": "http://redis:6379"})
    assert wrong.returncode == 2 and "must start with redis://" in wrong.stderr
