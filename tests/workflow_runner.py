"""Runs a rendered GitHub Actions workflow on this machine, the way a runner would: jobs in ``needs`` order,
each in a fresh workspace; ``run:`` steps in ``bash --noprofile --norc -eo pipefail`` with the workflow's,
job's and step's env; ``${{ }}`` expressions and ``if:`` conditions evaluated (``success()``, ``failure()``,
``always()``, ``steps.<id>.outcome``, ``inputs``, ``vars``, ``secrets``, ``env``). The ``uses:`` steps are
replaced by their local equivalents: checkout copies the repository, setup-python puts a venv first on PATH,
the artifact actions copy to and from a folder, google-github-actions/auth exports the fake's endpoint, and
configure-aws-credentials assumes its ``role-to-assume`` through moto's STS with a GitHub-shaped OIDC token.
An action it does not know fails the run (nothing is silently skipped), and so does an action referenced by
anything but a full commit SHA, as on GitHub with the policy "Require actions to be pinned to a full-length
commit SHA" (https://github.blog/changelog/2025-08-15-github-actions-policy-now-supports-blocking-and-sha-pinning-actions/;
a tag or branch can be moved to other code:
https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions#using-third-party-actions).

As strict as GitHub where the workflow depends on it:
- ``permissions``: a job's own block replaces the workflow's, and what a block leaves out is ``none``; the
  cloud auth actions fail without ``id-token: write``, since GitHub gives the job no OIDC token then
  (https://docs.github.com/en/actions/writing-workflows/workflow-syntax-for-github-actions#permissions,
  https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#adding-permissions-settings).
- ``$GITHUB_OUTPUT`` -> ``steps.<id>.outputs`` -> the job's ``outputs`` -> ``needs.<job>.outputs``, and
  ``needs`` holds only the job's direct needs.
- upload-artifact stores the paths relative to their least common ancestor, and download-artifact extracts
  into its ``path`` (default: the workspace) (https://github.com/actions/upload-artifact#upload-an-entire-directory)."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
#: ``owner/repo@<40 hex digits>``: the only ``uses:`` form the runner takes.
PINNED = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+@[0-9a-f]{40}")
#: Actions that log in with the job's OIDC token.
OIDC_ACTIONS = {"google-github-actions/auth", "aws-actions/configure-aws-credentials"}


class Context(dict[str, Any]):
    """A context object: attribute access, missing keys are '' (GitHub's null)."""

    def __getattr__(self, name: str) -> Any:
        value = self.get(name, "")
        return Context(value) if isinstance(value, dict) else value


def evaluate(expression: str, contexts: dict[str, Any]) -> Any:
    """One expression of the subset the rendered workflow uses (literals, contexts, ==, !=, ||, &&, !,
    status functions)."""
    python = re.sub(r"!(?!=)", " not ", expression.replace("||", " or ").replace("&&", " and "))
    names = {name: Context(value) if isinstance(value, dict) else value for name, value in contexts.items()}
    return eval(python, {"__builtins__": {}}, names)  # the workflow is our own rendered file


def substitute(text: str, contexts: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        value = evaluate(match.group(1), contexts)
        return "" if value is None else str(value)

    return EXPRESSION.sub(replace, text)


@dataclass
class StepResult:
    name: str
    outcome: str  # success, failure, skipped
    output: str = ""


@dataclass
class JobResult:
    name: str
    conclusion: str
    workspace: Path
    steps: list[StepResult] = field(default_factory=list)
    permissions: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)


@dataclass
class LocalRunner:
    """What the ``uses:`` steps become here."""

    repository: Path  # checkout copies it
    venv: Path  # setup-python: its bin/ goes first on PATH
    workdir: Path  # job workspaces and the artifact store
    base_env: dict[str, str]  # the runner's own environment
    gcp_env: dict[str, str] = field(default_factory=dict)  # what google-github-actions/auth exports
    aws_env: dict[str, str] = field(default_factory=dict)  # what configure-aws-credentials exports
    github_repository: str = "nfl-team/nfl-training"  # owner/repo, as the OIDC token's claims name it
    github_ref: str = "refs/heads/main"  # the run's ref (a push to main)
    oidc_subject: str | None = None  # the OIDC token's sub claim; None: GitHub's for the job (subject())
    inputs: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    workflow_permissions: Any = field(default=None, init=False)

    def run(self, workflow: dict[str, Any], done: dict[str, JobResult] | None = None) -> dict[str, JobResult]:
        """Every job, in ``needs`` order; a job whose needs did not all succeed is skipped. Jobs in ``done``
        are not run again: their results (outputs) and the artifacts they left in ``workdir`` stand, as when
        GitHub re-runs a failed job of a run."""
        self.workflow_permissions = workflow.get("permissions", {})
        results: dict[str, JobResult] = dict(done or {})
        jobs = dict(workflow["jobs"])
        while len(results) < len(jobs):
            ready = [
                name
                for name, job in jobs.items()
                if name not in results and all(n in results for n in _needs(job))
            ]
            assert ready, f"the jobs' needs form a cycle: {sorted(set(jobs) - set(results))}"
            for name in ready:
                job = jobs[name]
                if any(results[n].conclusion != "success" for n in _needs(job)):
                    results[name] = JobResult(name, "skipped", self.workdir)
                else:
                    needs = {
                        n: {"result": results[n].conclusion, "outputs": results[n].outputs}
                        for n in _needs(job)
                    }
                    results[name] = self._job(name, job, workflow.get("env") or {}, needs)
        return results

    def _job(
        self, name: str, job: dict[str, Any], workflow_env: dict[str, Any], needs: dict[str, Any]
    ) -> JobResult:
        workspace = self.workdir / "jobs" / name
        shutil.rmtree(workspace, ignore_errors=True)
        workspace.mkdir(parents=True)
        env = dict(self.base_env)
        contexts: dict[str, Any] = {
            "inputs": self.inputs,
            "vars": self.vars,
            "secrets": self.secrets,
            "needs": needs,
        }
        started = time.monotonic()
        for key, value in {**workflow_env, **(job.get("env") or {})}.items():
            env[key] = substitute(str(value), {**contexts, "env": env})
        result = JobResult(
            name, "success", workspace, permissions=_permissions(job, self.workflow_permissions)
        )
        steps: dict[str, dict[str, Any]] = {}
        # the job's environment: a name, or {name, url} (workflow syntax, jobs.<job_id>.environment)
        named = job.get("environment")
        named = named.get("name") if isinstance(named, dict) else named
        environment = substitute(str(named), {**contexts, "env": env}) if named else None
        for index, step in enumerate(job["steps"]):
            label = step.get("name") or step.get("uses") or f"step {index}"
            failed = result.conclusion == "failure"
            status = {
                "success": lambda failed=failed: not failed,
                "failure": lambda failed=failed: failed,
                "always": lambda: True,
                "cancelled": lambda: False,
            }
            condition = step.get("if", "success()")
            scope = {**contexts, "env": env, "steps": steps, **status}
            if not evaluate(EXPRESSION.sub(r"\1", str(condition)), scope):
                result.steps.append(StepResult(label, "skipped"))
                if "id" in step:
                    steps[step["id"]] = {"outcome": "skipped", "conclusion": "skipped"}
                continue
            step_env = dict(env)
            for key, value in (step.get("env") or {}).items():
                step_env[key] = substitute(str(value), scope)
            output_file = workspace.parent / f"{name}-{index}.output"
            output_file.write_text("")
            step_env["GITHUB_OUTPUT"] = str(output_file)
            outcome, output = self._step(
                step, workspace, step_env, env, scope, result.permissions, environment
            )
            result.steps.append(StepResult(label, outcome, output))
            if "id" in step:
                outputs = dict(
                    line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
                )
                steps[step["id"]] = {"outcome": outcome, "conclusion": outcome, "outputs": outputs}
            if outcome == "failure":
                result.conclusion = "failure"
        scope = {**contexts, "steps": steps}
        result.outputs = {
            key: substitute(str(value), scope) for key, value in (job.get("outputs") or {}).items()
        }
        result.seconds = round(time.monotonic() - started, 1)
        return result

    def _step(
        self,
        step: dict[str, Any],
        workspace: Path,
        step_env: dict[str, str],
        job_env: dict[str, str],
        scope: dict[str, Any],
        permissions: dict[str, str],
        job_environment: str | None = None,
    ) -> tuple[str, str]:
        if "run" in step:
            script = substitute(step["run"], scope)
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=workspace,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=1200,
            )
            return ("success" if done.returncode == 0 else "failure"), done.stdout + done.stderr
        if not PINNED.fullmatch(step["uses"]):
            return "failure", f"{step['uses']}: not pinned to a full-length commit SHA (the runner's policy)"
        action = step["uses"].split("@", 1)[0]
        inputs = {key: substitute(str(value), scope) for key, value in (step.get("with") or {}).items()}
        if action == "actions/checkout":
            shutil.copytree(self.repository, workspace, dirs_exist_ok=True)
        elif action == "actions/setup-python":
            job_env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{job_env['PATH']}"
            job_env["VIRTUAL_ENV"] = str(self.venv)
        elif action == "actions/upload-artifact":
            store = self.workdir / "artifacts" / inputs["name"]
            patterns = filter(None, (line.strip() for line in inputs["path"].splitlines()))
            found = [Path(f) for pattern in patterns for f in glob.glob(pattern, root_dir=workspace)]
            if not found:
                return "failure", f"no files found for the artifact {inputs['name']!r}"
            # the least common ancestor of the paths is the artifact's root (a lone file: its folder)
            root = Path(os.path.commonpath([str(f) for f in found]))
            root = root.parent if (workspace / root).is_file() else root
            for relative in found:
                source, target = workspace / relative, store / relative.relative_to(root)
                if source.is_dir():
                    shutil.copytree(source, target, dirs_exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)
        elif action == "actions/download-artifact":
            store = self.workdir / "artifacts" / inputs["name"]
            if not store.is_dir():
                return "failure", f"artifact {inputs['name']!r} not found"
            shutil.copytree(store, workspace / inputs.get("path", "."), dirs_exist_ok=True)
        elif action in OIDC_ACTIONS and permissions.get("id-token") != "write":
            return "failure", f"{action}: no OIDC token for this job (it lacks permissions: id-token: write)"
        elif action == "google-github-actions/auth":
            job_env.update(self.gcp_env)
        elif action == "aws-actions/configure-aws-credentials":
            return self._assume_role(inputs, job_env, self.subject(job_environment))
        else:
            return "failure", f"no local equivalent for the action {step['uses']}"
        return "success", ""

    def subject(self, environment: str | None) -> str:
        """The ``sub`` claim GitHub puts in a job's OIDC token: ``repo:<owner>/<repo>:environment:<name>`` for a
        job with an ``environment``, else ``repo:<owner>/<repo>:ref:<ref>`` (a push or dispatch run)
        (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#example-subject-claims);
        ``oidc_subject`` when set."""
        if self.oidc_subject is not None:
            return self.oidc_subject
        if environment:
            return f"repo:{self.github_repository}:environment:{environment}"
        return f"repo:{self.github_repository}:ref:{self.github_ref}"

    def _assume_role(
        self, inputs: dict[str, str], job_env: dict[str, str], subject: str | None = None
    ) -> tuple[str, str]:
        """What configure-aws-credentials does with ``role-to-assume`` and the job's OIDC token: STS
        ``AssumeRoleWithWebIdentity`` (here: moto's, at ``aws_env``'s AWS_ENDPOINT_URL), then the session's
        credentials and region exported to the job's later steps
        (https://github.com/aws-actions/configure-aws-credentials#oidc). Without a role (and no keys given) the
        action fails, as it does on GitHub. The token carries GitHub's claims for this job
        (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#understanding-the-oidc-token)."""
        import base64
        import json

        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        role, region = inputs.get("role-to-assume", ""), inputs.get("aws-region", "")
        if not role:
            return "failure", "configure-aws-credentials: Credentials could not be loaded (no role-to-assume)"
        claims = {
            "iss": "https://token.actions.githubusercontent.com",
            "aud": inputs.get("audience", "sts.amazonaws.com"),
            "sub": subject if subject is not None else self.subject(None),
        }
        token = ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in ({"alg": "RS256", "typ": "JWT"}, claims, {"signature": "local"})
        )
        sts = boto3.client(
            "sts",
            endpoint_url=self.aws_env.get("AWS_ENDPOINT_URL"),
            region_name=region or "us-east-1",
            config=Config(signature_version=UNSIGNED),  # AssumeRoleWithWebIdentity is not signed
        )
        try:
            session = sts.assume_role_with_web_identity(
                RoleArn=role, RoleSessionName="GitHubActions", WebIdentityToken=token
            )["Credentials"]
        except (BotoCoreError, ClientError) as exc:
            return "failure", f"configure-aws-credentials: {exc}"
        job_env.update(
            {
                **self.aws_env,
                "AWS_ACCESS_KEY_ID": session["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
                "AWS_SESSION_TOKEN": session["SessionToken"],
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
            }
        )
        return "success", f"assumed {role}"


def _permissions(job: dict[str, Any], workflow: Any) -> dict[str, str]:
    """The job's own block, else the workflow's; ``write-all`` / ``read-all`` spelled out for id-token."""
    granted = job.get("permissions", workflow) or {}
    if isinstance(granted, str):
        return {"id-token": "write" if granted == "write-all" else "none"}
    return dict(granted)


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)
