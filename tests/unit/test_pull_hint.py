"""Lambda's refusal to pull a function's image gets a hint to rerun bootstrap, whichever error code carries
it (InvalidParameterValueException as the stand-in answers, AccessDeniedException); other refusals keep theirs."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from nfldeploy.cloud.aws import PULL_HINT, AwsCalls

PULL = "Lambda does not have permission to access the ECR image. Check the ECR permissions."


def _error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "CreateFunction")


@pytest.mark.parametrize("code", ["InvalidParameterValueException", "AccessDeniedException"])
def test_a_pull_refusal_hints_at_bootstrap(code: str) -> None:
    error = AwsCalls("fn").error("creating the function", _error(code, PULL))
    assert error.hint == PULL_HINT and PULL in str(error)


def test_other_refusals_keep_their_hints() -> None:
    denied = AwsCalls("fn").error("creating the function", _error("AccessDeniedException", "no"))
    assert denied.hint == "Check the caller's IAM permissions."
    other = AwsCalls("fn").error("creating the function", _error("InvalidParameterValueException", "bad"))
    assert other.hint is None
