"""Lambda deploys under injected faults (issue 33): the real CLI (typer's CliRunner on ``nfldeploy.cli.app``)
deploys through a FaultProxy in front of moto's server, one seeded schedule at a time, and the invariants are
checked after each: traffic only on a checked version or on what served before, exit 0/3/4 with one message
naming the failed call, no public grant beyond the settings, a fault-free re-run converging on the state of a
twin function that took the same steps without faults (and no second copy of anything), the command's time
within the retry budget of its faults.

Two functions per target (``faulted`` and ``twin``) are bootstrapped once with admin clients straight to moto;
each schedule is one more step of the same history on both (a plain deploy or ``--canary 20``, each with a new
timeout, so a new version). The canary's smoke check is replaced by one that records the version the canary
alias resolves to (read from moto) and can itself be scheduled to fail."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from bootstrapped import bootstrap
from ecr_local import recorded_image
from faults import KINDS, Call, Fault, FaultProxy, Schedule, record_figure
from lambda_state import aliases, settings_for, url_configs
from nfldeploy.cli.app import app
from nfldeploy.cloud.aws import AwsClients
from nfldeploy.cloud.call_limits import CallLimits
from nfldeploy.errors import SmokeTestError
from nfldeploy.settings import DeploySettings

REGION = "us-east-1"
#: Each call waits at most this long for its answer; a ``slow`` fault holds the answer back longer.
CALL_TIMEOUT = 1.0
SLOW_DELAY = 1.3
ATTEMPTS = 3
LIMITS = CallLimits(ATTEMPTS, CALL_TIMEOUT)
#: Seconds a command may take beyond its fault-free run, besides its faults' retry budgets.
SLACK = 10.0
runner = CliRunner()


def admin_clients(endpoint: str) -> AwsClients:
    return AwsClients.made_by(
        lambda service: boto3.client(service, endpoint_url=endpoint, region_name=REGION)
    )


class Smoke:
    """The canary check the CLI runs (``nfldeploy.smoke.run.smoke_url``): records which function and version
    the canary alias resolves to at check time; refuses while ``failing``."""

    def __init__(self, aws: AwsClients) -> None:
        self.aws = aws
        self.checked: set[tuple[str, str]] = set()
        self.function = ""
        self.failing = False

    def __call__(self, url: str, *args: Any, **kwargs: Any) -> Any:
        version = self.aws.lambda_.get_alias(FunctionName=self.function, Name="canary")["FunctionVersion"]
        configs = url_configs(self.aws, self.function)
        assert configs.get("canary"), f"the canary of {self.function} is checked without its URL"
        failing = self.failing

        class Report:
            def raise_for_failures(self) -> None:
                if failing:
                    raise SmokeTestError(f"/ready at {url} answered 503")

        if not failing:
            self.checked.add((self.function, version))
        return Report()


@dataclass
class Run:
    exit_code: int
    output: str
    seconds: float
    calls: list[Call]


@dataclass
class Service:
    """A function deployed by the CLI, step after step."""

    settings: DeploySettings
    image: str

    @property
    def name(self) -> str:
        return self.settings.service_name

    def args(self, canary: int | None, command: str = "deploy") -> list[str]:
        values = {
            "service_name": self.name,
            "repository": self.settings.repository,
            "timeout": self.settings.timeout,
            "aws_region": REGION,
            "lambda_endpoint": self.settings.lambda_endpoint,
            "function_url_auth": self.settings.function_url_auth,
            "allow_unauthenticated": str(self.settings.allow_unauthenticated).lower(),
            "lambda_keep_versions": self.settings.lambda_keep_versions,
            "cloud_call_attempts": ATTEMPTS,
            "cloud_call_timeout": CALL_TIMEOUT,
        }
        sets = [item for key, value in values.items() for item in ("--set", f"{key}={value}")]
        extra = ["--canary", str(canary)] if canary is not None else []
        if command != "deploy":
            return [command, "--target", "lambda", *sets]
        return ["deploy", "--target", "lambda", "--image", self.image, *extra, *sets]


@dataclass
class Harness:
    """The faulted function and its twin behind one proxy, for one endpoint kind."""

    aws: AwsClients
    proxy: FaultProxy
    smoke: Smoke
    faulted: Service
    twin: Service
    target: str
    figures: list[dict[str, Any]] = field(default_factory=list)
    last_rerun: Run | None = None
    held_versions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    # -- running the CLI -------------------------------------------------------------------------------
    def run(
        self, service: Service, canary: int | None, schedule: Schedule | None = None, command: str = "deploy"
    ) -> Run:
        self.proxy.reset(schedule)
        self.smoke.function = service.name
        started = time.monotonic()
        result = runner.invoke(
            app,
            service.args(canary, command),
            env={"AWS_ENDPOINT_URL": self.proxy.endpoint, "COLUMNS": "200"},
        )
        seconds = time.monotonic() - started
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            output += f"\nTraceback: {result.exception!r}"
        return Run(result.exit_code, output, seconds, list(self.proxy.calls))

    def step(self, service: Service, timeout: int) -> None:
        service.settings = service.settings.model_copy(update={"timeout": timeout})

    # -- one schedule ----------------------------------------------------------------------------------
    def schedule(self, seed: int) -> list[str]:
        """One more step on both functions, the faulted one under the seed's schedule; the violations."""
        rng = random.Random(seed)
        canary = 20 if seed % 2 else None
        fail_smoke = canary is not None and rng.random() < 0.2

        shape = rng.random()

        def seeded(baseline: list[Call]) -> Schedule:
            if shape < 0.3:  # one change that fails for good: every attempt of one call
                return _for_good(rng, baseline)
            admits = (lambda call: call.mutating) if shape < 0.6 else (lambda call: True)
            count = rng.choice((1, 1, 2))
            return Schedule.seeded(seed, baseline, count=count, delay=SLOW_DELAY, admits=admits)

        return self.release(seeded, canary, fail_smoke, seed)[1]

    def release(
        self,
        schedule_of: Callable[[list[Call]], Schedule],
        canary: int | None,
        fail_smoke: bool = False,
        seed: int = -1,
    ) -> tuple[Run, list[str]]:
        """One more step (a new timeout) on both functions, the twin without faults, the faulted one under
        the schedule made from the twin's calls, then again without faults: its first run and the violations."""
        timeout = self.faulted.settings.timeout + 1
        self.step(self.faulted, timeout)
        self.step(self.twin, timeout)
        self.smoke.failing = False
        baseline = self.run(self.twin, canary)
        violations: list[str] = []
        if baseline.exit_code != 0:
            raise AssertionError(f"the fault-free run failed: {baseline.output}")
        before = self.traffic(self.faulted.name)
        schedule = schedule_of(baseline.calls)
        self.smoke.failing = fail_smoke
        faulted = self.run(self.faulted, canary, schedule)
        self.smoke.failing = False
        faults = [c for c in faulted.calls if c.fault]
        violations += self.check_exit(faulted, fail_smoke)
        violations += self.check_traffic(self.faulted.name, before, canary)
        violations += self.check_grants(self.faulted)
        budget = baseline.seconds + len(schedule.picks) * LIMITS.budget + SLACK
        if faulted.seconds > budget:
            violations.append(f"the command took {faulted.seconds:.1f} s, over its budget of {budget:.1f} s")
        rerun = self.last_rerun = self.run(self.faulted, canary)
        if rerun.exit_code != 0:
            violations.append(f"the fault-free re-run exited {rerun.exit_code}: {_message(rerun.output)}")
        violations += self.check_traffic(self.faulted.name, before, canary)
        violations += self.check_grants(self.faulted)
        violations += self.check_converged()
        record_figure(
            self.target, seed, faults, faulted.exit_code, faulted.seconds, violations, rerun.seconds
        )
        self.figures.append({"seed": seed, "seconds": faulted.seconds, "violations": violations})
        return faulted, [f"seed {seed} ({_described(faults, fail_smoke, canary)}): {v}" for v in violations]

    # -- invariants ------------------------------------------------------------------------------------
    def check_exit(self, run: Run, fail_smoke: bool) -> list[str]:
        found = []
        if "Traceback" in run.output:
            found.append(f"a traceback: {run.output[-600:]}")
        if run.exit_code not in (0, 3, 4):
            found.append(f"exit {run.exit_code}: {_message(run.output)}")
        elif run.exit_code == 4 and not re.search(
            r"(AWS [^\n]+ for|Lambda [^\n]+ of) \S+ failed", run.output
        ):
            found.append(f"exit 4 without naming the failed call: {_message(run.output)}")
        elif fail_smoke and run.exit_code == 0:
            found.append("a failed canary check exited 0")
        elif run.exit_code == 3 and not fail_smoke:
            found.append(f"exit 3 without a failed check: {_message(run.output)}")
        return found

    def aliases(self, name: str) -> dict[str, dict[str, Any]]:
        try:
            return aliases(self.aws, name)
        except self.aws.lambda_.exceptions.ResourceNotFoundException:
            return {}  # no function yet

    def traffic(self, name: str) -> dict[str, int]:
        live = self.aliases(name).get("live")
        if live is None:
            return {}
        weights = live.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
        share = {v: round(w * 100) for v, w in weights.items()}
        return {live["FunctionVersion"]: 100 - sum(share.values()), **share}

    def check_traffic(self, name: str, before: dict[str, int], canary: int | None) -> list[str]:
        """Traffic only on what served before, or on a version holding the wanted configuration (a canary's:
        checked through its URL)."""
        found = []
        for version in self.traffic(name):
            if version in before:
                continue
            held = self.held(name, version)
            if held != self.wanted():
                found.append(
                    f"version {version} takes traffic holding {held}, not the wanted {self.wanted()}"
                )
            elif canary is not None and (name, version) not in self.smoke.checked:
                found.append(f"version {version} takes traffic without its canary check")
        return found

    def check_grants(self, service: Service) -> list[str]:
        """Public grants only where the settings make a URL public: live's (function_url_auth NONE), and the
        canary's while its version takes traffic."""
        found = []
        traffic = self.traffic(service.name)
        canary = self.aliases(service.name).get("canary")
        allowed = set()
        if (
            service.settings.function_url_auth == "NONE"
            and service.settings.lambda_endpoint == "function_url"
        ):
            allowed.add("live")
            if canary is not None and canary["FunctionVersion"] in traffic:
                allowed.add("canary")
        for qualifier, statements in (
            self.statements(service.name) if self.aliases(service.name) else {}
        ).items():
            public = [s["Sid"] for s in statements if s.get("Principal") in ("*", {"AWS": "*"})]
            if public and qualifier not in allowed:
                found.append(f"public grants {public} on {qualifier}, beyond the settings")
        return found

    def check_converged(self) -> list[str]:
        mine, theirs = self.state(self.faulted.name), self.state(self.twin.name)
        found = [
            f"{key}: {mine[key]} after the re-run, {theirs[key]} without faults"
            for key in theirs
            if mine[key] != theirs[key]
        ]
        helds = [self.held(self.faulted.name, v) for v in self.versions(self.faulted.name)]
        if len({json.dumps(h, sort_keys=True) for h in helds}) != len(helds):
            found.append("two published versions hold the same configuration")
        return found

    # -- reading the state ---------------------------------------------------------------------------
    def wanted(self) -> dict[str, Any]:
        return self.held(self.twin.name, "$LATEST")

    def config(self, name: str, qualifier: str) -> dict[str, Any]:
        return dict(self.aws.lambda_.get_function_configuration(FunctionName=name, Qualifier=qualifier))

    def held(self, name: str, qualifier: str) -> dict[str, Any]:
        """What a version holds, without what names the function (a published version never changes)."""
        if qualifier.isdigit() and (name, qualifier) in self.held_versions:
            return self.held_versions[(name, qualifier)]
        config = self.config(name, qualifier)
        image = self.aws.lambda_.get_function(FunctionName=name, Qualifier=qualifier)["Code"]["ImageUri"]
        env = json.dumps(config.get("Environment", {}).get("Variables", {}), sort_keys=True)
        found = {
            "memory": config["MemorySize"],
            "timeout": config["Timeout"],
            "image": image.rsplit("@", 1)[-1] if "@" in image else "tag",
            "env": env.replace(name, "SVC"),
        }
        if qualifier.isdigit():
            self.held_versions[(name, qualifier)] = found
        return found

    def versions(self, name: str) -> list[str]:
        pages = self.aws.lambda_.get_paginator("list_versions_by_function").paginate(FunctionName=name)
        return [v["Version"] for page in pages for v in page["Versions"] if v["Version"] != "$LATEST"]

    def statements(self, name: str) -> dict[str, list[dict[str, Any]]]:
        found = {}
        for qualifier in [None, *self.aliases(name), *self.versions(name)]:
            kwargs = {"Qualifier": qualifier} if qualifier else {}
            try:
                policy = json.loads(self.aws.lambda_.get_policy(FunctionName=name, **kwargs)["Policy"])
            except self.aws.lambda_.exceptions.ResourceNotFoundException:
                continue
            found[qualifier or "$LATEST"] = list(policy["Statement"])
        return found

    def state(self, name: str) -> dict[str, Any]:
        """What a reviewer compares: configuration, traffic (by what the versions hold), URLs and their auth,
        grants, and how many of each thing exist (roles, APIs)."""
        found_aliases = self.aliases(name)

        def by_content(version: str) -> str:
            return json.dumps(self.held(name, version), sort_keys=True)

        live = found_aliases.get("live")
        canary = found_aliases.get("canary")
        statements = self.statements(name)
        named = {**{k: k for k in found_aliases}, **{v: by_content(v) for v in self.versions(name)}}
        roles = [
            role["RoleName"]
            for page in self.aws.iam.get_paginator("list_roles").paginate()
            for role in page["Roles"]
            if name in role["RoleName"]
        ]
        apis = [api for api in _all_apis(self.aws) if name in api.get("Name", "")]
        return {
            "function": self.held(name, "$LATEST"),
            "traffic": {by_content(v): pct for v, pct in self.traffic(name).items()},
            "previous": (live or {}).get("Description", "").startswith("previous version"),
            "canary alias": by_content(canary["FunctionVersion"]) if canary else None,
            "urls": url_configs(self.aws, name),
            "grants": {
                named.get(q, q): sorted(str(s["Sid"]).replace(name, "SVC") for s in statements[q])
                for q in statements
            },
            "versions": sorted(by_content(v) for v in self.versions(name)),
            "roles": len(roles),
            "apis": len(apis),
        }

    def close(self) -> None:
        self.proxy.stop()


def _all_apis(aws: AwsClients) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = aws.apigateway.get_apis(**({"NextToken": token} if token else {}))
        found += page.get("Items", [])
        token = page.get("NextToken")
        if not token:
            return found


def _message(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return " / ".join(lines[-4:])[-500:]


def _described(faults: list[Call], fail_smoke: bool, canary: int | None) -> str:
    parts = [f"{c.fault} {c.service}:{c.operation}" for c in faults]
    if fail_smoke:
        parts.append("failed canary check")
    return ("canary 20, " if canary else "deploy, ") + (", ".join(parts) or "no fault")


def _for_good(rng: random.Random, baseline: list[Call]) -> Schedule:
    """Every attempt of one changing call of the baseline fails (the first with any kind, ``after`` too; the
    retries with throttling, a 5xx or a reset), so the command stops there."""
    changing = [call.operation for call in baseline if call.mutating]
    operation = rng.choice(changing)
    occurrence = rng.randrange(changing.count(operation))
    first = Fault(rng.choice(KINDS), SLOW_DELAY)
    picks = {occurrence + i: Fault(rng.choice(("throttle", "error", "reset"))) for i in range(1, ATTEMPTS)}
    return Schedule({occurrence: first, **picks}, admits=lambda call: call.operation == operation)


def failing(
    operation: str, kind: str = "after", retries: str = "error", occurrence: int = 0
) -> Callable[[list[Call]], Schedule]:
    """A schedule that fails ``operation``'s call (its first, or ``occurrence``) with ``kind`` and each retry
    with ``retries``, so the command fails there (``after``: the change made, the client never hears)."""

    def schedule(_: list[Call]) -> Schedule:
        picks = {occurrence + i: Fault(kind if i == 0 else retries) for i in range(ATTEMPTS)}
        return Schedule(picks, admits=lambda call: call.operation == operation)

    return schedule


def harness(
    moto: str, monkeypatch: pytest.MonkeyPatch, tmp: Path, endpoint: str, deployed: bool = True
) -> Harness:
    """Two functions of ``endpoint`` kind, bootstrapped and deployed once without faults, behind one proxy."""
    import nfldeploy.smoke.run

    aws = admin_clients(moto)
    smoke = Smoke(aws)
    monkeypatch.setattr(nfldeploy.smoke.run, "smoke_url", smoke)
    monkeypatch.chdir(tmp)
    values: dict[str, Any] = {
        "lambda_endpoint": endpoint,
        "allow_unauthenticated": True,
        "lambda_keep_versions": 2,  # fewer versions to read after each schedule; retirement under faults too
    }
    if endpoint == "function_url":
        values["function_url_auth"] = "NONE"  # the widest the settings allow: grants to "*" on live only
    services = []
    for role in ("faulted", "twin"):
        name = f"flt-{role[:4]}-{uuid.uuid4().hex[:8]}"
        settings = settings_for(name, **values)
        bootstrap(aws, settings)
        services.append(Service(settings, recorded_image(aws.ecr, settings.repository)))
    proxy = FaultProxy(moto).start()
    found = Harness(aws, proxy, smoke, services[0], services[1], endpoint)
    for service in services if deployed else ():
        first = found.run(service, None)
        assert first.exit_code == 0, first.output
    return found
