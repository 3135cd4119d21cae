"""The AWS facade: the only module that imports boto3 and botocore.

Credentials come from the standard chain (env, shared files, SSO, the instance or task role; on Lambda the
execution role); AWS_ENDPOINT_URL is honoured, which is how the tests reach moto. Nothing here prints or
writes a credential."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nfldeploy.cloud.call_limits import CallLimits
from nfldeploy.errors import ConfigError, DeployError, PushError

#: Seconds between attempts while a new execution role propagates (IAM is eventually consistent: Lambda
#: refuses a role it cannot assume yet for several seconds after create_role).
ROLE_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0)


#: An ARN in any AWS partition (aws, aws-cn, aws-us-gov, ...): arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE.
ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):")


def partition_of(arn: str) -> str:
    """The partition an ARN lives in (``aws-cn`` for China, ``aws-us-gov`` for GovCloud): ARNs nfldeploy
    writes (managed policies, API sources) must use the caller's, or AWS refuses them."""
    found = ARN.match(arn)
    if found is None:
        raise ConfigError(f"{arn!r} is not an AWS ARN")
    return found.group("partition")


def is_arn_of(arn: str, service: str) -> bool:
    """Whether ``arn`` names a resource of ``service`` (e.g. secretsmanager), in any partition."""
    found = ARN.match(arn)
    return found is not None and found.group("service") == service


def credential_source() -> str | None:
    """How the standard AWS chain finds credentials ("env", "shared-credentials-file", ...), or None.

    Never returns the credentials themselves.
    """
    import boto3

    credentials = boto3.Session().get_credentials()
    return None if credentials is None else str(credentials.method)


def frozen_credentials() -> Any:
    """The chain's current credentials, for signing requests; a ConfigError when there are none."""
    import boto3

    found = boto3.Session().get_credentials()
    if found is None:
        raise ConfigError(
            "the endpoint takes SigV4-signed requests (IAM) and no AWS credentials were found",
            hint="Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY with lambda:InvokeFunctionUrl.",
        )
    return found.get_frozen_credentials()


def sigv4_headers(
    credentials: Any, service: str, region: str, method: str, url: str, body: bytes, headers: dict[str, str]
) -> dict[str, str]:
    """The headers of the request, signed with AWS Signature Version 4 (botocore's signer)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    signed = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials, service, region).add_auth(signed)
    return {str(name): str(value) for name, value in signed.headers.items()}


def ecr_login(region: str, client: Any | None = None) -> dict[str, str]:
    """Registry credentials from ECR's authorization token. Never written anywhere: handed to the push only."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        ecr = client or boto3.client("ecr", region_name=region)
        data = ecr.get_authorization_token()["authorizationData"][0]
    except (BotoCoreError, ClientError) as exc:
        raise PushError(
            f"cannot get an ECR token in {region}: {exc}", hint="Check the AWS credentials and region."
        ) from exc
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return {"username": username, "password": password}


def read_secret_string(arn: str) -> str:
    """The string of the Secrets Manager secret ``arn`` (its region is read from the ARN)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    region = arn.split(":")[3] if arn.count(":") >= 6 else None
    try:
        value = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=arn)
    except (BotoCoreError, ClientError) as exc:
        raise ConfigError(f"cannot read the API keys secret {arn}: {exc}") from exc
    return str(value.get("SecretString") or "")


@dataclass(frozen=True)
class AwsClients:
    """The boto3 clients the Lambda target uses (injected, so tests can hand in stubbed ones)."""

    lambda_: Any
    ecr: Any
    iam: Any
    apigateway: Any = None  # apigatewayv2, for lambda_endpoint = "api_gateway"
    logs: Any = None  # CloudWatch Logs, for nfldeploy logs
    secrets: Any = None  # Secrets Manager, for nfldeploy bootstrap (completing a partial secret ARN)
    sts: Any = None  # STS, for nfldeploy bootstrap (the account its credentials are in)

    #: botocore's service name of each field, in field order.
    SERVICES = ("lambda", "ecr", "iam", "apigatewayv2", "logs", "secretsmanager", "sts")

    @classmethod
    def made_by(cls, client: Callable[[str], Any]) -> AwsClients:
        """One client of each service, ``client(service name)``."""
        return cls(*(client(service) for service in cls.SERVICES))


def client_config(limits: CallLimits) -> Any:
    """botocore's retries for every client: the ``standard`` mode, which retries throttling
    (ThrottlingException, TooManyRequestsException, ...), 5xx and connection errors with exponential backoff,
    ``total_max_attempts`` counting the first call
    (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html,
    https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html); each attempt waits at most
    ``limits.timeout`` seconds to connect and for an answer."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": limits.attempts},
        read_timeout=limits.timeout,
        connect_timeout=limits.timeout,
    )


def aws_clients(region: str, limits: CallLimits | None = None) -> AwsClients:
    """Clients from the standard AWS credential chain, retrying and timing out as ``limits`` say."""
    import boto3

    session = boto3.Session(region_name=region)
    config = client_config(limits or CallLimits())

    return AwsClients.made_by(lambda service: session.client(service, config=config))


def _role_not_ready(exc: Exception) -> bool:
    """Lambda's answer while a new role has not propagated yet."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    return (
        error.get("Code") == "InvalidParameterValueException" and "role" in str(error.get("Message")).lower()
    )


#: Lambda pulls a function's image as lambda.amazonaws.com: the repository policy must grant it
#: ecr:BatchGetImage and ecr:GetDownloadUrlForLayer, else CreateFunction / UpdateFunctionCode answer
#: "Lambda does not have permission to access the ECR image"
#: (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html#configuration-images-permissions).
PULL_HINT = (
    "The repository policy does not let Lambda (lambda.amazonaws.com) pull this function's image: run "
    "nfldeploy bootstrap --target lambda with admin credentials (same settings) to restore its pull statement."
)


def _pull_refused(error: dict[str, Any]) -> bool:
    return error.get("Code") in ("InvalidParameterValueException", "AccessDeniedException") and (
        "permission to access the ECR image" in str(error.get("Message"))
    )


#: Lambda's answers to a change that another one overtook: a RevisionId that is no longer the resource's
#: (412, https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html) or an update already in progress
#: / the resource already there (409, https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
CONFLICTS = ("PreconditionFailedException", "ResourceConflictException")
CONFLICT_HINT = (
    "Another release (or person) changed it at the same time and this one stopped there. Deploy again "
    "once the other has finished: the plan starts from what it left."
)


class AwsCalls:
    """Calls on behalf of ``subject`` (a function name): any failure becomes a DeployError that names it and
    quotes AWS, with a hint for missing credentials and denied permissions."""

    def __init__(self, subject: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.subject, self.sleep = subject, sleep

    def error(self, what: str, exc: Exception) -> DeployError:
        """The DeployError for ``exc`` raised while doing ``what``."""
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return DeployError(
                f"AWS {what} for {self.subject} failed: no AWS credentials found",
                hint="Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or assume a role (OIDC in CI).",
            )
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            denied = error.get("Code") in (
                "AccessDeniedException",
                "AccessDenied",
                "UnrecognizedClientException",
            )
            return DeployError(
                f"AWS {what} for {self.subject} failed: {error.get('Code')}: {error.get('Message')}",
                hint=PULL_HINT
                if _pull_refused(error)
                else "Check the caller's IAM permissions."
                if denied
                else CONFLICT_HINT
                if error.get("Code") in CONFLICTS
                else None,
            )
        return DeployError(f"AWS {what} for {self.subject} failed: {exc}")

    def call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """``fn(**kwargs)``; any failure is a DeployError."""
        return self.get(what, fn, "", **kwargs)

    def get(self, what: str, fn: Callable[..., Any], missing: str, **kwargs: Any) -> Any | None:
        """``fn(**kwargs)``, or None when AWS answers ``missing`` (e.g. ResourceNotFoundException)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            if missing and exc.response.get("Error", {}).get("Code") == missing:
                return None
            raise self.error(what, exc) from exc
        except BotoCoreError as exc:
            raise self.error(what, exc) from exc

    def pages(
        self, what: str, client: Any, operation: str, key: str, missing: str = "", **kwargs: Any
    ) -> list[Any] | None:
        """Every item under ``key`` of every page of ``operation``, read through botocore's paginator (its
        paginator model names the tokens), or None when AWS answers ``missing``. Each operation nfldeploy
        calls for which ``client.can_paginate`` is true goes through here: AWS answers one page at a time
        (e.g. 50 versions per ListVersionsByFunction), and a single call would see only the first."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return [
                item
                for page in client.get_paginator(operation).paginate(**kwargs)
                for item in page.get(key, [])
            ]
        except ClientError as exc:
            if missing and exc.response.get("Error", {}).get("Code") == missing:
                return None
            raise self.error(what, exc) from exc
        except BotoCoreError as exc:
            raise self.error(what, exc) from exc

    def call_while_role_propagates(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """``fn(**kwargs)``, retried with backoff while Lambda cannot assume the execution role yet; any other
        failure (a connection closed, a read timeout after botocore's retries) is a DeployError too."""
        from botocore.exceptions import BotoCoreError, ClientError

        for delay in (*ROLE_RETRY_DELAYS, None):
            try:
                return fn(**kwargs)
            except ClientError as exc:
                if delay is None or not _role_not_ready(exc):
                    raise self.error(what, exc) from exc
                self.sleep(delay)
            except BotoCoreError as exc:
                raise self.error(what, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def wait(waiter: Any, **kwargs: Any) -> str | None:
        """Run a boto3 waiter; None when it succeeded, else the reason AWS gave (or why it could not be asked:
        a connection closed on every attempt)."""
        from botocore.exceptions import BotoCoreError, WaiterError

        try:
            waiter.wait(**kwargs)
        except WaiterError as exc:
            reason = exc.last_response.get("Configuration", exc.last_response)
            return str(reason.get("StateReason") or reason.get("LastUpdateStatusReason") or exc)
        except BotoCoreError as exc:
            return f"waiting for it to be ready: {exc}"
        return None
