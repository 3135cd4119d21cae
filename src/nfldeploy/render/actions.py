"""The GitHub Actions the rendered workflow uses, pinned by full commit SHA (a tag can be moved to other code;
a commit cannot: https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions#using-third-party-actions).

GitHub is not reachable where nfldeploy is developed, so each SHA was taken only where two independent public
files pin the action by that SHA with the same tag as a comment (found with the search tool's exact-string
index; each source named as the file names itself, with its index id):

| action | tag | sources |
|---|---|---|
| actions/checkout | v4.2.2 | reviewdog/action-pyflakes README (30349000523); milaforge/pull-request-policy quick start (68563604738) |
| actions/setup-python | v5.6.0 | a pinact skill's "extended patterns" (30163052715); a CI workflow uploading python-test-results (62326130558) |
| actions/upload-artifact | v4.6.2 | a repository's "GitHub Actions Version Reference" (11282661203); plankit's pinning plan (52381236998) |
| actions/download-artifact | v4.3.0 | plankit's pinning plan (52381236998); a PyPI publishing workflow template (7273667739) |
| google-github-actions/auth | v2.1.10 | the pinact skill's "extended patterns" (30163052715); a workflow "Authenticate to GCP via OIDC" (65760658255) |
| aws-actions/configure-aws-credentials | v4.0.2 | the pinact skill's "extended patterns" (30163052715); a GitHub Environment / AWS OIDC guide (69098849785) |

A SHA seen with two different tags (google-github-actions/auth@71f98641..., aws-actions/configure-aws-credentials@
b4757831...) was not taken. To add or move an action: find its SHA the same way (or read it on GitHub), add a
row here, and render again."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from nfldeploy.errors import ConfigError

FULL_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Pin:
    """One action at one commit, with the tag that commit carries (printed as the comment)."""

    sha: str
    tag: str

    def __post_init__(self) -> None:
        if not FULL_SHA.fullmatch(self.sha):
            raise ValueError(f"not a full commit SHA: {self.sha!r}")


PINS: dict[str, Pin] = {
    "actions/checkout": Pin("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "actions/setup-python": Pin("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "actions/upload-artifact": Pin("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "actions/download-artifact": Pin("d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
    "google-github-actions/auth": Pin("ba79af03959ebeac9769e648f473a284504d9193", "v2.1.10"),
    "aws-actions/configure-aws-credentials": Pin("e3dd6a429d7300a6a4c196c26e071d42e0343502", "v4.0.2"),
}


class PinnedActions(Mapping[str, str]):
    """``uses:`` values by action name (``owner/repo@<sha>  # <tag>``); an action the table lacks is a
    ConfigError naming it, so a template can never print an unpinned action."""

    def __init__(self, pins: Mapping[str, Pin]) -> None:
        self._pins = dict(pins)

    def __getitem__(self, action: str) -> str:
        pin = self._pins.get(action)
        if pin is None:
            raise ConfigError(
                f"the workflow uses the action {action}, which nfldeploy has no pinned commit for "
                f"(it pins {', '.join(sorted(self._pins))})",
                hint="Add the action's full commit SHA and tag to nfldeploy/render/actions.py (PINS).",
            )
        return f"{action}@{pin.sha}  # {pin.tag}"

    def __iter__(self) -> Iterator[str]:
        return iter(self._pins)

    def __len__(self) -> int:
        return len(self._pins)


def pinned_actions() -> PinnedActions:
    """The table the workflow's view model hands its template."""
    return PinnedActions(PINS)


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.MULTILINE)


def check_pinned(text: str) -> None:
    """Every ``uses:`` of a rendered workflow is an action of the table at its commit: a template that
    writes a ``uses:`` by hand (a tag, a branch) is refused."""
    for match in USES.finditer(text):
        reference, comment = match.group(1), match.group(2)
        action, _, ref = reference.partition("@")
        pin = PINS.get(action)
        if pin is None or ref != pin.sha or comment.strip() != f"# {pin.tag}":
            raise ConfigError(
                f"the rendered workflow uses {reference}, not an action pinned by nfldeploy's table "
                f"(owner/repo@<full commit SHA>  # <tag>)",
                hint="Print actions from the view model's `actions` table in templates/github/workflow.yml.j2.",
            )
