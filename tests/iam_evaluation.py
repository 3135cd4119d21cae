"""IAM's policy evaluation logic, as AWS documents it, for the moto stand-in (tests/moto_extensions.py installs it
into moto's request path; moto ignored ``Condition`` blocks and ``NotResource``). Pure: policies, an action, a
resource and the request context in, a decision out.

- Statements (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an
  explicit ``Deny`` in any applicable policy wins; else, in one account, an ``Allow`` in an identity-based
  policy or in a resource-based statement naming the caller itself allows (one naming only the caller's
  account delegates to that account's identity policies:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html); across
  accounts both the identity-based and the resource-based policy must allow
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html);
  else the request is implicitly denied. A statement applies when its
  ``Action``/``NotAction``, ``Resource``/``NotResource``, (resource-based) ``Principal``/``NotPrincipal`` and
  every condition match; an element and its ``Not`` form together are malformed (the policy grammar takes one:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html). Action names are not
  case-sensitive, resource ARNs are; ``*`` and ``?`` are wildcards
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html,
  .../reference_policies_elements_resource.html).
- Conditions (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html,
  .../reference_policies_elements_condition_operators.html): every operator of a block and every key of an
  operator must hold (AND); several values of one key in the policy are alternatives (OR), for a negated
  operator none may match. Context key names are not case-sensitive. "If the key that you specify in a policy
  condition is not present in the request context, the values do not match and the condition is false. If the
  policy condition requires that the key is not matched, such as StringNotLike or ArnNotLike, and the right key
  is not present, the condition is true", except for ``...IfExists`` (true when absent) and ``Null`` (``true``:
  the key is absent; ``false``: it is present).
- Set operators (.../reference_policies_condition-single-vs-multi-valued-context-keys.html): ``ForAllValues:``
  holds when every value of the request's key matches (also when the key is absent or empty: the documented
  trap), ``ForAnyValue:`` when at least one does (false when absent). A multivalued key (a list in the context,
  such as ``aws:TagKeys``) without a set operator is refused loudly: the documentation only says they "require"
  one.
- Operators: String (``StringEquals``, ``StringNotEquals``, ``...IgnoreCase``, ``StringLike``,
  ``StringNotLike``), Numeric, Date, ``Bool``, ``BinaryEquals``, ``IpAddress``/``NotIpAddress``, ARN
  (``ArnEquals``/``ArnLike`` and negations: "Each of the six colon-delimited components of the ARN is checked
  separately and each can include multi-character match wildcards (*) or single-character match wildcards
  (?)"), ``Null``; the ``IfExists`` suffix on all but ``Null``.

An operator this module does not know, a policy variable (``${...}``) or a malformed policy raises
``PolicyError``: never a silent allow.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

#: A request context: key -> value (a list for a multivalued key). Key names are compared case-insensitively.
Context = Mapping[str, "str | Sequence[str]"]


class PolicyError(ValueError):
    """A policy or context the evaluator cannot decide as AWS would (unknown operator, policy variable...)."""


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Principal:
    """Who makes the request, as a resource-based policy's ``Principal`` names it."""

    arn: str  # the user's ARN, or the role session's (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION)
    account: str
    role_arn: str | None = None  # a session's role (a resource-based policy may name the role)
    service: str | None = None  # a service principal (apigateway.amazonaws.com)
    federated: str | None = None  # a web identity's provider (arn:aws:iam::ACCOUNT:oidc-provider/HOST)


ANONYMOUS = Principal(arn="*", account="")


def _wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    if "${" in pattern:
        raise PolicyError(f"policy variables are not evaluated by the stand-in: {pattern!r}")
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """``value`` matches ``pattern`` with IAM's wildcards (``*`` any run, ``?`` one character)."""
    return _wildcard(pattern, ignore_case=ignore_case).match(value) is not None


def _as_list(element: Any) -> list[Any]:
    return list(element) if isinstance(element, list) else [element]


def _policy_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise PolicyError(f"a condition value must be a string, number or boolean, not {value!r}")


# -- condition operators -----------------------------------------------------------------------------------


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _date(value: str) -> datetime | None:
    """An ISO 8601 date/time or epoch seconds, as the Date operators take them."""
    number = _number(value)
    if number is not None:
        return datetime.fromtimestamp(number, UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ordered(parse: Any, compare: Any) -> Any:
    def match(request: str, policy: str) -> bool:
        wanted = parse(policy)
        if wanted is None:
            raise PolicyError(f"{policy!r} is not a valid value for this operator")
        got = parse(request)
        return got is not None and bool(compare(got, wanted))

    return match


def _bool(request: str, policy: str) -> bool:
    if policy.lower() not in ("true", "false"):
        raise PolicyError(f"Bool takes true or false, not {policy!r}")
    return request.lower() == policy.lower()


def _binary(request: str, policy: str) -> bool:
    try:
        return base64.b64decode(request, validate=True) == base64.b64decode(policy, validate=True)
    except binascii.Error:
        return False


def _ip(request: str, policy: str) -> bool:
    try:
        network = ipaddress.ip_network(policy, strict=False)
    except ValueError as error:
        raise PolicyError(f"{policy!r} is not an IP address or CIDR block") from error
    try:
        return ipaddress.ip_address(request) in network
    except ValueError:
        return False


def _arn(request: str, policy: str) -> bool:
    wanted, got = policy.split(":", 5), request.split(":", 5)
    if len(wanted) != 6 or len(got) != 6:
        return False
    return all(like(w, g) for w, g in zip(wanted, got, strict=True))


def _equal(request: str, policy: str) -> bool:
    return request == policy


#: Operator name -> (comparison of one request value with one policy value, negated).
OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (_equal, False),
    "StringNotEquals": (_equal, True),
    "StringEqualsIgnoreCase": (lambda r, p: r.casefold() == p.casefold(), False),
    "StringNotEqualsIgnoreCase": (lambda r, p: r.casefold() == p.casefold(), True),
    "StringLike": (lambda r, p: like(p, r), False),
    "StringNotLike": (lambda r, p: like(p, r), True),
    "NumericEquals": (_ordered(_number, lambda a, b: a == b), False),
    "NumericNotEquals": (_ordered(_number, lambda a, b: a == b), True),
    "NumericLessThan": (_ordered(_number, lambda a, b: a < b), False),
    "NumericLessThanEquals": (_ordered(_number, lambda a, b: a <= b), False),
    "NumericGreaterThan": (_ordered(_number, lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_ordered(_number, lambda a, b: a >= b), False),
    "DateEquals": (_ordered(_date, lambda a, b: a == b), False),
    "DateNotEquals": (_ordered(_date, lambda a, b: a == b), True),
    "DateLessThan": (_ordered(_date, lambda a, b: a < b), False),
    "DateLessThanEquals": (_ordered(_date, lambda a, b: a <= b), False),
    "DateGreaterThan": (_ordered(_date, lambda a, b: a > b), False),
    "DateGreaterThanEquals": (_ordered(_date, lambda a, b: a >= b), False),
    "Bool": (_bool, False),
    "BinaryEquals": (_binary, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "ArnEquals": (_arn, False),
    "ArnLike": (_arn, False),
    "ArnNotEquals": (_arn, True),
    "ArnNotLike": (_arn, True),
}
SET_OPERATORS = ("ForAllValues:", "ForAnyValue:")


def _raw(context: Context, key: str) -> str | Sequence[str] | None:
    """The request's value of ``key`` (None: absent); key names are not case-sensitive."""
    for name, value in context.items():
        if name.lower() == key.lower():
            return value
    return None


def _null(values: list[str] | None, policy_values: list[str]) -> bool:
    absent = not values or all(v == "" for v in values)
    for wanted in policy_values:
        if wanted.lower() not in ("true", "false"):
            raise PolicyError(f"Null takes true or false, not {wanted!r}")
    return any(absent == (wanted.lower() == "true") for wanted in policy_values)


def _key_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    name, set_operator = operator, None
    for prefix in SET_OPERATORS:
        if name.startswith(prefix):
            set_operator, name = prefix, name.removeprefix(prefix)
    if_exists = name.endswith("IfExists") and name != "IfExists"
    name = name.removesuffix("IfExists") if if_exists else name
    policy_values = [_policy_value(v) for v in _as_list(expected)]
    if any("${" in v for v in policy_values):
        raise PolicyError(f"policy variables are not evaluated by the stand-in: {expected!r}")
    raw = _raw(context, key)
    values = None if raw is None else [raw] if isinstance(raw, str) else list(raw)
    if name == "Null":
        if if_exists or set_operator:
            raise PolicyError(f"{operator} is not a condition operator")
        return _null(values, policy_values)
    if name not in OPERATORS:
        raise PolicyError(f"unknown condition operator {operator!r}")
    compare, negated = OPERATORS[name]

    def matches(value: str) -> bool:
        found = any(compare(value, wanted) for wanted in policy_values)
        return not found if negated else found

    if values is None:
        if if_exists:
            return True
        if set_operator == "ForAllValues:":
            return True
        if set_operator == "ForAnyValue:":
            return False
        return negated
    multivalued = not isinstance(raw, str)
    if set_operator == "ForAllValues:":
        return all(matches(v) for v in values)
    if set_operator == "ForAnyValue:":
        return any(matches(v) for v in values)
    if multivalued:
        raise PolicyError(f"{key} is multivalued: {operator} needs ForAllValues: or ForAnyValue:")
    return matches(values[0])


def conditions_hold(condition: Mapping[str, Any] | None, context: Context) -> bool:
    """Whether a statement's ``Condition`` block holds for ``context`` (every operator, every key)."""
    if not condition:
        return True
    if not isinstance(condition, Mapping):
        raise PolicyError(f"a Condition must be an object, not {condition!r}")
    for operator, keys in condition.items():
        if not isinstance(keys, Mapping):
            raise PolicyError(f"{operator} must map condition keys to values, not {keys!r}")
        for key, expected in keys.items():
            if not _key_holds(operator, key, expected, context):
                return False
    return True


# -- statements and policies -------------------------------------------------------------------------------


def statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = policy.get("Statement")
    if found is None:
        raise PolicyError("a policy needs a Statement")
    return _as_list(found)


def _element_matches(
    statement: Mapping[str, Any], name: str, value: str, *, ignore_case: bool
) -> bool | None:
    """Whether ``name`` (or ``Not<name>``) admits ``value``; None when the statement has neither. Both in one
    statement is malformed: the policy grammar takes ``Action`` or ``NotAction``, ``Resource`` or
    ``NotResource`` (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html)."""
    if name in statement and f"Not{name}" in statement:
        raise PolicyError(f"a statement has {name} or Not{name}, not both")
    if name in statement:
        return any(like(p, value, ignore_case=ignore_case) for p in _as_list(statement[name]))
    if f"Not{name}" in statement:
        return not any(like(p, value, ignore_case=ignore_case) for p in _as_list(statement[f"Not{name}"]))
    return None


#: How a resource-based statement names the caller: itself (its user or role ARN, its role, its service, or
#: "*"), or only its account ({"AWS": "ACCOUNT"} or arn:...:iam::ACCOUNT:root). Naming the account "delegates
#: authority to the account": its identities get access only "if they have the appropriate IAM permissions
#: attached to explicitly allow access" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html).
DIRECT, ACCOUNT = "direct", "account"


def _principal_in(element: Any, principal: Principal) -> str | None:
    if element == "*":
        return DIRECT
    if not isinstance(element, Mapping):
        raise PolicyError(f"a Principal must be * or an object, not {element!r}")
    found = None
    for kind, names in element.items():
        for name in _as_list(names):
            if kind == "AWS" and (name == "*" or name in (principal.arn, principal.role_arn)):
                return DIRECT
            if kind == "Service" and name == principal.service:
                return DIRECT
            if kind == "Federated" and name == principal.federated:
                return DIRECT
            if (
                kind == "AWS"
                and principal.account
                and (
                    name == principal.account
                    or re.fullmatch(rf"arn:[^:]+:iam::{principal.account}:root", name) is not None
                )
            ):
                found = ACCOUNT
    return found


def _principal_matches(statement: Mapping[str, Any], principal: Principal) -> str | None:
    if "Principal" in statement and "NotPrincipal" in statement:
        raise PolicyError("a statement has Principal or NotPrincipal, not both")
    if "Principal" in statement:
        return _principal_in(statement["Principal"], principal)
    if "NotPrincipal" in statement:
        return None if _principal_in(statement["NotPrincipal"], principal) else DIRECT
    raise PolicyError("a resource-based policy's statement needs a Principal or NotPrincipal")


def _applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    context: Context,
    principal: Principal | None,
) -> str | None:
    """How ``statement`` concerns this request: None when not at all, else DIRECT (or ACCOUNT: a
    resource-based statement that names only the caller's account)."""
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f"a statement's Effect is Allow or Deny, not {statement.get('Effect')!r}")
    acts = _element_matches(statement, "Action", action, ignore_case=True)
    if acts is None:
        raise PolicyError("a statement needs an Action or NotAction")
    if not acts:
        return None
    named: str | None = DIRECT
    if principal is not None:
        named = _principal_matches(statement, principal)
        if named is None:
            return None
    elif "Principal" in statement or "NotPrincipal" in statement:
        raise PolicyError("an identity-based policy has no Principal element")
    covers = _element_matches(statement, "Resource", resource, ignore_case=False)
    if covers is None and principal is None:
        raise PolicyError("a statement needs a Resource or NotResource")
    if covers is False:  # a trust policy has no Resource: it covers its role
        return None
    return named if conditions_hold(statement.get("Condition"), context) else None


def statement_applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    context: Context,
    principal: Principal | None = None,
) -> bool:
    """Whether ``statement`` concerns this request (``principal`` only for a resource-based policy)."""
    return _applies(statement, action, resource, context, principal) is not None


def _account_of(resource: str) -> str:
    """The account an ARN names ("" for one without, such as API Gateway's or S3's)."""
    parts = resource.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def decide(
    identity_policies: Iterable[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Context,
    *,
    resource_policy: Mapping[str, Any] | None = None,
    principal: Principal | None = None,
    resource_required: bool = False,
) -> Decision:
    """The decision for one request context (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
    an explicit deny in any policy wins; else, in one account, an allow in an identity-based policy or a
    resource-based statement naming the caller itself (one naming only its account delegates to the
    account's identity policies, reference_policies_elements_principal.html); across accounts both sides
    must allow ("the identity-based policy in the requesting account and the resource-based policy in the
    trusting account", reference_policies_evaluation-logic-cross-account.html). A caller without an account
    (anonymous, a service principal) has no identity policies: the resource-based policy decides.
    ``resource_required``: the resource-based policy must allow whatever the account (a role's trust
    policy: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage-assume.html)."""
    identity_allows = named_allows = account_allows = False
    for policy in identity_policies:
        for statement in statements(policy):
            if _applies(statement, action, resource, context, None) is not None:
                if statement["Effect"] == "Deny":
                    return Decision.EXPLICIT_DENY
                identity_allows = True
    who = principal or ANONYMOUS
    for statement in statements(resource_policy) if resource_policy is not None else []:
        named = _applies(statement, action, resource, context, who)
        if named is None:
            continue
        if statement["Effect"] == "Deny":
            return Decision.EXPLICIT_DENY
        named_allows |= named == DIRECT
        account_allows |= named == ACCOUNT
    resource_allows = named_allows or (account_allows and identity_allows)
    owner = _account_of(resource) or who.account
    if principal is not None and not principal.account:  # anonymous, or a service principal
        allowed = named_allows
    elif resource_required:
        allowed = resource_allows and (identity_allows or owner == who.account)
    elif principal is not None and owner != principal.account:  # across accounts: both sides
        allowed = identity_allows and (named_allows or account_allows)
    else:
        allowed = identity_allows or resource_allows
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def decide_all(
    identity_policies: Sequence[Mapping[str, Any]],
    action: str,
    resource: str,
    contexts: Sequence[Context],
    **options: Any,
) -> Decision:
    """The decision over every documented shape of the request context: allowed only when each allows, an
    explicit deny when any denies (so a policy passes here only when it works whichever shape AWS uses)."""
    decisions = [decide(identity_policies, action, resource, c, **options) for c in contexts]
    if Decision.EXPLICIT_DENY in decisions:
        return Decision.EXPLICIT_DENY
    return (
        Decision.ALLOW
        if decisions and all(d is Decision.ALLOW for d in decisions)
        else Decision.IMPLICIT_DENY
    )
