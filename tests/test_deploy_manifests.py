"""deploy/: the Kubernetes manifests validate offline against the API schemas (kubernetes-validate,
strict: an unknown field is an error), say what the issue asks of them, and run only `lookup`
commands that the CLI accepts; the haproxy configuration passes `haproxy -c`."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lookup.cli import _parser

from helpers.proxies import Haproxy

kubernetes_validate = pytest.importorskip("kubernetes_validate")

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
# The oldest Kubernetes the manifests are meant for (CronJob timeZone is GA from 1.27) and the
# newest the validator knows.
VERSIONS = ("1.28.0", kubernetes_validate.latest_version())


def documents() -> list[dict]:
    found = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def by_kind(kind: str) -> list[dict]:
    return [doc for doc in documents() if doc["kind"] == kind]


def pod_specs() -> list[dict]:
    specs = [d["spec"]["template"]["spec"] for d in by_kind("Deployment")]
    return specs + [
        c["spec"]["jobTemplate"]["spec"]["template"]["spec"] for c in by_kind("CronJob")
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_strictly(version):
    docs = documents()
    assert {d["kind"] for d in docs} >= {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "CronJob",
        "ConfigMap",
    }
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError as exc:  # not bundled: nothing to check
            pytest.skip(f"kubernetes-validate has no offline schema: {exc}")
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {exc.message} at {exc.path}")


def test_replicas_probe_share_a_volume_and_survive_disruptions():
    (deployment,) = by_kind("Deployment")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] >= 3
    containers = {c["name"]: c for c in pod["containers"]}
    server, sidecar = containers["server"], containers["pull-sidecar"]
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert server["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "--every" in sidecar["args"]
    init = {c["name"]: c for c in pod["initContainers"]}
    assert init["pull"]["args"][0] == "pull" and "--every" not in init["pull"]["args"]
    data = {"name": "data", "mountPath": "/data"}
    for container in (server, sidecar, init["pull"]):
        assert data in container["volumeMounts"]
        assert container["resources"]["requests"]
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == "data")
    labels = spec["template"]["metadata"]["labels"]
    (budget,) = by_kind("PodDisruptionBudget")
    (service,) = by_kind("Service")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert spec["selector"]["matchLabels"].items() <= labels.items()


def test_a_monthly_build_and_a_daily_delta_each_push():
    jobs = {c["metadata"]["name"]: c for c in by_kind("CronJob")}
    commands = {name: " ".join(lookup_commands(job)[0]) for name, job in jobs.items()}
    assert re.fullmatch(r"\S+ \S+ \S+ \* \*", jobs["lookup-monthly-build"]["spec"]["schedule"])
    assert re.fullmatch(r"\S+ \S+ \* \* \*", jobs["lookup-daily-delta"]["spec"]["schedule"])
    assert commands["lookup-monthly-build"].startswith("build ")
    assert commands["lookup-daily-delta"].startswith("apply ")
    for job in jobs.values():
        assert [c[0] for c in lookup_commands(job)][1] == "push"
        assert job["spec"]["concurrencyPolicy"] == "Forbid"


def test_every_lookup_command_in_the_manifests_parses():
    commands = [cmd for doc in documents() for cmd in lookup_commands(doc)]
    assert len(commands) >= 7
    parser = _parser()
    for argv in commands:
        parser.parse_args([re.sub(r"\$\((\w+)\)|\$(\w+)", "s3://b/p", a) for a in argv])


def lookup_commands(doc: dict) -> list[list[str]]:
    """Return the `lookup` argument lists a manifest's containers run."""
    specs = []
    if doc["kind"] == "Deployment":
        specs = [doc["spec"]["template"]["spec"]]
    elif doc["kind"] == "CronJob":
        specs = [doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    found = []
    for spec in specs:
        for container in spec.get("initContainers", []) + spec["containers"]:
            command = container.get("command")
            if command is None:  # the image's entrypoint is `lookup`
                found.append(container["args"])
            elif command[:2] == ["sh", "-ec"]:
                for part in command[2].split("&&"):
                    words = shlex.split(part)
                    if words[0] == "lookup":
                        found.append(words[1:])
    return found


def test_every_container_runs_the_image_unprivileged():
    for pod in pod_specs():
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod.get("initContainers", []) + pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True


@pytest.mark.skipif(not shutil.which("haproxy"), reason="apt-get install -y haproxy")
def test_the_haproxy_configuration_is_valid(tmp_path):
    for text in ((DEPLOY / "haproxy/haproxy.cfg").read_text(), Haproxy(tmp_path, [1, 2]).config()):
        conf = tmp_path / "haproxy.cfg"
        conf.write_text(text)
        result = subprocess.run(
            ["haproxy", "-c", "-f", str(conf)], capture_output=True, text=True, env=os.environ
        )
        assert result.returncode == 0, result.stderr
