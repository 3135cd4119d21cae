"""Where the stand-in's evaluator (tests/iam_evaluation.py) was laxer than AWS: whose allow counts across
accounts, what a Principal naming an account grants, and a statement with both Action and NotAction.
Each rule as AWS's pages state it:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html (XA),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html (PR),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html (GR)."""

from __future__ import annotations

from typing import Any

import pytest

from iam_evaluation import ANONYMOUS, Decision, PolicyError, Principal, decide

OURS, THEIRS = "123456789012", "999999999999"
REPOSITORY = f"arn:aws:ecr:us-east-1:{OURS}:repository/nfl/fn"
FUNCTION = f"arn:aws:lambda:us-east-1:{OURS}:function:fn"
ROLE = f"arn:aws:iam::{OURS}:role/fn-nfldeploy"
CI = Principal(arn=f"arn:aws:iam::{OURS}:user/ci", account=OURS)
OUTSIDER = Principal(arn=f"arn:aws:iam::{THEIRS}:user/mallory", account=THEIRS)


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _grant(principal: Any, action: str = "ecr:BatchGetImage", resource: str = REPOSITORY) -> dict[str, Any]:
    return _policy({"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource})


PULL = _policy({"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"})


def test_across_accounts_the_resource_policy_alone_is_not_enough() -> None:
    """XA: "the identity-based policy in the requesting account and the resource-based policy in the trusting
    account" must both allow. The old evaluator let a resource-policy Allow through whatever the caller's
    account."""
    named = _grant({"AWS": OUTSIDER.arn})
    assert decide([], "ecr:BatchGetImage", REPOSITORY, {}, resource_policy=named, principal=OUTSIDER) is (
        Decision.IMPLICIT_DENY
    )
    assert decide([PULL], "ecr:BatchGetImage", REPOSITORY, {}, resource_policy=named, principal=OUTSIDER) is (
        Decision.ALLOW
    )
    # and the identity side alone does not reach into another account's resource either
    assert decide([PULL], "ecr:BatchGetImage", REPOSITORY, {}, principal=OUTSIDER) is Decision.IMPLICIT_DENY
    # within one account either side suffices (EL), when the statement names the caller itself
    mine = _grant({"AWS": CI.arn})
    assert (
        decide([], "ecr:BatchGetImage", REPOSITORY, {}, resource_policy=mine, principal=CI) is Decision.ALLOW
    )
    assert decide([PULL], "ecr:BatchGetImage", REPOSITORY, {}, principal=CI) is Decision.ALLOW


@pytest.mark.parametrize("named", [OURS, f"arn:aws:iam::{OURS}:root"])
def test_a_principal_naming_the_account_delegates_to_its_identity_policies(named: str) -> None:
    """PR: "When you use an AWS account identifier as the principal in a policy, you delegate authority to
    the account", whose identities get access only with IAM permissions of their own. The old evaluator
    treated it as naming every caller in the account."""
    delegated = _grant({"AWS": named})
    assert decide([], "ecr:BatchGetImage", REPOSITORY, {}, resource_policy=delegated, principal=CI) is (
        Decision.IMPLICIT_DENY
    )
    assert decide([PULL], "ecr:BatchGetImage", REPOSITORY, {}, resource_policy=delegated, principal=CI) is (
        Decision.ALLOW
    )
    # another account delegated to: its caller still needs both sides (XA)
    theirs = _grant({"AWS": THEIRS})
    assert (
        decide([], "ecr:BatchGetImage", REPOSITORY, {}, resource_policy=theirs, principal=OUTSIDER)
        is Decision.IMPLICIT_DENY
    )
    assert (
        decide([PULL], "ecr:BatchGetImage", REPOSITORY, {}, resource_policy=theirs, principal=OUTSIDER)
        is Decision.ALLOW
    )
    # a Deny naming the account still denies every identity in it
    denied = _policy(
        {"Effect": "Deny", "Principal": {"AWS": named}, "Action": "ecr:BatchGetImage", "Resource": REPOSITORY}
    )
    assert decide([PULL], "ecr:BatchGetImage", REPOSITORY, {}, resource_policy=denied, principal=CI) is (
        Decision.EXPLICIT_DENY
    )


def test_a_role_trust_policy_must_allow_and_naming_the_account_needs_the_identity_policy() -> None:
    """A role's trust policy is required (resource_required): the identity policy alone never assumes a role;
    trust naming the account root delegates to the caller's identity policy (PR)."""
    assume = _policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE})
    trusts_root = _policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OURS}:root"}, "Action": "sts:AssumeRole"}
    )
    trusts_ci = _policy({"Effect": "Allow", "Principal": {"AWS": CI.arn}, "Action": "sts:AssumeRole"})
    trusts_other = _policy(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )

    def assumes(identity: list[dict[str, Any]], trust: dict[str, Any], who: Principal = CI) -> Decision:
        return decide(
            identity, "sts:AssumeRole", ROLE, {}, resource_policy=trust, principal=who, resource_required=True
        )

    assert assumes([assume], trusts_root) is Decision.ALLOW
    assert assumes([], trusts_root) is Decision.IMPLICIT_DENY
    assert (
        assumes([assume], trusts_other) is Decision.IMPLICIT_DENY
    )  # the identity policy alone is not enough
    assert assumes([], trusts_ci) is Decision.ALLOW  # same account, named directly
    outsider_trusted = _policy(
        {"Effect": "Allow", "Principal": {"AWS": OUTSIDER.arn}, "Action": "sts:AssumeRole"}
    )
    assert assumes([], outsider_trusted, OUTSIDER) is Decision.IMPLICIT_DENY  # across accounts: both sides
    assert assumes([assume], outsider_trusted, OUTSIDER) is Decision.ALLOW


def test_anonymous_and_service_callers_are_decided_by_the_resource_policy() -> None:
    """A public function URL (Principal "*") and a service principal have no identity policies of their own."""
    public = _grant("*", "lambda:InvokeFunctionUrl", f"{FUNCTION}:live")
    assert (
        decide(
            [],
            "lambda:InvokeFunctionUrl",
            f"{FUNCTION}:live",
            {},
            resource_policy=public,
            principal=ANONYMOUS,
        )
        is Decision.ALLOW
    )
    gateway = Principal(arn="apigateway.amazonaws.com", account="", service="apigateway.amazonaws.com")
    delegated = _grant({"AWS": OURS}, "lambda:InvokeFunction", f"{FUNCTION}:live")
    assert (
        decide(
            [], "lambda:InvokeFunction", f"{FUNCTION}:live", {}, resource_policy=delegated, principal=gateway
        )
        is Decision.IMPLICIT_DENY
    )


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Action": "lambda:GetFunction",
            "NotAction": "lambda:InvokeFunction",
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": "lambda:GetFunction",
            "Resource": FUNCTION,
            "NotResource": f"{FUNCTION}:*",
        },
    ],
)
def test_an_element_with_its_not_form_is_malformed(statement: dict[str, Any]) -> None:
    """GR: a statement takes Action or NotAction, Resource or NotResource. The old evaluator used Action and
    ignored NotAction; AWS refuses such a policy, so the stand-in fails loudly (a 500 under iam_enforced)."""
    with pytest.raises(PolicyError, match="not both"):
        decide([_policy(statement)], "lambda:GetFunction", FUNCTION, {})


def test_principal_with_not_principal_is_malformed() -> None:
    both = _policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": CI.arn},
            "NotPrincipal": {"AWS": OUTSIDER.arn},
            "Action": "lambda:GetPolicy",
            "Resource": FUNCTION,
        }
    )
    with pytest.raises(PolicyError, match="not both"):
        decide([], "lambda:GetPolicy", FUNCTION, {}, resource_policy=both, principal=CI)
