"""The error tree. Every error carries a message and a hint; the CLI maps each class to an exit code.

Exit codes (stable, for CI pipelines): 0 ok, 1 user/config error, 2 usage, 3 a check failed,
4 remote/cloud/docker error, 5 internal error (a bug in nfldeploy).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USER = 1
EXIT_USAGE = 2
EXIT_CHECK = 3
EXIT_REMOTE = 4
EXIT_INTERNAL = 5


class NfldeployError(Exception):
    """Base of every error nfldeploy reports to its user."""

    exit_code = EXIT_USER

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(NfldeployError):
    """A training config or deploy setting is missing, malformed or impossible."""


class UsageError(NfldeployError):
    """Options that do not go together (or one that needs another): exit 2, like any usage error."""

    exit_code = EXIT_USAGE


class ExportError(NfldeployError):
    """A checkpoint could not be loaded or exported."""


class CheckFailed(NfldeployError):
    """A gate or check ran and said no (parity, accuracy, smoke test)."""

    exit_code = EXIT_CHECK


class ParityError(CheckFailed):
    """An exported artifact does not reproduce the eager model within tolerance."""


class SmokeTestError(CheckFailed):
    """A deployed service failed its smoke test."""


class RemoteError(NfldeployError):
    """Something outside this process failed: the Docker engine, a registry, a cloud API."""

    exit_code = EXIT_REMOTE


class DockerUnavailable(RemoteError):
    """No Docker engine could be reached."""


class BuildError(RemoteError):
    """The image build failed."""


class PushError(RemoteError):
    """Pushing the image to its registry failed."""


class DeployError(RemoteError):
    """A deployment to a target failed."""


class CanaryCheckFailed(DeployError):
    """A canary failed its check through its own URL and got no traffic: a check that said no (exit 3), not
    a failed call."""

    exit_code = EXIT_CHECK
