"""How callers reach a Lambda function's alias: a function URL (auth AWS_IAM or NONE, with the public
permission only while NONE) or an API Gateway HTTP API (bootstrap makes it and records it on the execution
role; throttled at the rate limit) in front of it. Grants to "*" on an alias other than the two a public URL
needs, and the API Gateway grant of older versions, are revoked."""

from __future__ import annotations

import json
from typing import Any

from nfldeploy.cloud.aws import AwsCalls, AwsClients
from nfldeploy.errors import ConfigError
from nfldeploy.settings import DeploySettings

ALIAS = "live"
PUBLIC_URL_STATEMENT = "nfldeploy-public-url"
#: Since October 2025 a public function URL also needs lambda:InvokeFunction granted to "*" (via the URL
#: only): https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
PUBLIC_INVOKE_STATEMENT = "nfldeploy-public-url-invoke"
#: What a public (AuthType NONE) URL grants "*": (statement id, action, the condition AddPermission sets).
PUBLIC_GRANTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (PUBLIC_URL_STATEMENT, "lambda:InvokeFunctionUrl", {"FunctionUrlAuthType": "NONE"}),
    (PUBLIC_INVOKE_STATEMENT, "lambda:InvokeFunction", {"InvokedViaFunctionUrl": True}),
)
#: The grant older nfldeploy deploys gave apigateway.amazonaws.com on alias live; the HTTP API now invokes
#: as the role bootstrap made (its integration's CredentialsArn), so deploy revokes it wherever it is.
API_STATEMENT = "nfldeploy-api-gateway"


def _condition(statement: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (operator, key.lower()): str(value).lower()
        for operator, block in (statement.get("Condition") or {}).items()
        for key, value in block.items()
    }


def _public(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    return principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*")


def is_public_grant(statement: dict[str, Any]) -> bool:
    """One of PUBLIC_GRANTS exactly, as Lambda stores it (AddPermission's FunctionUrlAuthType and
    InvokedViaFunctionUrl become conditions: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html)."""
    for sid, action, parameter in PUBLIC_GRANTS:
        ((name, value),) = parameter.items()
        operator = "StringEquals" if name == "FunctionUrlAuthType" else "Bool"
        wanted = {(operator, f"lambda:{name}".lower()): str(value).lower()}
        if (
            statement.get("Sid") == sid
            and statement.get("Action") == action
            and _condition(statement) == wanted
        ):
            return True
    return False


def canary_url_auth(settings: DeploySettings) -> str:
    """The auth of the canary alias's function URL, which lives only while a canary is in flight: the live
    URL's. Behind an HTTP API (no live URL): IAM without API keys; with API keys public (the keys still
    guard it, but not the API's throttle, until the canary ends), because SigV4 takes the Authorization
    header the bearer token needs (as ``check_url_auth`` refuses for the live URL)."""
    if settings.lambda_endpoint == "api_gateway":
        return "NONE" if settings.auth else "AWS_IAM"
    return settings.function_url_auth


def check_url_auth(settings: DeploySettings) -> None:
    """A public function URL (auth NONE) in front of a service without API keys is refused unless asked;
    API keys behind an AWS_IAM URL are refused too (both use the Authorization header: SigV4 would
    replace the bearer token)."""
    if settings.function_url_auth == "AWS_IAM" and settings.auth:
        raise ConfigError(
            "auth (API keys) with function_url_auth AWS_IAM cannot work: callers sign the Authorization "
            "header with SigV4, where the bearer token would go; nothing was changed",
            hint="Use IAM alone (auth = false), or API keys on a public URL (function_url_auth = NONE).",
        )
    if settings.function_url_auth == "NONE" and not settings.auth and not settings.allow_unauthenticated:
        raise ConfigError(
            "function_url_auth NONE without API keys (auth) would let anyone on the internet call the "
            "function; nothing was changed",
            hint="Keep function_url_auth = AWS_IAM (the default), set auth = true with api_keys_secret, "
            "or pass --allow-unauthenticated to make it public on purpose.",
        )


def check_api_auth(settings: DeploySettings) -> None:
    """The HTTP API is public: refused without API keys unless asked for."""
    if settings.lambda_endpoint == "api_gateway" and not settings.auth and not settings.allow_unauthenticated:
        raise ConfigError(
            "an API Gateway HTTP API without API keys (auth) would let anyone call the function; "
            "nothing was changed",
            hint="Set auth = true with api_keys_secret, or pass --allow-unauthenticated on purpose.",
        )


class LambdaEndpoints:
    """The function URLs and the HTTP API of the function ``function``."""

    def __init__(
        self, clients: AwsClients, calls: AwsCalls, function: str, region: str, endpoint: str
    ) -> None:
        self.aws, self.calls, self.function, self.region = clients, calls, function, region
        self.endpoint = endpoint  # how callers reach alias live: "function_url" or "api_gateway"

    def url_config(self, alias: str = ALIAS) -> dict[str, Any] | None:
        found = self.calls.get(
            "reading the function URL",
            self.aws.lambda_.get_function_url_config,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Qualifier=alias,
        )
        return None if found is None else dict(found)

    def url_configs(self) -> dict[str, dict[str, Any]]:
        """Every function URL of the function, by qualifier ($LATEST for the unqualified one): all pages of
        ListFunctionUrlConfigs (at most 50 a page, https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctionUrlConfigs.html)."""
        listed = self.calls.pages(
            "listing the function URLs",
            self.aws.lambda_,
            "list_function_url_configs",
            "FunctionUrlConfigs",
            "ResourceNotFoundException",
            FunctionName=self.function,
        )
        configs: dict[str, dict[str, Any]] = {}
        for config in listed or []:
            arn = str(config["FunctionArn"])
            qualified = arn.split(":function:", 1)[-1].split(":")
            configs[qualified[1] if len(qualified) > 1 else "$LATEST"] = dict(config)
        return configs

    def url(self, alias: str = ALIAS) -> str | None:
        config = self.url_config(alias)
        return None if config is None else str(config["FunctionUrl"])

    def api(self) -> dict[str, Any] | None:
        """The HTTP API bootstrap recorded for this function, carrying its tag (never one found by the tag
        alone: another API may carry it)."""
        from nfldeploy.targets.lambda_http_api import recorded_api

        return recorded_api(self.aws, self.calls, self.function)

    def recorded_api_id(self) -> str | None:
        """The id of the HTTP API bootstrap recorded on the execution role (its tag), whether or not the API
        still exists: while it is recorded, bootstrap has not removed it."""
        from nfldeploy.targets.lambda_http_api import RECORD_TAG, role_tags

        return (role_tags(self.aws, self.calls, self.function) or {}).get(RECORD_TAG)

    def api_throttling(self, api: dict[str, Any]) -> dict[str, Any]:
        """The $default stage's throttling; a missing stage is bootstrap's to make."""
        stage = self.calls.get(
            "reading the API's stage",
            self.aws.apigateway.get_stage,
            "NotFoundException",
            ApiId=api["ApiId"],
            StageName="$default",
        )
        if stage is None:
            from nfldeploy.targets.lambda_bootstrap import needs_bootstrap

            raise needs_bootstrap(f"the HTTP API {api['ApiId']} of {self.function} has no $default stage")
        routes = stage.get("DefaultRouteSettings", {})
        return {"rate": routes.get("ThrottlingRateLimit"), "burst": routes.get("ThrottlingBurstLimit")}

    def statements(self, alias: str) -> list[dict[str, Any]]:
        """The resource policy of ``alias`` (Lambda keeps one per qualifier); [] without one."""
        found = self.calls.get(
            "reading the function's policy",
            self.aws.lambda_.get_policy,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Qualifier=alias,
        )
        return list(json.loads(found["Policy"]).get("Statement", [])) if found else []

    def stray_grants(self, alias: str) -> list[str]:
        """The statements of ``alias`` that nfldeploy would not have made and a deployer could have: grants to
        "*" other than the public URL's two (AddPermission has no condition key for the granted action), and
        the API Gateway grant of older versions."""
        return [
            str(s.get("Sid"))
            for s in self.statements(alias)
            if (_public(s) and not is_public_grant(s)) or s.get("Sid") == API_STATEMENT
        ]

    def revoke(self, alias: str, statement: str) -> None:
        self.calls.get(
            f"revoking the grant {statement}",
            self.aws.lambda_.remove_permission,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Qualifier=alias,
            StatementId=statement,
        )

    def ensure_url(self, auth: str, alias: str = ALIAS) -> None:
        existing = self.url(alias)
        if existing is None:
            self.calls.call(
                "creating the function URL",
                self.aws.lambda_.create_function_url_config,
                FunctionName=self.function,
                Qualifier=alias,
                AuthType=auth,
            )
        else:
            self.calls.call(
                "updating the function URL",
                self.aws.lambda_.update_function_url_config,
                FunctionName=self.function,
                Qualifier=alias,
                AuthType=auth,
            )
        if auth != "NONE":  # no longer public: the permission that made it so goes too
            self.revoke_public(alias)
        else:  # both permissions, or AWS answers every call through the URL with 403
            for statement, action, condition in PUBLIC_GRANTS:
                self.calls.get(
                    f"allowing public {action} through the function URL",
                    self.aws.lambda_.add_permission,
                    "ResourceConflictException",
                    FunctionName=self.function,
                    Qualifier=alias,
                    StatementId=statement,
                    Action=action,
                    Principal="*",
                    **condition,
                )

    def remove_url(self) -> None:
        self.calls.get(
            "removing the function URL",
            self.aws.lambda_.delete_function_url_config,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Qualifier=ALIAS,
        )
        self.revoke_public(ALIAS)

    def revoke_public(self, alias: str) -> None:
        """Remove the permissions that let anyone invoke ``alias`` through its function URL (if any): Lambda
        keeps a resource policy per qualifier, so each alias's grants are its own."""
        for statement, _, _ in PUBLIC_GRANTS:
            self.calls.get(
                "removing public invocation",
                self.aws.lambda_.remove_permission,
                "ResourceNotFoundException",
                FunctionName=self.function,
                Qualifier=alias,
                StatementId=statement,
            )

    def end_canary(self, alias: str) -> None:
        """The canary ended (promoted, rolled back, replaced by a deploy without one, or failed its check):
        its function URL, the grants that made it public, and the alias itself are deleted, so no door
        stays open on a version that takes no traffic of its own. The grants go first: should a later call
        fail, what is left is a URL nobody may call, never grants to everyone."""
        exists = self.calls.get(
            "reading the canary alias",
            self.aws.lambda_.get_alias,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Name=alias,
        )
        if exists:
            self.revoke_public(alias)
        self.calls.get(
            "removing the canary's function URL",
            self.aws.lambda_.delete_function_url_config,
            "ResourceNotFoundException",
            FunctionName=self.function,
            Qualifier=alias,
        )
        if exists:
            self.calls.get(
                "deleting the canary alias",
                self.aws.lambda_.delete_alias,
                "ResourceNotFoundException",
                FunctionName=self.function,
                Name=alias,
            )

    def ensure_api(self, throttling: dict[str, Any]) -> None:
        """The HTTP API bootstrap made (its $default route proxies to alias live, invoking it as the role
        bootstrap made): its $default stage throttled as the settings say."""
        api = self.api()
        if api is None:
            from nfldeploy.targets.lambda_bootstrap import needs_bootstrap

            raise needs_bootstrap(f"the HTTP API of {self.function} is missing")
        if self.api_throttling(api) != throttling:
            self.calls.call(
                "updating the API's throttling",
                self.aws.apigateway.update_stage,
                ApiId=api["ApiId"],
                StageName="$default",
                DefaultRouteSettings={
                    "ThrottlingRateLimit": throttling["rate"],
                    "ThrottlingBurstLimit": throttling["burst"],
                },
            )

    def endpoint_url(self) -> str | None:
        """Where callers reach alias live: the HTTP API's endpoint, or the function URL."""
        if self.endpoint == "api_gateway":
            api = self.api()
            return None if api is None else str(api["ApiEndpoint"])
        return self.url()
