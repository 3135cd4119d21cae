"""Seeded fault schedules for Cloud Run deploys: the real CLI (in process, typer's CliRunner) and the real
run_v2 client against the Cloud Run fake behind a FaultProxy (tests/faults.py), and the invariants checked
after each schedule (issue 33):

- traffic points only at a revision that passed its readiness (and, for a canary, its check) or at what
  served before, at every moment a sampler saw and at the end;
- the command exits 0, 3 (check) or 4 (remote) with one ``error:`` message naming the call, no traceback;
- re-running the deploy with the faults off ends in the state of a twin service that took the same steps
  without faults (traffic, IAM, template, revisions compared by what they hold) with no second canary tag;
- no allUsers binding the settings did not ask for, at any moment;
- the command's time stays under the call budget (CallLimits.budget per call it made).

The revisions run a light image (a small HTTP server answering the probes and /version with the revision's
name), built once from the local base image and pushed to the local registry: ``light_images``.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fake_cloudrun import FakeCloudRun
from faults import KINDS, Call, FaultProxy, Schedule, record_figure
from services import base_image

PROJECT, REGION = "nfl-faults", "us-central1"
CALL_TIMEOUT = 1.5  # NFLDEPLOY_CLOUD_CALL_TIMEOUT in the schedules: a slow fault holds its answer past it
SLOW_DELAY = 2.5
ATTEMPTS = 3
#: What can go wrong in one schedule: a proxy fault (faults.KINDS), the new revision failing its startup
#: probe (the operation ends in error), or the canary failing its check through the tag URL.
HARNESS_KINDS = (*KINDS, "readiness", "canary_check")

SERVER = """
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = json.dumps({"revision": os.environ.get("K_REVISION", ""), "build": BUILD}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
"""


def light_images(docker_client: Any, registry_address: str, builds: tuple[str, ...]) -> Iterator[list[str]]:
    """One light image per build name, pushed by digest; removed locally at the end."""
    import docker

    from nfldeploy.image.push import push_image

    tags, pushed = [], []
    try:
        for build in builds:
            with tempfile.TemporaryDirectory() as context:
                Path(context, "server.py").write_text(f"BUILD = {build!r}\n" + SERVER)
                Path(context, "Dockerfile").write_text(
                    f'FROM {base_image()}\nCOPY server.py /server.py\nCMD ["python3", "/server.py"]\n'
                )
                tag = f"nfldeploy-test/light:{build}"
                docker_client.images.build(path=context, tag=tag, rm=True)
                tags.append(tag)
            reference, digest = push_image(docker_client, tag, registry_address)
            tags.append(reference)
            pushed.append(f"{reference.rsplit(':', 1)[0]}@{digest}")
        yield pushed
    finally:
        for tag in tags:
            with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
                docker_client.images.remove(tag, force=True)


@dataclass
class Outcome:
    exit_code: int
    output: str
    seconds: float
    calls: list[Call]


@dataclass(frozen=True)
class Step:
    """One deploy: the image, the canary share (None: all at once), whether allUsers may invoke."""

    image: str
    canary: int | None = None
    public: bool = False


@dataclass
class Rig:
    """The fake, the proxy in front of it, and the environment the CLI runs with."""

    fake: FakeCloudRun
    proxy: FaultProxy
    monkeypatch: Any
    tmp: Path
    check_fails: bool = False  # the next canary check fails (exit 3)
    checked: list[str] = field(default_factory=list)  # the revisions the canary checks reached

    def __post_init__(self) -> None:
        import nfldeploy.smoke.run

        rig = self

        class Report:
            def __init__(self, failed: str | None) -> None:
                self.failed = failed

            def raise_for_failures(self) -> None:
                from nfldeploy.errors import SmokeTestError

                if self.failed:
                    raise SmokeTestError(self.failed)

        def smoke_url(url: str, *args: Any, **kwargs: Any) -> Report:
            """A recorded check of which revision the tag URL reaches (failing when the schedule says)."""
            reached = httpx.get(url + "/version", timeout=10).json()["revision"]
            rig.checked.append(reached)
            failing, rig.check_fails = rig.check_fails, False
            return Report(f"golden outputs differ at {url}" if failing else None)

        self.monkeypatch.setattr(nfldeploy.smoke.run, "smoke_url", smoke_url)
        for key, value in {
            "NFLDEPLOY_CLOUDRUN_ENDPOINT": self.proxy.endpoint,
            "NFLDEPLOY_PROJECT": PROJECT,
            "NFLDEPLOY_REGION": REGION,
            "NFLDEPLOY_CLOUD_CALL_TIMEOUT": str(CALL_TIMEOUT),
            "NFLDEPLOY_CLOUD_CALL_ATTEMPTS": str(ATTEMPTS),
        }.items():
            self.monkeypatch.setenv(key, value)

    def deploy(self, service: str, step: Step, schedule: Schedule | None = None) -> Outcome:
        from typer.testing import CliRunner

        from nfldeploy.cli.app import app

        args = ["deploy", "--target", "cloudrun", "--image", step.image, "--export-dir", str(self.tmp)]
        args += ["--set", f"service_name={service}", "--set", "memory=1Gi"]
        args += ["--allow-unauthenticated" if step.public else "--no-allow-unauthenticated"]
        if step.canary is not None:
            args += ["--canary", str(step.canary)]
        self.proxy.reset(schedule)
        started = time.monotonic()
        result = CliRunner().invoke(app, args, catch_exceptions=True)
        seconds = time.monotonic() - started
        output = result.stdout + result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            output += "".join(traceback.format_exception(result.exception))
        calls = list(self.proxy.calls)
        self.proxy.reset()
        return Outcome(result.exit_code, output, seconds, calls)

    def full(self, service: str) -> str:
        return f"projects/{PROJECT}/locations/{REGION}/services/{service}"

    def remove_containers(self, *services: str) -> None:
        names = {self.full(s) for s in services}
        for revision in list(self.fake.revisions.values()):
            if revision.service in names and revision.container is not None:
                with contextlib.suppress(Exception):
                    revision.container.remove(force=True)
                revision.container = None


# -- what a service holds, named independently of its service ------------------------------------------
def state(fake: FakeCloudRun, full: str) -> dict[str, Any]:
    """Traffic, tags, template, IAM and previous-revision annotation of ``full``, with the service's name
    and revision names replaced by what the revisions hold (a twin's state compares equal)."""
    service_id = full.rsplit("/", 1)[1]
    with fake.lock:
        service = json.loads(json.dumps(fake.services.get(full) or {}))
        policy = json.loads(json.dumps(fake.policies.get(full) or {}))
        specs = {name: rev.spec for name, rev in fake.revisions.items() if rev.service == full}

    def held(name: str) -> str:
        name = name.rsplit("/", 1)[-1]
        return specs.get(name, f"unknown:{name}").replace(service_id, "SVC")

    template = {k: v for k, v in (service.get("template") or {}).items() if k != "revision"}
    annotations = service.get("annotations") or {}
    return {
        "traffic": sorted(
            (held(s["revision"]), s["percent"], s.get("tag", "")) for s in service.get("trafficStatuses", [])
        ),
        "template": json.dumps(template, sort_keys=True).replace(service_id, "SVC"),
        "revision": held(service.get("template", {}).get("revision", "")),
        "bindings": sorted(
            (b["role"], tuple(sorted(b.get("members", [])))) for b in policy.get("bindings", [])
        ),
        "previous": held(annotations.get("nfldeploy.io/previous-revision", "")) if annotations else "",
        "labels": service.get("labels"),
    }


class Sampler:
    """Watches one service while a command runs: every traffic share on a revision that is not ready (or a
    canary the check refused), and every allUsers binding the settings did not ask for."""

    def __init__(self, fake: FakeCloudRun, full: str, public: bool, refused: Callable[[], set[str]]) -> None:
        self.fake, self.full, self.public, self.refused = fake, full, public, refused
        self.violations: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
        self.check()

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            self.check()

    def check(self) -> None:
        with self.fake.lock:
            service = self.fake.services.get(self.full) or {}
            statuses = list(service.get("trafficStatuses", []))
            ready = {name for name, rev in self.fake.revisions.items() if rev.ready}
            public = self.fake.public(self.full)
        for share in statuses:
            name = share["revision"].rsplit("/", 1)[-1]
            if share["percent"] and (name not in ready or name in self.refused()):
                self._add(f"traffic {share['percent']} % on {name}, not ready or refused by its check")
        if public and not self.public:
            self._add("allUsers may invoke although the settings do not allow it")

    def _add(self, violation: str) -> None:
        if violation not in self.violations:
            self.violations.append(violation)


ERROR_LINE = re.compile(r"^error: (.+)$", re.MULTILINE)


def message_violations(outcome: Outcome, faults: list[Call], check_failed: bool) -> list[str]:
    """A failed command exits 3 (its check) or 4 (remote) with one error line naming the call; no
    traceback whatever the exit."""
    found = []
    if "Traceback" in outcome.output or "internal error" in outcome.output:
        found.append(f"a traceback or internal error: {outcome.output[-600:]}")
    if outcome.exit_code == 0:
        if check_failed:
            found.append("the canary's check failed but the command exited 0")
        return found
    wanted = 3 if check_failed else 4
    if outcome.exit_code != wanted:
        found.append(f"exit {outcome.exit_code}, not {wanted}: {outcome.output[-400:]}")
    errors = ERROR_LINE.findall(outcome.output)
    if len(errors) != 1:
        found.append(f"{len(errors)} error lines, not one: {outcome.output[-400:]}")
    elif not check_failed and not re.search(r"Cloud Run [\w ]+ (for|of) \S+ failed", errors[0]):
        found.append(f"the error names no call: {errors[0]}")
    return found


@dataclass(frozen=True)
class Scenario:
    """One seed's steps: the state before (``setup``) and the deploy the faults hit (``step``)."""

    setup: Step
    step: Step
    kind: str  # a HARNESS_KINDS entry: what goes wrong

    @classmethod
    def of(cls, seed: int, images: list[str]) -> Scenario:
        canary = 20 if seed % 2 else None
        public = bool(seed // 2 % 2)
        kinds = [k for k in HARNESS_KINDS if k != "canary_check" or canary]
        kind = kinds[(seed // 2 + (5 if canary else 0)) % len(kinds)]  # any 10 seeds in a row: every kind
        return cls(Step(images[0], None, not public), Step(images[1], canary, public), kind)


@dataclass
class Twin:
    """A service that took a scenario's steps without faults: its state and the calls of its step."""

    state: dict[str, Any]
    calls: list[Call]


def run_schedule(rig: Rig, seed: int, images: list[str], twins: dict[tuple[Any, ...], Twin]) -> list[str]:
    """One seeded schedule; returns its violations (and records its figure)."""
    scenario = Scenario.of(seed, images)
    key = (scenario.setup, scenario.step)
    if key not in twins:
        twin = f"tw{seed}-{random.Random(seed).randrange(16**4):04x}"
        setup = rig.deploy(twin, scenario.setup)
        assert setup.exit_code == 0, setup.output
        step = rig.deploy(twin, scenario.step)
        assert step.exit_code == 0, step.output
        twins[key] = Twin(state(rig.fake, rig.full(twin)), step.calls)
        rig.remove_containers(twin)
    twin_state = twins[key]
    service = f"ft{seed}-{random.Random(-seed).randrange(16**4):04x}"
    full = rig.full(service)
    setup = rig.deploy(service, scenario.setup)
    assert setup.exit_code == 0, setup.output
    with rig.fake.lock:
        before = {s["revision"] for s in rig.fake.services[full]["trafficStatuses"] if s["percent"]}

    schedule = None
    if scenario.kind in KINDS:
        admits: Callable[[Call], bool] = (
            (lambda c: c.mutating) if scenario.kind == "after" else (lambda c: True)
        )
        schedule = Schedule.seeded(
            seed, twin_state.calls, kinds=(scenario.kind,), admits=admits, delay=SLOW_DELAY
        )
    rig.fake.fail_readiness = 1 if scenario.kind == "readiness" else 0
    rig.check_fails = scenario.kind == "canary_check"
    refused: set[str] = set()
    with Sampler(rig.fake, full, scenario.step.public or scenario.setup.public, lambda: refused) as sampler:
        outcome = rig.deploy(service, scenario.step, schedule)
    rig.fake.fail_readiness, rig.check_fails = 0, False
    faults = [c for c in outcome.calls if c.fault]
    if scenario.kind == "canary_check":
        refused = {rig.checked[-1]} if rig.checked else set()
    violations = list(sampler.violations)
    if scenario.kind in ("readiness", "canary_check") and outcome.exit_code == 0:
        violations.append(f"{scenario.kind} failed but the deploy exited 0")
    violations += message_violations(outcome, faults, scenario.kind == "canary_check")
    with rig.fake.lock:
        now = rig.fake.services[full]["trafficStatuses"]
        ready = {n for n, r in rig.fake.revisions.items() if r.ready}
    for share in now:
        name = share["revision"]
        if share["percent"] and name not in before and (name not in ready or name in refused):
            violations.append(
                f"after the run: {share['percent']} % on {name}, neither checked nor serving before"
            )
    if not (scenario.step.public or scenario.setup.public) and rig.fake.public(full):
        violations.append("allUsers binding left although the settings do not allow it")
    budget = ATTEMPTS * CALL_TIMEOUT + 3.0 + SLOW_DELAY  # per call: attempts, backoff (1 + 2 s), a slow one
    if outcome.seconds > budget * max(1, len(outcome.calls)):
        violations.append(f"took {outcome.seconds:.1f} s for {len(outcome.calls)} calls")

    rerun_seconds = None
    # the same deploy again, faults off: it converges on the twin's state
    with Sampler(rig.fake, full, scenario.step.public or scenario.setup.public, set) as resampler:
        rerun = rig.deploy(service, scenario.step)
    rerun_seconds = rerun.seconds
    violations += resampler.violations
    if not scenario.step.public and rig.fake.public(full):
        violations.append("allUsers binding left after the re-run although the settings do not allow it")
    if rerun.exit_code != 0:
        violations.append(f"the re-run exited {rerun.exit_code}: {rerun.output[-400:]}")
    else:
        got, wanted = state(rig.fake, full), twin_state.state
        for part in wanted:
            if got[part] != wanted[part]:
                violations.append(f"after the re-run {part} differs: {got[part]!r} != {wanted[part]!r}")
        tags = [s.get("tag") for s in rig.fake.services[full]["trafficStatuses"] if s.get("tag")]
        if len(tags) != len(set(tags)):
            violations.append(f"a second copy of a tag: {tags}")
    rig.remove_containers(service)
    record_figure("cloudrun", seed, faults, outcome.exit_code, outcome.seconds, violations, rerun_seconds)
    errors = ERROR_LINE.findall(outcome.output)
    return [
        f"seed {seed} ({scenario.kind}, canary {scenario.step.canary}, faults {[f'{c.fault} {c.operation}' for c in faults]}, "
        f"exit {outcome.exit_code} {errors}): {v}"
        for v in violations
    ]
