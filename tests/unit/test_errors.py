"""The error tree maps to the documented exit codes."""

from __future__ import annotations

import pytest

from nfldeploy import errors


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (errors.ConfigError, 1),
        (errors.ExportError, 1),
        (errors.ParityError, 3),
        (errors.SmokeTestError, 3),
        (errors.DockerUnavailable, 4),
        (errors.BuildError, 4),
        (errors.PushError, 4),
        (errors.DeployError, 4),
    ],
)
def test_exit_codes(cls: type[errors.NfldeployError], code: int) -> None:
    error = cls("went wrong", hint="do this")
    assert error.exit_code == code
    assert str(error) == "went wrong" and error.hint == "do this"
