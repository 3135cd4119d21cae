"""No public door left on any qualifier (issue 31 item 4): after every step of any sequence of deploy, canary,
promote, rollback, a failed canary and an auth or endpoint change, the function's URLs are exactly the ones
its settings ask for (alias live's, and the canary alias's only while a canary is in flight, with live's
auth), and only a URL of auth NONE has the grants to "*" that make it public. Read as a reviewer would:
every URL config of the function (ListFunctionUrlConfigs, every page) and every qualifier's resource policy
(the function, each alias, each version). Against moto's server, without Docker."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import boto3
import pytest

from bootstrapped import bootstrap
from lambda_state import public_grants, service, settings_for, url_configs
from moto_extensions import iam_enforced
from nfldeploy.cloud.aws import AwsClients, aws_clients
from nfldeploy.cloud.lambda_deployer import deployer_policy
from nfldeploy.errors import DeployError, SmokeTestError
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import LambdaTarget
from nfldeploy.targets.lambda_endpoints import canary_url_auth

PUBLIC = ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
ACCOUNT = "123456789012"  # moto's: the rendered policies name the account


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    return aws_clients("us-east-1")


class Release:
    """One service and the steps a pipeline (or a person) takes on it; checks the doors after each."""

    def __init__(self, aws: AwsClients, settings: DeploySettings) -> None:
        self.aws, self.settings = aws, settings
        self.name = settings.service_name
        self.target, self.image = service(aws, settings)
        self.timeout = 60
        self.log: list[str] = []

    def _target(self, verify: Any = None) -> LambdaTarget:
        return LambdaTarget(
            self.aws,
            self.name,
            "us-east-1",
            endpoint=self.settings.lambda_endpoint,
            verify=verify,
            waiter_config={"Delay": 0, "MaxAttempts": 5},
        )

    def _changed(self) -> DeploySettings:
        self.timeout += 1  # a new configuration: a new version
        return self.settings.model_copy(update={"timeout": self.timeout})

    def in_flight(self) -> bool:
        live = self.aws.lambda_.get_alias(FunctionName=self.name, Name="live")
        return bool(live.get("RoutingConfig", {}).get("AdditionalVersionWeights"))

    def step(self, kind: str, auth: str | None = None) -> None:
        self.log.append(f"{kind} {auth or ''}".strip())
        before = self.settings
        assert auth is None or kind not in ("promote", "rollback"), "settings apply on a deploy only"
        if auth is not None:
            self.settings = self.settings.model_copy(update={"function_url_auth": auth})
        target = self._target()
        try:
            if kind == "deploy":  # a new version, all traffic
                target.apply(target.plan(self._changed(), self.image))
            elif kind == "canary":  # a new version, 20 % through live, checked on its own URL first
                target.apply(target.plan(self._changed(), self.image, canary=20))
            elif kind == "settings":  # the same function, new settings (auth): a canary in flight stays
                self.settings = self.settings.model_copy(update={"timeout": self.timeout})
                canary = 20 if self.in_flight() else None
                target.apply(target.plan(self.settings, self.image, canary=canary))
            elif kind == "promote":
                target.apply(target.plan_promote())
            elif kind == "rollback":
                target.rollback()
            elif kind == "failed_canary":  # its check fails: it never gets traffic
                failing = self._target(verify=self._refuse)
                with pytest.raises(DeployError, match="failed its check"):
                    failing.apply(failing.plan(self._changed(), self.image, canary=20))
                self.settings = before  # nothing it would have changed on live did change
            elif kind == "endpoint":  # through an HTTP API now (bootstrap again), or back to the URL
                fronted = self.settings.lambda_endpoint == "function_url"
                self.settings = self.settings.model_copy(
                    update={"lambda_endpoint": "api_gateway" if fronted else "function_url"}
                )
                bootstrap(self.aws, self.settings)
                target = self._target()
                target.apply(target.plan(self._changed(), self.image))
            else:
                raise AssertionError(kind)
        except DeployError as refused:
            # a step that cannot be taken now (no canary to promote, nothing to roll back to) is one clear
            # error and changes nothing
            assert kind in ("promote", "rollback"), (self.log, refused.message)
        self.check()

    @staticmethod
    def _refuse(url: str) -> None:
        raise SmokeTestError(f"/ready at {url} answered 503")

    def expected_urls(self) -> dict[str, str]:
        urls = (
            {"live": self.settings.function_url_auth}
            if self.settings.lambda_endpoint == "function_url"
            else {}
        )
        if self.in_flight():
            urls["canary"] = canary_url_auth(self.settings)
        return urls

    def check(self) -> None:
        expected = self.expected_urls()
        assert url_configs(self.aws, self.name) == expected, " -> ".join(self.log)
        public = {qualifier: PUBLIC for qualifier, auth in expected.items() if auth == "NONE"}
        assert public_grants(self.aws, self.name) == public, " -> ".join(self.log)


def _release(aws: AwsClients, **values: Any) -> Release:
    """A service deployed once; public URLs allowed on purpose (the steps switch between both auths)."""
    name = f"fn-{uuid.uuid4().hex[:6]}"
    release = Release(aws, settings_for(name, allow_unauthenticated=True, **values))
    release.step("deploy", values.get("function_url_auth"))
    return release


SEQUENCES = {
    # the issue's: a public canary promoted, then the service made private
    "public canary promoted, then private": [("canary", "NONE"), ("promote", None), ("settings", "AWS_IAM")],
    "private canary, made public in flight, promoted": [
        ("canary", "AWS_IAM"),
        ("settings", "NONE"),
        ("promote", None),
    ],
    "public canary made private in flight, rolled back": [
        ("canary", "NONE"),
        ("settings", "AWS_IAM"),
        ("rollback", None),
    ],
    "public canary replaced by a deploy without one": [("canary", "NONE"), ("deploy", "AWS_IAM")],
    "public canary fails its check": [("failed_canary", "NONE"), ("promote", None), ("rollback", None)],
    "a canary in flight, then a failing one": [
        ("canary", "NONE"),
        ("failed_canary", None),
        ("promote", None),
    ],
    "public canary, then behind an HTTP API and back": [
        ("canary", "NONE"),
        ("endpoint", "AWS_IAM"),
        ("canary", None),
        ("promote", None),
        ("endpoint", None),
    ],
}


@pytest.mark.parametrize("steps", list(SEQUENCES.values()), ids=list(SEQUENCES))
def test_no_public_url_is_left_on_any_qualifier(aws: AwsClients, steps: list[tuple[str, str | None]]) -> None:
    release = _release(aws, function_url_auth="NONE")
    for kind, auth in steps:
        release.step(kind, auth)


def test_behind_an_http_api_with_api_keys_the_public_canary_url_lives_only_while_the_canary_does(
    aws: AwsClients,
) -> None:
    """With API keys the canary's URL is auth NONE (SigV4 would take the Authorization header the key needs):
    it bypasses the API's throttle, so it exists only between the canary deploy and its end."""
    secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=f"keys-{uuid.uuid4().hex[:6]}", SecretString="k1"
    )["ARN"]
    release = _release(aws, lambda_endpoint="api_gateway", auth=True, api_keys_secret=secret)
    for kind in ("canary", "promote", "canary", "rollback", "canary", "deploy", "failed_canary"):
        release.step(kind)
        assert ("canary" in url_configs(aws, release.name)) is (kind == "canary")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_sequence_leaves_no_public_door(aws: AwsClients, seed: int) -> None:
    """Property-style: seeded random sequences of every step and auth."""
    chooser = random.Random(seed)
    release = _release(aws, function_url_auth=chooser.choice(["NONE", "AWS_IAM"]))
    kinds = ["deploy", "canary", "canary", "settings", "promote", "rollback", "failed_canary"]
    for _ in range(10):
        kind = chooser.choice(kinds)
        auth = None if kind in ("promote", "rollback") else chooser.choice(["NONE", "AWS_IAM", None])
        release.step(kind, auth)


def _deployer(aws_env: str, policy: dict[str, Any]) -> AwsClients:
    """Clients of a new IAM user holding exactly ``policy``."""
    iam = boto3.client("iam", region_name="us-east-1")
    user = f"deployer-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="deployer", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name="us-east-1",
    )
    return AwsClients(*(session.client(s, endpoint_url=aws_env) for s in ("lambda", "ecr", "iam")))


def _public_policy(settings: DeploySettings) -> dict[str, Any]:
    return deployer_policy(
        "us-east-1", settings.service_name, settings.repository, False, account=ACCOUNT, url_auth="NONE"
    )


def test_the_deployer_policy_ends_a_public_canary(aws: AwsClients, aws_env: str) -> None:
    """The identity holding exactly the rendered policy (public URLs) ends canaries: the canary's URL, its
    public grants and its alias go at the promote and at the rollback."""
    settings = settings_for(
        f"fn-{uuid.uuid4().hex[:6]}", function_url_auth="NONE", allow_unauthenticated=True
    )
    _, image = service(aws, settings)
    deployer = _deployer(aws_env, _public_policy(settings))
    name = settings.service_name
    target = LambdaTarget(deployer, name, "us-east-1", waiter_config={"Delay": 0, "MaxAttempts": 5})
    with iam_enforced():
        target.apply(target.plan(settings, image))
    for timeout, end in ((61, "promote"), (62, "rollback")):
        with iam_enforced():
            target.apply(target.plan(settings.model_copy(update={"timeout": timeout}), image, canary=20))
        assert url_configs(aws, name) == {"live": "NONE", "canary": "NONE"}  # read as the admin
        assert public_grants(aws, name) == {"live": PUBLIC, "canary": PUBLIC}
        with iam_enforced():
            target.apply(target.plan_promote()) if end == "promote" else target.rollback()
        assert url_configs(aws, name) == {"live": "NONE"}
        assert public_grants(aws, name) == {"live": PUBLIC}


def test_a_rollback_that_cannot_end_the_canary_says_what_serves(aws: AwsClients, aws_env: str) -> None:
    settings = settings_for(
        f"fn-{uuid.uuid4().hex[:6]}", function_url_auth="NONE", allow_unauthenticated=True
    )
    _, image = service(aws, settings)
    policy = _public_policy(settings)
    policy["Statement"][0]["Action"].remove("lambda:DeleteFunctionUrlConfig")
    deployer = _deployer(aws_env, policy)
    name = settings.service_name
    with iam_enforced():
        target = LambdaTarget(deployer, name, "us-east-1", waiter_config={"Delay": 0, "MaxAttempts": 5})
        target.apply(target.plan(settings, image))
        target.apply(target.plan(settings.model_copy(update={"timeout": 61}), image, canary=20))
        with pytest.raises(
            DeployError, match=r"rolled back: alias live serves version 1 \(100 %\)"
        ) as failed:
            target.rollback()
    assert "DeleteFunctionUrlConfig" in failed.value.message and failed.value.hint
    assert (
        aws.lambda_.get_alias(FunctionName=name, Name="live")["RoutingConfig"]["AdditionalVersionWeights"]
        == {}
    )
