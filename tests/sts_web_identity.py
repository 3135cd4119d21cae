"""STS ``AssumeRoleWithWebIdentity`` as AWS decides it, where moto's server hands out a session for any token
and any role (and, under ``iam_enforced``, wants the unsigned call signed):

- the call is not signed: "Calling AssumeRoleWithWebIdentity does not require the use of AWS security
  credentials" (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html);
- the token's issuer must be an IAM OIDC identity provider of the account, and its ``aud`` one of the
  provider's client ids (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html);
- the role's trust policy must allow ``sts:AssumeRoleWithWebIdentity`` to that provider (``Principal:
  {"Federated": <provider ARN>}``) with its conditions over the token's claims, keyed by the provider's
  host: ``token.actions.githubusercontent.com:aud``, ``...:sub``
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif,
  https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services);
- a refusal is ``AccessDenied`` "Not authorized to perform sts:AssumeRoleWithWebIdentity" (403).

The token's signature is not checked (the tests' tokens are made by tests/workflow_runner.py); its claims are.
"""

from __future__ import annotations

import base64
import json
from typing import Any

ACTION = "AssumeRoleWithWebIdentity"


def _claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _refused(message: str) -> Exception:
    """STS's error for ``message``: InvalidIdentityToken (400) for a token the account does not take,
    AccessDenied (403) for a trust policy that refuses it."""
    from moto.core.exceptions import _RESTError as RESTError

    code, _, text = message.partition(": ") if message.startswith("InvalidIdentityToken") else ("", "", "")
    if code:
        return RESTError("InvalidIdentityToken", text)
    error = RESTError("AccessDenied", message)
    error.code = 403
    return error


def refusal(account: str, partition: str, role_arn: str, token: str) -> str | None:
    """Why AWS refuses the web identity ``token`` for ``role_arn`` (None: it hands out a session)."""
    from moto.iam.models import iam_backends

    from iam_evaluation import Decision, PolicyError, Principal, decide

    claims = _claims(token)
    if claims is None or not isinstance(claims.get("iss"), str):
        return "InvalidIdentityToken: the token is not a JWT with an issuer"
    host = str(claims["iss"]).removeprefix("https://").rstrip("/")
    backend = iam_backends[account][partition]
    provider_arn = f"arn:{partition}:iam::{account}:oidc-provider/{host}"
    provider = backend.open_id_providers.get(provider_arn)
    if provider is None:
        return f"InvalidIdentityToken: no OpenIDConnect provider found in your account for https://{host}"
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if not any(audience in provider.client_id_list for audience in audiences):
        return "InvalidIdentityToken: Incorrect token audience"
    try:
        role = backend.get_role_by_arn(role_arn)
    except Exception:
        return f"Not authorized to perform sts:{ACTION}"
    context = {f"{host}:{claim}": value for claim, value in claims.items() if isinstance(value, str)}
    try:
        decision = decide(
            [],
            f"sts:{ACTION}",
            role_arn,
            context,
            resource_policy=json.loads(role.assume_role_policy_document),
            principal=Principal(arn=provider_arn, account="", federated=provider_arn),
        )
    except PolicyError as error:
        return f"the role's trust policy cannot be decided: {error}"
    return None if decision is Decision.ALLOW else f"Not authorized to perform sts:{ACTION}"


def _deciding(answer: Any) -> Any:
    def assume_role_with_web_identity(self: Any) -> Any:
        from moto.utilities.utils import get_partition

        role_arn = self._get_param("RoleArn")
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else self.current_account
        why = refusal(
            account, get_partition(self.region), role_arn, self._get_param("WebIdentityToken") or ""
        )
        if why is not None:
            raise _refused(why)
        return answer(self)

    return assume_role_with_web_identity


def _unsigned(check: Any) -> Any:
    def _authenticate_and_authorize_normal_action(self: Any, resource: str = "*") -> None:
        if self._get_action() == ACTION:
            return
        check(self, resource)

    return _authenticate_and_authorize_normal_action


def install() -> None:
    """Decide web identities in moto's STS as AWS does (idempotent)."""
    from moto.sts.responses import TokenResponse

    if getattr(TokenResponse, "nfldeploy_web_identity", False):
        return
    TokenResponse.nfldeploy_web_identity = True  # type: ignore[attr-defined]
    TokenResponse.assume_role_with_web_identity = _deciding(TokenResponse.assume_role_with_web_identity)  # type: ignore[method-assign]
    TokenResponse._authenticate_and_authorize_normal_action = _unsigned(  # type: ignore[method-assign]
        TokenResponse._authenticate_and_authorize_normal_action
    )
