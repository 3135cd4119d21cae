"""checkov (Prisma Cloud's analyser, scripts/tools.txt) over every kind of file nfldeploy renders: the SAM
template (its ``cloudformation`` framework), the Kubernetes manifests and Cloud Run's Knative service
(``kubernetes``), the Dockerfiles of both kinds and runtimes (``dockerfile``), the compose file, and its
``secrets`` scan over all of them. checkov 3.3 has no Compose framework: over a compose file it runs only the
secrets scan, so the compose file gets checks of ours (tests/checkov_checks/compose.py, each mirroring one
checkov runs on Kubernetes), run by checkov's ``yaml`` framework with its own suppressions.

The gate. Offline (``--skip-download``) checkov reports no severity: severities come from the Prisma Cloud
platform, and every finding says ``severity: null``. No finding can be weighed, so every failed check fails
the test, unless it is suppressed beside the resource in the template, with a reason, in checkov's inline
forms: ``# checkov:skip=ID:reason`` in the resource's YAML block (SAM, compose) or anywhere in a Dockerfile
(whole-file), a ``checkov.io/skipN: "ID=reason"`` annotation on a Kubernetes object. A suppression without a
reason (checkov says "No comment provided") fails too.

Not a tautology: each suppression is needed (the file with its suppressions removed fails each suppressed
check), and each fix is (a copy with it undone fails the check it answers).

One checkov run scans every file at once (it takes about 30 s to start its checks), in checkov's own venv."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from manifests import sample_manifest
from nfldeploy.render import views
from nfldeploy.render.dockerfile import ImageSpec, dockerfile_view, render_dockerfile
from nfldeploy.render.files import render_all
from nfldeploy.settings import DeploySettings
from services import tool, unavailable

CHECKS = Path(__file__).resolve().parents[1] / "checkov_checks"
FRAMEWORKS = ("cloudformation", "kubernetes", "dockerfile", "yaml", "secrets")
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nfl-api-keys-AbCdEf"
TAG = "us-docker.pkg.dev/proj/nfl/nfldeploy/nfl-trajectory:07ddda2891bd-onnx"
DIGEST = "us-docker.pkg.dev/proj/nfl/nfldeploy/nfl-trajectory@sha256:" + "5e" * 32
#: The settings' shapes that change a rendered file: endpoint, URL auth, API keys, image reference, project.
VARIANTS: dict[str, dict[str, Any]] = {
    "iam-url-with-keys": {"auth": True, "function_url_auth": "AWS_IAM", "api_keys_secret": SECRET},
    "public-url-with-keys": {"auth": True, "function_url_auth": "NONE", "api_keys_secret": SECRET},
    "public-url-open": {"function_url_auth": "NONE", "allow_unauthenticated": True},
    "http-api-with-keys": {"lambda_endpoint": "api_gateway", "auth": True, "api_keys_secret": SECRET},
    "http-api-open": {"lambda_endpoint": "api_gateway", "allow_unauthenticated": True},
    "partial-secret-arn": {"auth": True, "api_keys_secret": SECRET.removesuffix("-AbCdEf")},
    "by-digest": {"auth": True, "api_keys_secret": SECRET, "image": DIGEST},
    "no-project": {"project": None},
}
DOCKERFILES = [f"{kind}-{runtime}" for kind in ("server", "lambda") for runtime in ("onnx", "torchscript")]
SKIP_LINE = re.compile(r"^\s*(#\s*checkov:skip=|checkov\.io/skip\d*:).*\n", re.MULTILINE)

#: Fixes undone: (rendered file, [(text, its replacement)], the check that must then fail). Every copy is
#: scanned with the others, and checkov's graph links resources across files by their labels: a copy whose
#: check is such a link gets a name of its own.
WEAKENED: dict[str, tuple[str, list[tuple[str, str]], str]] = {
    "k8s-writable-root": (
        "iam-url-with-keys/kubernetes/deployment.yaml",
        [("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")],
        "CKV_K8S_22",
    ),
    "k8s-capabilities-kept": (
        "iam-url-with-keys/kubernetes/deployment.yaml",
        [("            capabilities:\n              drop:\n                - ALL\n", "")],
        "CKV_K8S_37",
    ),
    "k8s-no-seccomp": (
        "iam-url-with-keys/kubernetes/deployment.yaml",
        [("        seccompProfile:\n          type: RuntimeDefault\n", "")],
        "CKV_K8S_31",
    ),
    "k8s-service-account-token": (
        "iam-url-with-keys/kubernetes/deployment.yaml",
        [("      automountServiceAccountToken: false\n", "")],
        "CKV_K8S_38",
    ),
    "k8s-no-cpu-limit": (
        "iam-url-with-keys/kubernetes/deployment.yaml",
        [('            limits:\n              cpu: "1"\n', "            limits:\n")],
        "CKV_K8S_11",
    ),
    "k8s-tag-pulled-if-present": (
        "iam-url-with-keys/kubernetes/deployment.yaml",
        [("imagePullPolicy: Always", "imagePullPolicy: IfNotPresent")],
        "CKV_K8S_15",
    ),
    "k8s-privilege-escalation": (
        "iam-url-with-keys/kubernetes/deployment.yaml",
        [("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")],
        "CKV_K8S_20",
    ),
    "k8s-no-network-policy": (
        "iam-url-with-keys/kubernetes/deployment.yaml",
        [("kind: NetworkPolicy", "kind: ConfigMap"), ("nfl-trajectory", "nfl-without-network-policy")],
        "CKV2_K8S_6",
    ),
    "k8s-no-readiness-probe": (
        "iam-url-with-keys/kubernetes/deployment.yaml",
        [("readinessProbe:", "startupProbe:")],
        "CKV_K8S_9",
    ),
    "sam-secret-in-environment": (
        "iam-url-with-keys/aws/template.yaml",
        [
            (
                '          NFLSERVE_RATE_LIMIT_RPS: "50"\n',
                '          NFLSERVE_RATE_LIMIT_RPS: "50"\n          AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n',
            )
        ],
        "CKV_AWS_45",
    ),
    "server-image-as-root": ("docker/server-onnx/Dockerfile", [("USER 10001:10001\n", "")], "CKV_DOCKER_3"),
    "server-image-no-healthcheck": (
        "docker/server-onnx/Dockerfile",
        [("HEALTHCHECK --interval", "# HEALTHCHECK --interval")],
        "CKV_DOCKER_2",
    ),
    "compose-writable-root": (
        "iam-url-with-keys/compose/docker-compose.yml",
        [("    read_only: true\n", "")],
        "CKV_NFLDEPLOY_4",
    ),
    "compose-capabilities-kept": (
        "iam-url-with-keys/compose/docker-compose.yml",
        [("    cap_drop:\n      - ALL\n    security_opt", "    security_opt")],
        "CKV_NFLDEPLOY_3",
    ),
    "compose-new-privileges": (
        "iam-url-with-keys/compose/docker-compose.yml",
        [
            (
                "      - no-new-privileges:true\n    mem_limit: 512m\n    restart: unless-stopped\n  grafana:",
                "      - seccomp:unconfined\n    mem_limit: 512m\n    restart: unless-stopped\n  grafana:",
            )
        ],
        "CKV_NFLDEPLOY_2",
    ),
    "compose-no-memory-limit": (
        "iam-url-with-keys/compose/docker-compose.yml",
        [("    mem_limit: 128m\n", "")],
        "CKV_NFLDEPLOY_5",
    ),
    "compose-grafana-on-every-interface": (
        "iam-url-with-keys/compose/docker-compose.yml",
        [('"127.0.0.1:3000:3000"', '"3000:3000"')],
        "CKV_NFLDEPLOY_6",
    ),
    "compose-host-network": (
        "iam-url-with-keys/compose/docker-compose.yml",
        [("    read_only: true\n", "    read_only: true\n    network_mode: host\n")],
        "CKV_NFLDEPLOY_1",
    ),
}

#: A key planted in a copy of each kind of rendered file (AWS's documented example keys: a comment in the
#: credentials file's form, a top-level YAML value, JSON members): the secrets scan reads that kind. checkov reads no ``.conf``
#: file, so nginx.conf is not among them (pinned by a test).
PLANTED_KEY = 'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'
PLANTED_JSON = '{"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", '
PLANTED = (
    "iam-url-with-keys/aws/template.yaml",
    "iam-url-with-keys/aws/deployer-policy.json",
    "iam-url-with-keys/aws/execution-role-policy.json",
    "iam-url-with-keys/cloudrun/service.yaml",
    "iam-url-with-keys/kubernetes/deployment.yaml",
    "iam-url-with-keys/compose/docker-compose.yml",
    "iam-url-with-keys/compose/prometheus.yml",
    "iam-url-with-keys/compose/grafana/dashboards/nfldeploy.json",
    "iam-url-with-keys/compose/grafana/provisioning/datasources/prometheus.yml",
    "docker/server-onnx/Dockerfile",
    "docker/lambda-onnx/Dockerfile",
)
UNREAD = "iam-url-with-keys/compose/nginx.conf"

#: Compose services, one per file, probing how our checks read the specification's shapes:
#: (service mapping, the check, whether it must pass). https://docs.docker.com/reference/compose-file/services/
PROBES: dict[str, tuple[dict[str, Any], str, bool]] = {
    "port-container-only": ({"ports": ["3000"]}, "CKV_NFLDEPLOY_6", False),  # an ephemeral port on every IP
    "port-host-and-container": ({"ports": ["8000:8000"]}, "CKV_NFLDEPLOY_6", False),
    "port-range": ({"ports": ["9090-9091:8080-8081"]}, "CKV_NFLDEPLOY_6", False),
    "port-udp": ({"ports": ["6060:6060/udp"]}, "CKV_NFLDEPLOY_6", False),
    "port-unspecified-ipv4": ({"ports": ["0.0.0.0:80:80"]}, "CKV_NFLDEPLOY_6", False),
    "port-unspecified-ipv6": ({"ports": ["[::]:80:80"]}, "CKV_NFLDEPLOY_6", False),
    "port-loopback": ({"ports": ["127.0.0.1:8001:8001"]}, "CKV_NFLDEPLOY_6", True),
    "port-loopback-range": ({"ports": ["127.0.0.1:5000-5010:5000-5010"]}, "CKV_NFLDEPLOY_6", True),
    "port-ipv6-bare": ({"ports": ["::1:6000:6000"]}, "CKV_NFLDEPLOY_6", True),
    "port-ipv6-brackets": ({"ports": ["[::1]:6001:6001"]}, "CKV_NFLDEPLOY_6", True),
    "port-long-with-host-ip": (
        {"ports": [{"target": 80, "published": "8080", "host_ip": "127.0.0.1"}]},
        "CKV_NFLDEPLOY_6",
        True,
    ),
    "port-long-without-host-ip": ({"ports": [{"target": 80, "published": "8080"}]}, "CKV_NFLDEPLOY_6", False),
    "port-one-of-two-open": ({"ports": ["127.0.0.1:80:80", "443:443"]}, "CKV_NFLDEPLOY_6", False),
    "no-new-privileges-bare": ({"security_opt": ["no-new-privileges"]}, "CKV_NFLDEPLOY_2", True),
    "no-new-privileges-equals": ({"security_opt": ["no-new-privileges=true"]}, "CKV_NFLDEPLOY_2", True),
    "no-new-privileges-false": ({"security_opt": ["no-new-privileges:false"]}, "CKV_NFLDEPLOY_2", False),
    "cap-drop-all-add-one": ({"cap_drop": ["ALL"], "cap_add": ["NET_BIND_SERVICE"]}, "CKV_NFLDEPLOY_3", True),
    "cap-drop-all-add-all": ({"cap_drop": ["ALL"], "cap_add": ["ALL"]}, "CKV_NFLDEPLOY_3", False),
    "cap-drop-one": ({"cap_drop": ["NET_RAW"]}, "CKV_NFLDEPLOY_3", False),
    "memory-by-deploy": ({"deploy": {"resources": {"limits": {"memory": "512M"}}}}, "CKV_NFLDEPLOY_5", True),
    "memory-reservation-only": (
        {"deploy": {"resources": {"reservations": {"memory": "512M"}}}},
        "CKV_NFLDEPLOY_5",
        False,
    ),
    "privileged": ({"privileged": True}, "CKV_NFLDEPLOY_1", False),
    "host-pid": ({"pid": "host"}, "CKV_NFLDEPLOY_1", False),
    "host-ipc": ({"ipc": "host"}, "CKV_NFLDEPLOY_1", False),
    "host-userns": ({"userns_mode": "host"}, "CKV_NFLDEPLOY_1", False),
    "bridge-network": ({"network_mode": "bridge"}, "CKV_NFLDEPLOY_1", True),
}


@dataclass(frozen=True)
class Finding:
    """One check's outcome on one resource of one file (a path under the scanned folder)."""

    framework: str
    check: str
    file: str
    subject: str  # the resource, or the compose service, without the file's path or line numbers
    outcome: str  # passed, failed or skipped
    reason: str | None
    severity: str | None

    def __str__(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.outcome} {self.check} on {self.file} {self.subject}{why}"


@dataclass(frozen=True)
class Scan:
    findings: list[Finding]
    parsing_errors: list[str]

    def of(self, file: str, framework: str | None = None) -> list[Finding]:
        return [
            f for f in self.findings if f.file == file and (framework is None or f.framework == framework)
        ]


def checkov(folder: Path) -> Scan:
    """checkov over ``folder`` (every framework of FRAMEWORKS, our compose checks), offline."""
    command = tool("checkov")
    if command is None:
        unavailable("checkov is not installed", hint="run scripts/setup (scripts/tools.txt: checkov)")
    result = subprocess.run(
        [
            command,
            "--skip-download",
            "--directory",
            str(folder),
            "--output",
            "json",
            "--framework",
            *FRAMEWORKS,
            "--external-checks-dir",
            str(CHECKS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-4000:]  # 1: a check failed
    reports = json.loads(result.stdout)
    findings, errors = [], []
    for report in reports if isinstance(reports, list) else [reports]:
        results = report["results"]
        errors += results.get("parsing_errors", [])
        for outcome in ("passed", "failed", "skipped"):
            for check in results[f"{outcome}_checks"]:
                file = check["file_path"].lstrip("/")
                findings.append(
                    Finding(
                        report["check_type"],
                        check["check_id"],
                        file,
                        _subject(folder, file, report["check_type"], check),
                        outcome,
                        check["check_result"].get("suppress_comment"),
                        check.get("severity"),
                    )
                )
    return Scan(findings, errors)


def _subject(folder: Path, file: str, framework: str, check: dict[str, Any]) -> str:
    """What a finding is about. Our compose checks' resources are the file and the lines of a service's
    mapping, which starts on the line after the service's name: that name."""
    if framework == "yaml":
        lines = (folder / file).read_text().splitlines()
        return str(lines[check["file_line_range"][0] - 2].strip().rstrip(":"))
    return str(check["resource"]).replace(f"/{file}.", "")


def _inputs(image: str = TAG, **settings: Any) -> views.Inputs:
    base = {"registry": "us-docker.pkg.dev/proj/nfl", "project": "proj"}
    return views.Inputs(
        DeploySettings(**{**base, **settings}),
        sample_manifest(),
        image,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/nfl-trajectory:07ddda2891bd-onnx-lambda",
    )


def _dockerfile(kind: str, runtime: str) -> str:
    spec = ImageSpec(kind=kind, runtime=runtime, base_image="python:3.11-slim")  # type: ignore[arg-type]
    return render_dockerfile(
        dockerfile_view(sample_manifest(), spec, "nfldeploy-0.1.0-py3-none-any.whl", "abc1")
    )


def _rendered(root: Path) -> list[str]:
    """Every file of every variant (no workflow: its wheel is built, and zizmor reads it), relative paths."""
    for name, settings in VARIANTS.items():
        render_all(_inputs(**settings), root / name, ["cloudrun", "lambda", "kubernetes", "compose"])
    for name in DOCKERFILES:
        kind, runtime = name.split("-")
        (root / "docker" / name).mkdir(parents=True)
        (root / "docker" / name / "Dockerfile").write_text(_dockerfile(kind, runtime))
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@dataclass(frozen=True)
class Scanned:
    root: Path
    files: list[str]  # the rendered files, as they are
    stripped: dict[str, str]  # rendered file -> its copy without checkov's suppressions
    scan: Scan


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    root = tmp_path_factory.mktemp("checkov")
    files = _rendered(root / "rendered")
    stripped = {}
    for relative in files:
        text = (root / "rendered" / relative).read_text()
        if SKIP_LINE.search(text):
            copy = root / "stripped" / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(SKIP_LINE.sub("", text))
            stripped["rendered/" + relative] = f"stripped/{relative}"
    for name, (relative, replacements, _) in WEAKENED.items():
        text = (root / "rendered" / relative).read_text()
        for old, new in replacements:
            assert old in text, f"{name}: {old!r} is no longer in {relative}: update WEAKENED"
            text = text.replace(old, new)
        copy = root / "weakened" / name / Path(relative).name
        copy.parent.mkdir(parents=True)
        copy.write_text(text)
    for relative in (*PLANTED, UNREAD):
        text = (root / "rendered" / relative).read_text()
        if relative.endswith(".json"):
            planted = PLANTED_JSON + text.lstrip()[1:]
        elif relative.endswith((".yaml", ".yml")):  # a value: the scan reads YAML's values, not its comments
            planted = text + PLANTED_KEY.replace(" =", ":")
        else:
            planted = f"# {PLANTED_KEY}{text}"
        copy = root / "planted" / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(planted)
    for name, (service, _, _) in PROBES.items():
        copy = root / "probes" / name / "docker-compose.yml"
        copy.parent.mkdir(parents=True)
        copy.write_text(yaml.safe_dump({"services": {"probe": {"image": "example/probe:1", **service}}}))
    return Scanned(root, ["rendered/" + f for f in files], stripped, checkov(root))


def _gate(scanned: Scanned, kind: str, framework: str) -> None:
    """Each ``kind`` file (a path suffix) was read by ``framework`` (some check passed: it parsed), and no
    check failed there, nor was suppressed without a reason."""
    files = [f for f in scanned.files if f.endswith(kind)]
    assert files, kind
    assert not scanned.scan.parsing_errors, scanned.scan.parsing_errors
    for file in files:
        found = scanned.scan.of(file)
        assert any(f.framework == framework for f in found), (
            f"checkov's {framework} checks did not read {file}"
        )
        unexplained = [
            f
            for f in found
            if f.outcome == "failed"
            or (f.outcome == "skipped" and (f.reason or "No comment provided") == "No comment provided")
        ]
        assert not unexplained, "\n".join(map(str, unexplained))


def test_the_sam_template_passes_checkov(scanned: Scanned) -> None:
    _gate(scanned, "aws/template.yaml", "cloudformation")


def test_the_kubernetes_manifests_pass_checkov(scanned: Scanned) -> None:
    _gate(scanned, "kubernetes/deployment.yaml", "kubernetes")
    # the objects checkov has checks for (none for a HorizontalPodAutoscaler; the NetworkPolicy is what
    # CKV2_K8S_6 finds for the Pod), the Deployment's pod template checked as a Pod
    kinds = {
        f.subject.split(".")[0] for f in scanned.scan.of("rendered/by-digest/kubernetes/deployment.yaml")
    }
    assert kinds == {"Deployment", "Pod", "Service"}, kinds


def test_the_cloudrun_service_passes_checkov(scanned: Scanned) -> None:
    """A Knative Service, which checkov's kubernetes checks read as a Kubernetes Service (only the namespace
    check applies): with a project the file names it, without one the suppression says why it cannot."""
    _gate(scanned, "cloudrun/service.yaml", "kubernetes")


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_dockerfile_passes_checkov(scanned: Scanned, name: str) -> None:
    _gate(scanned, f"docker/{name}/Dockerfile", "dockerfile")


def test_the_compose_file_passes_checkov_with_our_compose_checks(scanned: Scanned) -> None:
    _gate(scanned, "compose/docker-compose.yml", "yaml")
    compose = "rendered/iam-url-with-keys/compose/docker-compose.yml"
    services = set(yaml.safe_load((scanned.root / compose).read_text())["services"])
    # every check of ours ran on every service (a replica publishes no port: its port check passes)
    checked = {(f.check, f.subject) for f in scanned.scan.of(compose, "yaml")}
    assert checked == {(f"CKV_NFLDEPLOY_{n}", name) for n in range(1, 7) for name in services}, checked


def test_no_rendered_file_holds_a_secret(scanned: Scanned) -> None:
    secrets = [f for f in scanned.scan.findings if f.framework == "secrets" and f.file in scanned.files]
    assert not [f for f in secrets if f.outcome != "passed"], "\n".join(map(str, secrets))


@pytest.mark.parametrize("relative", PLANTED)
def test_the_secrets_scan_reads_each_kind_of_rendered_file(scanned: Scanned, relative: str) -> None:
    """A copy of the file with an AWS key planted in it fails the secrets scan: the gate above is not empty
    because the scan skipped the file."""
    failed = {f.check for f in scanned.scan.of(f"planted/{relative}", "secrets") if f.outcome == "failed"}
    assert failed & {"CKV_SECRET_2", "CKV_SECRET_6"}, (relative, failed)


def test_the_secrets_scan_does_not_read_nginx_conf(scanned: Scanned) -> None:
    """checkov's secrets scan takes no ``.conf`` file: the README says nginx.conf is checked by nginx -t only.
    When a checkov release reads it, this fails: say so in the README."""
    assert not [f for f in scanned.scan.of(f"planted/{UNREAD}") if f.outcome == "failed"]


def test_checkov_reports_no_severity_offline(scanned: Scanned) -> None:
    """Why the gate takes every failed check: offline, checkov cannot say which are high."""
    failed = [f for f in scanned.scan.findings if f.outcome == "failed"]
    assert failed and {f.severity for f in failed} == {None}


def test_every_suppression_is_needed(scanned: Scanned) -> None:
    """With its suppressions removed, a file fails each check it suppressed, on the same resource: none
    stays once its cause is gone, and the gate sees a finding that no suppression answers."""
    assert set(scanned.stripped) >= {
        "rendered/iam-url-with-keys/aws/template.yaml",
        "rendered/http-api-with-keys/aws/template.yaml",
        "rendered/iam-url-with-keys/kubernetes/deployment.yaml",
        "rendered/no-project/cloudrun/service.yaml",
        "rendered/docker/lambda-onnx/Dockerfile",
        "rendered/iam-url-with-keys/compose/docker-compose.yml",
    }, sorted(scanned.stripped)
    for original, copy in scanned.stripped.items():
        skipped = {_suppressed(f) for f in scanned.scan.of(original) if f.outcome == "skipped"}
        failed = {_suppressed(f) for f in scanned.scan.of(copy) if f.outcome == "failed"}
        assert skipped, f"{original} holds a suppression checkov did not apply"
        assert skipped <= failed, (original, skipped - failed)


def _suppressed(finding: Finding) -> tuple[str, str]:
    """What a suppression answers: a check on a resource, or on the whole file in a Dockerfile (there
    checkov's skip comment applies to the file, and its skipped finding names no instruction)."""
    return finding.check, "" if finding.framework == "dockerfile" else finding.subject


@pytest.mark.parametrize("name", list(WEAKENED))
def test_a_fix_undone_fails_the_gate(scanned: Scanned, name: str) -> None:
    relative, _, check = WEAKENED[name]
    copy = f"weakened/{name}/{Path(relative).name}"
    failed = {f.check for f in scanned.scan.of(copy) if f.outcome == "failed"}
    assert check in failed, (name, failed)


@pytest.mark.parametrize("name", list(PROBES))
def test_our_compose_checks_read_each_documented_shape(scanned: Scanned, name: str) -> None:
    _, check, passes = PROBES[name]
    (outcome,) = {f.outcome for f in scanned.scan.of(f"probes/{name}/docker-compose.yml") if f.check == check}
    assert outcome == ("passed" if passes else "failed")
