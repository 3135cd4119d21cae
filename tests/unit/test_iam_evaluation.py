"""The IAM evaluation logic of the moto stand-in (tests/iam_evaluation.py), rule by rule, each as AWS's pages
state it:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html (CO),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
(MV), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html (EL)."""

from __future__ import annotations

from typing import Any

import pytest

from iam_evaluation import Decision, PolicyError, Principal, conditions_hold, decide, decide_all

ROLE = "arn:aws:iam::123456789012:role/fn-nfldeploy"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def holds(operator: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    return conditions_hold({operator: {key: expected}}, context)


@pytest.mark.parametrize(
    ("operator", "expected", "value", "result"),
    [
        # CO, string operators: exact and case-sensitive; IgnoreCase; Like with * and ?
        ("StringEquals", "lambda.amazonaws.com", "lambda.amazonaws.com", True),
        ("StringEquals", "lambda.amazonaws.com", "ec2.amazonaws.com", False),
        ("StringEquals", "AWS_IAM", "aws_iam", False),
        ("StringEquals", ["NONE", "AWS_IAM"], "AWS_IAM", True),  # several policy values: any (OR)
        ("StringNotEquals", "NONE", "AWS_IAM", True),
        ("StringNotEquals", ["NONE", "AWS_IAM"], "AWS_IAM", False),  # negated: none may match
        ("StringEqualsIgnoreCase", "AWS_IAM", "aws_iam", True),
        ("StringNotEqualsIgnoreCase", "AWS_IAM", "aws_iam", False),
        ("StringLike", "fn-*", "fn-canary", True),
        ("StringLike", "fn-?", "fn-ab", False),
        ("StringLike", "fn-??", "fn-ab", True),
        ("StringLike", "FN-*", "fn-ab", False),
        ("StringNotLike", "fn-*", "other", True),
        ("StringNotLike", "fn-*", "fn-1", False),
        # numeric and date operators
        ("NumericLessThan", "10", "9", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericGreaterThan", 10, "11", True),
        ("NumericGreaterThanEquals", "10", "9", False),
        ("NumericEquals", "10", "10.0", True),
        ("NumericNotEquals", "10", "10", False),
        ("NumericEquals", "10", "ten", False),
        ("DateLessThan", "2030-01-01T00:00:00Z", "2026-12-07T10:00:00Z", True),
        ("DateGreaterThan", "2030-01-01T00:00:00Z", "2026-12-07T10:00:00Z", False),
        ("DateEquals", "2026-12-07T10:00:00Z", "1796637600", True),  # epoch seconds are dates too
        ("DateNotEquals", "2026-12-07T10:00:00Z", "2026-12-07T10:00:01Z", True),
        ("DateLessThanEquals", "2026-12-07T10:00:00Z", "2026-12-07T10:00:00Z", True),
        ("DateGreaterThanEquals", "2026-12-07T10:00:00Z", "2026-12-07T09:59:59Z", False),
        # Bool: true / false, a JSON boolean in the policy too
        ("Bool", "true", "true", True),
        ("Bool", True, "true", True),
        ("Bool", "true", "false", False),
        # BinaryEquals (base64), IP addresses (CIDR)
        ("BinaryEquals", "QmluYXJ5VmFsdWU=", "QmluYXJ5VmFsdWU=", True),
        ("BinaryEquals", "QmluYXJ5VmFsdWU=", "T3RoZXI=", False),
        ("IpAddress", "203.0.113.0/24", "203.0.113.9", True),
        ("IpAddress", "203.0.113.0/24", "198.51.100.1", False),
        ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
        # ARN operators: six colon-delimited components, each with wildcards, no wildcard across them
        (
            "ArnLike",
            "arn:aws:execute-api:us-east-1:*:abc123/*",
            "arn:aws:execute-api:us-east-1:1:abc123/$default",
            True,
        ),
        (
            "ArnLike",
            "arn:aws:execute-api:us-east-1:*:abc123/*",
            "arn:aws:execute-api:us-east-1:1:other/x",
            False,
        ),
        ("ArnEquals", "arn:aws:lambda:*:*:function:fn", FUNCTION, True),
        ("ArnEquals", "arn:aws:*", FUNCTION, False),  # "*" does not span the region and account components
        ("ArnLike", "arn:aws:lambda:us-east-1:123456789012:function:fn", "not-an-arn", False),
        ("ArnNotLike", "arn:aws:lambda:*:*:function:other", FUNCTION, True),
        ("ArnNotEquals", FUNCTION, FUNCTION, False),
    ],
)
def test_each_operator_compares_as_documented(operator: str, expected: Any, value: str, result: bool) -> None:
    assert holds(operator, "k:key", expected, {"k:key": value}) is result


def test_a_key_absent_from_the_request_makes_the_condition_false_unless_negated() -> None:
    """CO: "If the key ... is not present in the request context, the values do not match and the condition is
    false. If the policy condition requires that the key is not matched, such as StringNotLike or ArnNotLike,
    and the right key is not present, the condition is true." """
    for positive in (
        "StringEquals",
        "StringLike",
        "ArnLike",
        "ArnEquals",
        "Bool",
        "NumericEquals",
        "IpAddress",
    ):
        assert not holds(positive, "iam:PassedToService", "x", {})
    for negated in ("StringNotEquals", "StringNotLike", "ArnNotLike", "ArnNotEquals", "NotIpAddress"):
        assert holds(negated, "iam:PassedToService", "x", {})


def test_if_exists_holds_when_the_key_is_absent_and_checks_it_when_present() -> None:
    """CO, ...IfExists: "If the policy key is present in the context of the request, process the key as
    specified in the policy. If the key is not present, evaluate the condition element as true." """
    assert holds("StringEqualsIfExists", "lambda:FunctionUrlAuthType", "NONE", {})
    assert holds(
        "StringEqualsIfExists", "lambda:FunctionUrlAuthType", "NONE", {"lambda:FunctionUrlAuthType": "NONE"}
    )
    assert not holds(
        "StringEqualsIfExists",
        "lambda:FunctionUrlAuthType",
        "NONE",
        {"lambda:FunctionUrlAuthType": "AWS_IAM"},
    )
    assert holds("ArnLikeIfExists", "aws:SourceArn", "arn:aws:s3:::b", {})


def test_null_checks_whether_the_key_is_present() -> None:
    """CO, Null: true means the key is absent (or empty), false that it is present."""
    assert holds("Null", "aws:RequestTag/team", "true", {})
    assert not holds("Null", "aws:RequestTag/team", "true", {"aws:RequestTag/team": "ml"})
    assert holds("Null", "aws:RequestTag/team", "false", {"aws:RequestTag/team": "ml"})
    assert not holds("Null", "aws:RequestTag/team", False, {})
    assert holds("Null", "aws:TagKeys", "true", {"aws:TagKeys": []})


def test_set_operators_over_a_multivalued_key() -> None:
    """MV: ForAllValues: every request value must match a policy value, and it "also returns true if there are
    no context keys in the request"; ForAnyValue: at least one must, false without any."""
    allowed = ["team", "service"]
    assert holds("ForAllValues:StringEquals", "aws:TagKeys", allowed, {"aws:TagKeys": ["team"]})
    assert not holds("ForAllValues:StringEquals", "aws:TagKeys", allowed, {"aws:TagKeys": ["team", "owner"]})
    assert holds("ForAllValues:StringEquals", "aws:TagKeys", allowed, {})  # the documented trap
    assert holds("ForAnyValue:StringEquals", "aws:TagKeys", allowed, {"aws:TagKeys": ["owner", "team"]})
    assert not holds("ForAnyValue:StringEquals", "aws:TagKeys", allowed, {"aws:TagKeys": ["owner"]})
    assert not holds("ForAnyValue:StringEquals", "aws:TagKeys", allowed, {})
    assert holds(
        "ForAllValues:StringLike", "aws:TagKeys", "nfl*", {"aws:TagKeys": ["nfldeploy-service", "nfl"]}
    )
    assert not holds("ForAllValues:StringNotEquals", "aws:TagKeys", "owner", {"aws:TagKeys": ["owner", "x"]})
    assert holds("ForAnyValue:StringNotEquals", "aws:TagKeys", "owner", {"aws:TagKeys": ["owner", "x"]})


def test_a_multivalued_key_without_a_set_operator_fails_loudly() -> None:
    """MV: "Multivalued context keys require a condition set operator"; what AWS does otherwise is not
    documented, so the stand-in refuses to guess."""
    with pytest.raises(PolicyError, match="multivalued"):
        holds("StringEquals", "aws:TagKeys", "team", {"aws:TagKeys": ["team"]})


def test_condition_key_names_are_not_case_sensitive_but_values_are() -> None:
    """https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html: "Context key
    names are not case-sensitive"."""
    assert holds("StringEquals", "AWS:SourceArn", "a", {"aws:sourcearn": "a"})
    assert not holds("StringEquals", "aws:SourceArn", "A", {"aws:SourceArn": "a"})


def test_every_operator_and_every_key_of_a_block_must_hold() -> None:
    context = {"lambda:Principal": "*", "lambda:FunctionUrlAuthType": "NONE"}
    block = {"StringEquals": {"lambda:Principal": "*", "lambda:FunctionUrlAuthType": "NONE"}}
    assert conditions_hold(block, context)
    assert not conditions_hold({**block, "Bool": {"aws:SecureTransport": "true"}}, context)
    assert not conditions_hold(
        {"StringEquals": {"lambda:Principal": "*", "lambda:FunctionUrlAuthType": "AWS_IAM"}}, context
    )


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEqualz", "x"),  # unknown operator
        ("ForEachValue:StringEquals", "x"),  # unknown set operator
        ("NullIfExists", "true"),  # Null takes no IfExists
        ("ForAllValues:Null", "true"),
        ("Bool", "yes"),
        ("NumericLessThan", "ten"),
        ("IpAddress", "not-a-cidr"),
        ("StringEquals", "${aws:username}"),  # policy variables are not evaluated
        ("StringEquals", {"nested": "object"}),
    ],
)
def test_what_the_stand_in_cannot_decide_fails_loudly(operator: str, expected: Any) -> None:
    with pytest.raises(PolicyError):
        holds(operator, "k:key", expected, {"k:key": "x"})


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


PASS_ROLE = {
    "Effect": "Allow",
    "Action": "iam:PassRole",
    "Resource": ROLE,
    "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
}


def test_a_condition_that_does_not_hold_leaves_the_request_implicitly_denied() -> None:
    """EL: a statement whose condition fails does not apply (moto's own check answered an explicit deny)."""
    policy = _policy(PASS_ROLE)
    assert (
        decide([policy], "iam:PassRole", ROLE, {"iam:PassedToService": "lambda.amazonaws.com"})
        is Decision.ALLOW
    )
    assert decide([policy], "iam:PassRole", ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}) is (
        Decision.IMPLICIT_DENY
    )
    assert decide([policy], "iam:PassRole", ROLE, {}) is Decision.IMPLICIT_DENY
    other = {**PASS_ROLE, "Effect": "Allow", "Action": "iam:GetRole", "Condition": {}}
    assert decide([policy, _policy(other)], "iam:PassRole", ROLE, {}) is Decision.IMPLICIT_DENY


def test_an_explicit_deny_with_a_condition_wins_only_when_its_condition_holds() -> None:
    deny = {
        "Effect": "Deny",
        "Action": "lambda:CreateFunctionUrlConfig",
        "Resource": "*",
        "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
    }
    allow = {"Effect": "Allow", "Action": "lambda:*", "Resource": f"{FUNCTION}:*"}
    policies = [_policy(allow), _policy(deny)]
    live = f"{FUNCTION}:live"
    public = {"lambda:FunctionUrlAuthType": "NONE"}
    assert decide(policies, "lambda:CreateFunctionUrlConfig", live, public) is Decision.EXPLICIT_DENY
    signed = {"lambda:FunctionUrlAuthType": "AWS_IAM"}
    assert decide(policies, "lambda:CreateFunctionUrlConfig", live, signed) is Decision.ALLOW


def test_actions_match_without_case_resources_with_it_and_not_elements_invert() -> None:
    """Action names are not case-sensitive (reference_policies_elements_action.html), ARNs are; NotAction and
    NotResource match everything but what they name."""
    policy = _policy({"Effect": "Allow", "Action": "Lambda:getfunction", "Resource": FUNCTION})
    assert decide([policy], "lambda:GetFunction", FUNCTION, {}) is Decision.ALLOW
    assert decide([policy], "lambda:GetFunction", FUNCTION.upper(), {}) is Decision.IMPLICIT_DENY
    assert decide([policy], "lambda:GetFunction", f"{FUNCTION}:live", {}) is Decision.IMPLICIT_DENY
    inverse = _policy({"Effect": "Allow", "NotAction": "iam:*", "NotResource": f"{FUNCTION}:canary"})
    assert decide([inverse], "lambda:GetFunction", f"{FUNCTION}:live", {}) is Decision.ALLOW
    assert decide([inverse], "lambda:GetFunction", f"{FUNCTION}:canary", {}) is Decision.IMPLICIT_DENY
    assert decide([inverse], "iam:PassRole", ROLE, {}) is Decision.IMPLICIT_DENY


def test_a_resource_based_policy_allows_its_principal_in_the_same_account() -> None:
    """EL: within one account an allow in the identity-based or the resource-based policy suffices; its
    Principal and conditions decide whom it concerns (aws:SourceArn: the HTTP API that may invoke)."""
    caller = Principal(arn="arn:aws:iam::123456789012:user/ci", account="123456789012")
    api = Principal(arn="apigateway.amazonaws.com", account="", service="apigateway.amazonaws.com")
    grants = _policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "apigateway.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": f"{FUNCTION}:live",
            "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc/*"}},
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": "123456789012"},
            "Action": "lambda:GetPolicy",
            "Resource": FUNCTION,
        },
    )
    invoke = ("lambda:InvokeFunction", f"{FUNCTION}:live")
    ours = {"aws:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc/$default/GET/"}
    theirs = {"aws:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:other/$default/GET/"}
    assert decide([], *invoke, ours, resource_policy=grants, principal=api) is Decision.ALLOW
    assert decide([], *invoke, theirs, resource_policy=grants, principal=api) is Decision.IMPLICIT_DENY
    assert decide([], *invoke, ours, resource_policy=grants, principal=caller) is Decision.IMPLICIT_DENY
    # naming the account delegates to its identity policies (tests/unit/test_iam_evaluation_principals.py)
    reads = {"Effect": "Allow", "Action": "lambda:GetPolicy", "Resource": FUNCTION}
    assert (
        decide([_policy(reads)], "lambda:GetPolicy", FUNCTION, {}, resource_policy=grants, principal=caller)
        is Decision.ALLOW
    )


def test_over_several_documented_context_shapes_every_one_must_allow() -> None:
    stage = "arn:aws:apigateway:us-east-1::/apis/abc/stages/$default"
    policy = _policy(
        {
            "Effect": "Allow",
            "Action": "apigateway:PATCH",
            "Resource": stage,
            "Condition": {"StringEquals": {"aws:ResourceTag/nfldeploy-service": "fn"}},
        }
    )
    own, inherited = {}, {"aws:ResourceTag/nfldeploy-service": "fn"}
    assert decide_all([policy], "apigateway:PATCH", stage, [inherited]) is Decision.ALLOW
    assert decide_all([policy], "apigateway:PATCH", stage, [own, inherited]) is Decision.IMPLICIT_DENY
