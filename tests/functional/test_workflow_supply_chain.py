"""The rendered workflow's supply chain (issue 31 item 10): every action pinned by a full commit SHA from
nfldeploy's table (render refuses any other), every job's install hash-locked (``pip --require-hashes`` from
the requirement files render writes beside the workflow: nfldeploy's lock, then its wheel by sha256), a URL
wheel only with its sha256, and zizmor (PyPI; ``--offline``) finding nothing at medium or above."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from manifests import sample_manifest
from nfldeploy import locks
from nfldeploy.cli.app import app
from nfldeploy.errors import ConfigError
from nfldeploy.render import actions, views
from nfldeploy.render.files import render_all
from nfldeploy.settings import DeploySettings
from services import tool, unavailable
from workflow_runner import LocalRunner

WORKFLOW = "github/workflows/nfldeploy.yml"
HASHED = re.compile(r"^\S+ --hash=sha256:[0-9a-f]{64}$")
URL = "https://example.com/dist/nfldeploy-0.1.0-py3-none-any.whl"


def _inputs(**settings: Any) -> views.Inputs:
    return views.Inputs(
        DeploySettings(registry="us-docker.pkg.dev/proj/nfl", project="proj", **settings),
        sample_manifest(),
        "us-docker.pkg.dev/proj/nfl/nfldeploy/nfl-trajectory:07ddda2891bd-onnx",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/nfl-trajectory:07ddda2891bd-onnx-lambda",
    )


@pytest.fixture(scope="module")
def vendored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default rendering: nfldeploy's own wheel vendored beside the workflow."""
    out = tmp_path_factory.mktemp("vendored")
    render_all(_inputs(), out, ["github"])
    return out


@pytest.fixture(scope="module")
def from_url(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("url")
    render_all(_inputs(nfldeploy_wheel=f"{URL}#sha256={'ab' * 32}"), out, ["github"])
    return out


def _uses(out: Path) -> list[str]:
    workflow = yaml.safe_load((out / WORKFLOW).read_text())
    return [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]


def _installs(out: Path) -> dict[str, list[list[str]]]:
    """Each job's pip install commands, as words."""
    workflow = yaml.safe_load((out / WORKFLOW).read_text())
    return {
        name: [shlex.split(step["run"]) for step in job["steps"] if "pip install" in step.get("run", "")]
        for name, job in workflow["jobs"].items()
    }


# -- actions by commit SHA ---------------------------------------------------------------------------------


def test_every_action_is_pinned_by_the_tables_commit_with_its_tag_as_the_comment(vendored: Path) -> None:
    uses = _uses(vendored)
    assert len(uses) == 14
    text = (vendored / WORKFLOW).read_text()
    for reference in uses:
        action, _, sha = reference.partition("@")
        assert sha == actions.PINS[action].sha, reference
        assert f"uses: {reference}  # {actions.PINS[action].tag}" in text
    # the table holds what the template uses, and nothing it does not
    assert {reference.split("@")[0] for reference in uses} == set(actions.PINS)
    assert not re.search(r"@v\d", text)


def test_render_refuses_an_action_the_table_does_not_know(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, example_export: Path
) -> None:
    monkeypatch.delitem(actions.PINS, "aws-actions/configure-aws-credentials")
    with pytest.raises(
        ConfigError, match="aws-actions/configure-aws-credentials, which nfldeploy has no pin"
    ):
        render_all(_inputs(), tmp_path / "lib", ["github"])
    result = CliRunner().invoke(
        app, ["render", str(example_export), "--only", "github", "--out", str(tmp_path / "cli")]
    )
    assert result.exit_code == 1, result.output
    assert "aws-actions/configure-aws-credentials" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "cli" / WORKFLOW).exists()


@pytest.mark.parametrize(
    "line",
    [
        "      - uses: actions/checkout@v4",  # a tag
        "      - uses: actions/checkout@main  # v4.2.2",  # a branch
        f"      - uses: actions/checkout@{actions.PINS['actions/checkout'].sha}",  # no tag comment
        f"      - uses: actions/checkout@{actions.PINS['actions/checkout'].sha}  # v9",  # the wrong tag
        f"        uses: someone/else@{'0' * 40}  # v1",  # an action the table does not know
    ],
)
def test_a_uses_line_not_printed_from_the_table_is_refused(line: str) -> None:
    with pytest.raises(ConfigError, match="not an action pinned by nfldeploy's table"):
        actions.check_pinned(f"jobs:\n  a:\n    steps:\n{line}\n")


def test_a_pin_is_a_full_commit_sha() -> None:
    with pytest.raises(ValueError, match="not a full commit SHA"):
        actions.Pin("11bd719", "v4.2.2")


def test_the_runner_refuses_an_action_not_pinned_by_a_full_sha(tmp_path: Path) -> None:
    """tests/workflow_runner.py, as GitHub with its SHA-pinning policy: a regression to a tag fails the
    workflow test instead of passing unseen."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "marker").write_text("x")
    runner = LocalRunner(tmp_path / "repo", tmp_path / "venv", tmp_path / "work", {"PATH": "/usr/bin:/bin"})
    sha = actions.PINS["actions/checkout"].sha

    def run(uses: str) -> Any:
        workflow = {"jobs": {"a": {"steps": [{"uses": uses}, {"run": "test -f marker"}]}}}
        return runner.run(workflow)["a"]

    pinned = run(f"actions/checkout@{sha}")
    assert pinned.conclusion == "success", pinned.steps
    for reference in ("actions/checkout@v4", f"actions/checkout@{sha[:12]}", "actions/checkout"):
        refused = run(reference)
        assert refused.conclusion == "failure"
        assert "not pinned to a full-length commit SHA" in refused.steps[0].output


# -- hash-locked installs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rendering", ["vendored", "from_url"])
def test_every_job_installs_only_from_a_hash_locked_file_render_wrote(
    rendering: str, request: pytest.FixtureRequest
) -> None:
    out: Path = request.getfixturevalue(rendering)
    installs = _installs(out)
    assert {job: len(commands) for job, commands in installs.items()} == {
        "test": 1,
        "export": 1,
        "release": 1,
    }
    wanted = {
        "test": "requirements-export.txt",
        "export": "requirements-export.txt",
        "release": "requirements-release.txt",
    }
    for job, (words,) in installs.items():
        assert words[:2] == ["pip", "install"] and "--require-hashes" in words
        # nothing named on the command line but options and the requirements file: every file is hashed
        options = {"--require-hashes", "--only-binary=:all:", "--extra-index-url", "--requirement"}
        assert [w for w in words[2:] if w.startswith("-")] == [w for w in words[2:] if w in options]
        path = words[words.index("--requirement") + 1]
        assert path == f".github/nfldeploy/{wanted[job]}"
        assert (out / "github" / path.removeprefix(".github/")).is_file()
    assert "--extra-index-url" not in installs["release"][0]  # the release job: PyPI's files only


@pytest.mark.parametrize("rendering", ["vendored", "from_url"])
def test_the_requirement_files_are_the_locks_and_the_wheel_by_its_sha256(
    rendering: str, request: pytest.FixtureRequest
) -> None:
    out: Path = request.getfixturevalue(rendering)
    text = (out / WORKFLOW).read_text()
    digest = re.search(r'echo "([0-9a-f]{64})  nfldeploy-wheel/', text)
    assert digest, "the test job checks the wheel against a pinned sha256"
    for name, (set_name, extra) in {
        "requirements-export.txt": ("workflow-export", "[export]"),
        "requirements-release.txt": ("workflow-release", ""),
    }.items():
        lines = [
            line
            for line in (out / "github/nfldeploy" / name).read_text().splitlines()
            if not line.startswith("#")
        ]
        assert all(HASHED.match(line) for line in lines), [line for line in lines if not HASHED.match(line)]
        lock = locks.load(set_name, "linux/amd64")
        assert lines[:-1] == [pin.line() for pin in lock.pins]
        assert lines[-1] == (
            f"nfldeploy-wheel/nfldeploy-0.1.0-py3-none-any.whl{extra} --hash=sha256:{digest.group(1)}"
        )
    if rendering == "vendored":
        (wheel,) = (out / "github/nfldeploy").glob("*.whl")
        assert digest.group(1) == hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_a_url_wheel_is_fetched_and_checked_by_the_sha256_it_names(from_url: Path) -> None:
    text = (from_url / WORKFLOW).read_text()
    assert (
        f'curl -fsSL --proto "=https" -o "nfldeploy-wheel/nfldeploy-0.1.0-py3-none-any.whl" "{URL}"' in text
    )
    assert f'echo "{"ab" * 32}  nfldeploy-wheel/nfldeploy-0.1.0-py3-none-any.whl" | sha256sum --check' in text
    assert not list((from_url / "github/nfldeploy").glob("*.whl"))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (URL, "a URL without its sha256"),
        (f"{URL}#sha256={'ab' * 31}", "a URL without its sha256"),  # 62 hex digits
        (f"{URL}#md5={'ab' * 16}", "a URL without its sha256"),
        (f"{URL.replace('https', 'http')}#sha256={'ab' * 32}", "a URL without its sha256"),
        (f"{URL}$(id)#sha256={'ab' * 32}", "characters the workflow's shell would interpret"),
        ('dist/nfldeploy".whl', "characters the workflow's shell would interpret"),
        ("/home/me/nfldeploy-0.1.0-py3-none-any.whl", "not a wheel path in the repository"),
        ("../nfldeploy-0.1.0-py3-none-any.whl", "not a wheel path in the repository"),
        ("dist/missing-0.1.0-py3-none-any.whl", "is not a file here"),
    ],
)
def test_a_wheel_setting_render_cannot_pin_is_refused(
    setting: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=re.escape(message)):
        render_all(_inputs(nfldeploy_wheel=setting), tmp_path / "out", ["github"])
    assert not (tmp_path / "out" / WORKFLOW).exists()


def test_the_cli_names_the_url_form_it_wants(tmp_path: Path, example_export: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            *("render", str(example_export), "--only", "github", "--out", str(tmp_path / "out")),
            *("--set", f"nfldeploy_wheel={URL}"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "#sha256=" in result.stderr and "Traceback" not in result.output


def test_a_wheel_path_in_the_repository_is_pinned_by_its_contents(
    vendored: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (wheel,) = (vendored / "github/nfldeploy").glob("*.whl")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / wheel.name).write_bytes(wheel.read_bytes())
    monkeypatch.chdir(tmp_path)
    render_all(_inputs(nfldeploy_wheel=f"dist/{wheel.name}"), tmp_path / "out", ["github"])
    text = (tmp_path / "out" / WORKFLOW).read_text()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f'cp "dist/{wheel.name}" nfldeploy-wheel/' in text
    assert f'echo "{digest}  nfldeploy-wheel/{wheel.name}"' in text
    release = (tmp_path / "out/github/nfldeploy/requirements-release.txt").read_text()
    assert release.endswith(f"nfldeploy-wheel/{wheel.name} --hash=sha256:{digest}\n")


def test_a_wheel_the_locks_do_not_cover_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vendored wheel needs a release the lock does not pin (a lock of another nfldeploy version)."""
    import nfldeploy.own_wheel

    monkeypatch.setattr(nfldeploy.own_wheel, "wheel_requires", lambda wheel: ["typer>=99", "boto3>=1.34"])
    with pytest.raises(ConfigError, match=r"does not satisfy .*typer>=99 \(it pins typer=="):
        render_all(_inputs(), tmp_path, ["github"])


# -- zizmor -------------------------------------------------------------------------------------------------


def _zizmor(workflow: Path) -> list[dict[str, Any]]:
    """zizmor's findings (JSON) with its most suspicious persona; offline (GitHub is out of reach), so the
    audits that ask GitHub's API (impostor commits, known-vulnerable versions, ref confusion) do not run."""
    zizmor = tool("zizmor")
    if zizmor is None:
        unavailable("zizmor is not installed", hint="run scripts/setup (scripts/tools.txt: zizmor)")
    done = subprocess.run(
        [zizmor, "--offline", "--persona", "auditor", "--format", "json", "--no-exit-codes", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    return findings


def _at_medium_or_above(findings: list[dict[str, Any]]) -> list[str]:
    return [
        f"{f['ident']} ({f['determinations']['severity']}): {f['desc']}"
        for f in findings
        if f["determinations"]["severity"] in {"Medium", "High"} and not f["ignored"]
    ]


@pytest.mark.parametrize("rendering", ["vendored", "from_url"])
def test_zizmor_finds_nothing_at_medium_or_above(rendering: str, request: pytest.FixtureRequest) -> None:
    out: Path = request.getfixturevalue(rendering)
    findings = _zizmor(out / WORKFLOW)
    assert _at_medium_or_above(findings) == []
    # nor below: no informational finding is left either (a suppression beside its line would be ignored)
    assert [f["ident"] for f in findings if not f["ignored"]] == []


def test_zizmor_sees_a_workflow_pinned_by_tag(vendored: Path, tmp_path: Path) -> None:
    """The gate can fail: the same workflow with its actions by tag, as before this change, is flagged."""
    text = re.sub(r"@[0-9a-f]{40}  # (v[\d.]+)", r"@\1", (vendored / WORKFLOW).read_text())
    (tmp_path / "nfldeploy.yml").write_text(text)
    flagged = _at_medium_or_above(_zizmor(tmp_path / "nfldeploy.yml"))
    assert len([f for f in flagged if f.startswith("unpinned-uses (High)")]) == 14, flagged
