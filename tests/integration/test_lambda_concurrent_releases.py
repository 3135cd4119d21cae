"""Two releases of one Lambda service at once (issue 33, item 3): two ``nfldeploy deploy`` processes, the same
settings, different images. One wins; the other exits 4 with one message naming the conflict; never a mixed
state (alias live on one release's version while the function, the report or the next plan follow the
other's). The interleaving is made deterministic with the fault layer: the first release's process reaches
moto's server through a FaultProxy whose schedule holds one of its calls (before it reaches the stand-in)
until the second release's process has run to the end. Plain deploys (a canary's smoke check needs a URL
moto does not serve). Against moto's server, without Docker."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import nfldeploy
from bootstrapped import bootstrap
from faults import Call, FaultProxy, Schedule
from lambda_state import REGION, public_grants, settings_for, url_configs
from nfldeploy.cloud.aws import AwsClients, aws_clients
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import LambdaTarget

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
WAIT = {"Delay": 0, "MaxAttempts": 5}


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    return aws_clients(REGION)


@dataclass
class Hold(Schedule):
    """Holds the first Lambda call ``operation`` before it reaches the stand-in until ``release`` is set;
    ``reached`` tells that it arrived. (Only the held process talks through the proxy, one call at a time.)"""

    operation: str = ""
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def decide(self, call: Call) -> None:
        if call.service == "lambda" and call.operation == self.operation and not self.reached.is_set():
            self.reached.set()
            self.release.wait(120)
        return None


def _image(aws: AwsClients, repository: str, tag: str) -> tuple[str, str]:
    """An image of its own (its own digest) in moto's ECR: (URI with the tag, digest)."""
    config = {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2}
    config["digest"] = "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_V2, "config": config, "layers": []}
    body = json.dumps(manifest)
    digest = (
        "sha256:" + hashlib.sha256(body.encode()).hexdigest()
    )  # moto's own is the same for every manifest
    put = aws.ecr.put_image(repositoryName=repository, imageManifest=body, imageTag=tag, imageDigest=digest)
    uri = aws.ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    return f"{uri}:{tag}", str(put["image"]["imageId"]["imageDigest"])


def _target(aws: AwsClients, settings: DeploySettings) -> LambdaTarget:
    return LambdaTarget(
        aws, settings.service_name, REGION, endpoint=settings.lambda_endpoint, waiter_config=WAIT
    )


def _env(settings: DeploySettings, endpoint: str) -> dict[str, str]:
    """The environment of a deploy process: the settings as NFLDEPLOY_*, AWS reached at ``endpoint``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NFLDEPLOY_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        PYTHONPATH=os.pathsep.join([str(Path(nfldeploy.__file__).parents[1]), env.get("PYTHONPATH", "")]),
        NFLDEPLOY_SERVICE_NAME=settings.service_name,
        NFLDEPLOY_REPOSITORY=settings.repository,
        NFLDEPLOY_TIMEOUT=str(settings.timeout),
        NFLDEPLOY_LAMBDA_ENDPOINT=settings.lambda_endpoint,
        NFLDEPLOY_ALLOW_UNAUTHENTICATED="true" if settings.allow_unauthenticated else "false",
    )
    return env


def _deploy_command(image: str) -> list[str]:
    return [sys.executable, "-m", "nfldeploy", "deploy", "--target", "lambda", "--image", image]


def _serving(aws: AwsClients, name: str) -> tuple[str, str]:
    """(version, image digest) alias live serves, checked to be one version with all the traffic."""
    live = aws.lambda_.get_alias(FunctionName=name, Name="live")
    assert not (live.get("RoutingConfig") or {}).get("AdditionalVersionWeights"), live
    version = str(live["FunctionVersion"])
    found = aws.lambda_.get_function(FunctionName=name, Qualifier=version)
    return version, str(found["Code"]["ImageUri"]).rsplit("@", 1)[-1]


def _check_ways_in(aws: AwsClients, settings: DeploySettings) -> None:
    """The way in and its auth are the settings', the grants exactly theirs (none: AWS_IAM, no keys)."""
    name = settings.service_name
    if settings.lambda_endpoint == "function_url":
        assert url_configs(aws, name) == {"live": settings.function_url_auth}
    else:
        assert url_configs(aws, name) == {}
        api = _target(aws, settings).endpoints.api()
        assert api is not None
        integrations = aws.apigateway.get_integrations(ApiId=api["ApiId"])["Items"]
        assert integrations and all(
            str(i.get("IntegrationUri", "")).endswith(f":function:{name}:live") for i in integrations
        ), integrations
    assert public_grants(aws, name) == {}


def _released(
    aws: AwsClients, *, deployed: bool = True, **values: Any
) -> tuple[DeploySettings, dict[str, tuple[str, str]]]:
    """A bootstrapped service serving a first image (unless not ``deployed``), and two more images for the
    two releases."""
    name = f"conc-{uuid.uuid4().hex[:8]}"
    settings = settings_for(name, **values)
    bootstrap(aws, settings)
    images = {tag: _image(aws, settings.repository, tag) for tag in ("first", "one", "other")}
    if deployed:
        target = _target(aws, settings)
        target.apply(target.plan(settings, images["first"][0]))
    return settings, images


@pytest.mark.parametrize(
    ("held", "endpoint"),
    [
        # both releases are the service's first: the later CreateFunction finds the function there
        ("CreateFunction", "function_url"),
        # the first release's configuration update came after the other's code: a version of the other's
        # image under this release's description (a later deploy of this image saw "unchanged")
        ("UpdateFunctionConfiguration", "function_url"),
        # the first release published the other's $LATEST as its own version
        ("PublishVersion", "function_url"),
        # the first release moved live back onto its version after the other's (live on one image, $LATEST,
        # the next plan and the report on the other's)
        ("UpdateAlias", "function_url"),
        ("UpdateAlias", "api_gateway"),
    ],
)
def test_a_release_overtaken_by_another_stops_with_the_conflict_and_leaves_no_mixed_state(
    aws: AwsClients, aws_env: str, tmp_path: Path, held: str, endpoint: str
) -> None:
    extra = {"allow_unauthenticated": True} if endpoint == "api_gateway" else {}
    settings, images = _released(aws, deployed=held != "CreateFunction", lambda_endpoint=endpoint, **extra)
    name = settings.service_name
    hold = Hold(operation=held)
    proxy = FaultProxy(aws_env, hold).start()
    first: subprocess.Popen[str] | None = None
    try:
        first = subprocess.Popen(
            _deploy_command(images["one"][0]),
            env=_env(settings, proxy.endpoint),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        while not hold.reached.wait(0.2) and first.poll() is None:
            pass
        assert hold.reached.is_set(), f"the first release never called {held}: {first.communicate()}"
        second = subprocess.run(
            _deploy_command(images["other"][0]),
            env=_env(settings, aws_env),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        hold.release.set()
        out, err = first.communicate(timeout=120)
    finally:
        hold.release.set()
        if first is not None and first.poll() is None:
            first.kill()
            first.communicate()
        proxy.stop()

    # the state, as a reviewer reads it: live serves one version with all traffic, of one of the two images
    version, digest = _serving(aws, name)
    served = {d: tag for tag, (_, d) in images.items()}.get(digest)
    assert served in ("one", "other"), digest
    _check_ways_in(aws, settings)
    status = _target(aws, settings).status()
    assert status.serving == f"{name}:{version}"
    assert status.traffic == {f"{name}:{version}": 100}
    # what live serves is what the function records for it: a deploy of its image changes nothing, of the
    # other's does
    unserved = "other" if served == "one" else "one"
    assert _target(aws, settings).plan(settings, images[served][0]).empty
    assert not _target(aws, settings).plan(settings, images[unserved][0]).empty
    # a third deploy with either image converges on it
    for tag in (unserved, served):
        target = _target(aws, settings)
        deployed = target.apply(target.plan(settings, images[tag][0]))
        assert _serving(aws, name)[1] == images[tag][1]
        assert deployed.image.endswith(images[tag][1])
        _check_ways_in(aws, settings)
    # the release that ran to the end won; the overtaken one exited 4 with one message naming the conflict
    assert second.returncode == 0, second.stderr
    assert served == "other"
    assert first.returncode == 4, (out, err)
    assert "Traceback" not in out + err
    named = ("PreconditionFailedException", "ResourceConflictException", "another release changed")
    assert any(conflict in err for conflict in named), err
    assert "Deploy again" in err  # the hint: what to do now


def test_a_deploy_whose_image_latest_holds_but_live_does_not_serve_is_not_an_empty_plan(
    aws: AwsClients,
) -> None:
    """The state a release that lost the alias leaves ($LATEST and its published version are its image, live
    another's): a deploy of that image must move live, not answer "nothing to change"."""
    settings, images = _released(aws)
    name = settings.service_name
    first_version = _serving(aws, name)[0]
    target = _target(aws, settings)
    target.apply(target.plan(settings, images["other"][0]))
    revision = aws.lambda_.get_alias(FunctionName=name, Name="live")["RevisionId"]
    aws.lambda_.update_alias(
        FunctionName=name, Name="live", FunctionVersion=first_version, RevisionId=revision
    )
    plan = _target(aws, settings).plan(settings, images["other"][0])
    assert not plan.empty, "live serves another image: the plan must move it"
    _target(aws, settings).apply(plan)
    assert _serving(aws, name)[1] == images["other"][1]


def test_a_rollback_reports_the_image_of_the_version_it_serves_not_latests(aws: AwsClients) -> None:
    settings, images = _released(aws)
    target = _target(aws, settings)
    target.apply(target.plan(settings, images["other"][0]))
    rolled = _target(aws, settings).rollback()
    assert _serving(aws, settings.service_name)[1] == images["first"][1]
    assert rolled.image.endswith(images["first"][1]), rolled.image  # $LATEST still holds "other"


def test_the_stand_in_refuses_a_stale_revision_id(aws: AwsClients) -> None:
    """Lambda's optimistic locking, as AWS has it (API_UpdateFunctionConfiguration.html, API_PublishVersion,
    API_UpdateAlias: "only if the revision ID matches"): a stale RevisionId is PreconditionFailedException;
    the current one is taken. Fails while the stand-in ignores RevisionId."""
    settings, _ = _released(aws)
    name = settings.service_name
    lam = aws.lambda_
    stale = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    changed = lam.update_function_configuration(FunctionName=name, Description="changed", RevisionId=stale)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    assert changed["RevisionId"] != stale
    for call in (
        lambda: lam.update_function_configuration(FunctionName=name, Timeout=61, RevisionId=stale),
        lambda: lam.publish_version(FunctionName=name, RevisionId=stale),
    ):
        with pytest.raises(lam.exceptions.PreconditionFailedException):
            call()
    current = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    assert current == changed["RevisionId"]
    version = lam.publish_version(FunctionName=name, RevisionId=current)["Version"]
    alias = lam.get_alias(FunctionName=name, Name="live")
    moved = lam.update_alias(
        FunctionName=name, Name="live", FunctionVersion=version, RevisionId=alias["RevisionId"]
    )
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_alias(
            FunctionName=name, Name="live", FunctionVersion=version, RevisionId=alias["RevisionId"]
        )
    assert moved["RevisionId"] != alias["RevisionId"]


def test_a_deploy_after_a_rollback_says_it_undoes_the_rollback(aws: AwsClients) -> None:
    """Deploying again the image a rollback moved away from reuses its version (it holds the spec): the plan
    said "an earlier deploy stopped part-way" and the rollback was undone without a word. It now says so."""
    settings, images = _released(aws)
    name = settings.service_name
    target = _target(aws, settings)
    target.apply(target.plan(settings, images["other"][0]))
    rolled_from, _ = _serving(aws, name)
    _target(aws, settings).rollback()
    assert _serving(aws, name)[0] != rolled_from
    plan = _target(aws, settings).plan(settings, images["other"][0])
    reuse = [a for a in plan.actions if a.kind == "reuse_version"]
    assert reuse and reuse[0].subject == f"{name}:{rolled_from}", plan.actions
    assert "a rollback took its traffic away" in reuse[0].detail, reuse[0].detail
    assert "stopped part-way" not in reuse[0].detail
