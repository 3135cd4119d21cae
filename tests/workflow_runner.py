"""Runs a rendered GitHub Actions workflow on this machine, the way a runner would: jobs in ``needs`` order,
each in a fresh workspace; ``run:`` steps in ``bash --noprofile --norc -eo pipefail`` with the workflow's,
job's and step's env; ``${{ }}`` expressions and ``if:`` conditions evaluated (``success()``, ``failure()``,
``always()``, ``steps.<id>.outcome``, ``inputs``, ``vars``, ``secrets``, ``env``). The ``uses:`` steps are
replaced by their local equivalents: checkout copies the repository, setup-python puts a venv first on PATH,
the artifact actions copy to and from a folder, and the cloud auth actions export the fakes' credentials.
An action it does not know fails the run (nothing is silently skipped)."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


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
    inputs: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def run(self, workflow: dict[str, Any]) -> dict[str, JobResult]:
        """Every job, in ``needs`` order; a job whose needs did not all succeed is skipped."""
        results: dict[str, JobResult] = {}
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
                    results[name] = self._job(name, job, workflow.get("env") or {})
        return results

    def _job(self, name: str, job: dict[str, Any], workflow_env: dict[str, Any]) -> JobResult:
        workspace = self.workdir / "jobs" / name
        shutil.rmtree(workspace, ignore_errors=True)
        workspace.mkdir(parents=True)
        env = dict(self.base_env)
        contexts: dict[str, Any] = {"inputs": self.inputs, "vars": self.vars, "secrets": self.secrets}
        for key, value in {**workflow_env, **(job.get("env") or {})}.items():
            env[key] = substitute(str(value), {**contexts, "env": env})
        result = JobResult(name, "success", workspace)
        steps: dict[str, dict[str, str]] = {}
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
            outcome, output = self._step(step, workspace, step_env, env, scope)
            result.steps.append(StepResult(label, outcome, output))
            if "id" in step:
                steps[step["id"]] = {"outcome": outcome, "conclusion": outcome}
            if outcome == "failure":
                result.conclusion = "failure"
        return result

    def _step(
        self,
        step: dict[str, Any],
        workspace: Path,
        step_env: dict[str, str],
        job_env: dict[str, str],
        scope: dict[str, Any],
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
        action = step["uses"].split("@", 1)[0]
        inputs = {key: substitute(str(value), scope) for key, value in (step.get("with") or {}).items()}
        if action == "actions/checkout":
            shutil.copytree(self.repository, workspace, dirs_exist_ok=True)
        elif action == "actions/setup-python":
            job_env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{job_env['PATH']}"
            job_env["VIRTUAL_ENV"] = str(self.venv)
        elif action == "actions/upload-artifact":
            store = self.workdir / "artifacts" / inputs["name"]
            for pattern in filter(None, (line.strip() for line in inputs["path"].splitlines())):
                for found in glob.glob(pattern, root_dir=workspace):
                    source, target = workspace / found, store / found
                    if source.is_dir():
                        shutil.copytree(source, target, dirs_exist_ok=True)
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(source, target)
        elif action == "actions/download-artifact":
            store = self.workdir / "artifacts" / inputs["name"]
            if not store.is_dir():
                return "failure", f"artifact {inputs['name']!r} not found"
            shutil.copytree(store, workspace, dirs_exist_ok=True)
        elif action == "google-github-actions/auth":
            job_env.update(self.gcp_env)
        elif action == "aws-actions/configure-aws-credentials":
            job_env.update({**self.aws_env, "AWS_REGION": inputs.get("aws-region", "")})
        else:
            return "failure", f"no local equivalent for the action {step['uses']}"
        return "success", ""


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)
