"""The HTTP API in front of a Lambda function (``lambda_endpoint = "api_gateway"``), as bootstrap makes, checks
and repairs it and deploy finds it.

Bootstrap records the API's id as a tag of the execution role (``RECORD_TAG``), which only an admin can write
(the deployer may read the role, never tag it); deploy reads the API by that id and checks its service tag,
so another API carrying the tag is never the one deploy throttles or reports. Without a record (a first run,
or an API an older nfldeploy made) one API carrying the service's tag is adopted only when everything in it
fronts this function's alias live; an API with another integration, or more than one API with the tag, is
refused. What the API needs is checked piece by piece (its tag, the Lambda integration on alias live with
payload 2.0 and the invoke role, the $default route to it, the $default stage with its own tag and
auto-deploy) and what is missing is planned, so an upgrade or a run that stopped part-way is finished by the
next one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nfldeploy.cloud.aws import AwsCalls, AwsClients
from nfldeploy.cloud.lambda_deployer import API_TAG, execution_role_name, partition_of_region
from nfldeploy.errors import ConfigError
from nfldeploy.targets.base import Action

#: The execution role's tag naming the HTTP API bootstrap made or adopted.
RECORD_TAG = "nfldeploy-http-api"
STAGE = "$default"
ALIAS = "live"


def role_tags(aws: AwsClients, calls: AwsCalls, function: str) -> dict[str, str] | None:
    """The execution role's tags (GetRole returns them); None when the role is missing."""
    found = calls.get(
        "reading the role", aws.iam.get_role, "NoSuchEntity", RoleName=execution_role_name(function)
    )
    if found is None:
        return None
    return {tag["Key"]: tag["Value"] for tag in found["Role"].get("Tags", [])}


def read_api(aws: AwsClients, calls: AwsCalls, api_id: str) -> dict[str, Any] | None:
    if aws.apigateway is None:
        raise ConfigError("no API Gateway client was given to the Lambda target")
    found = calls.get("reading the HTTP API", aws.apigateway.get_api, "NotFoundException", ApiId=api_id)
    return None if found is None else dict(found)


def recorded_api(aws: AwsClients, calls: AwsCalls, function: str) -> dict[str, Any] | None:
    """The HTTP API bootstrap recorded for ``function``, when it still carries the service's tag; None
    otherwise (deploy then says to run bootstrap)."""
    api_id = (role_tags(aws, calls, function) or {}).get(RECORD_TAG)
    api = read_api(aws, calls, api_id) if api_id else None
    if api is None or api.get("Tags", {}).get(API_TAG) != function:
        return None
    return api


def live_arn(region: str, account: str, function: str) -> str:
    return f"arn:{partition_of_region(region)}:lambda:{region}:{account}:function:{function}:{ALIAS}"


def stage_arn(region: str, api_id: str, stage: str = STAGE) -> str:
    return f"arn:{partition_of_region(region)}:apigateway:{region}::/apis/{api_id}/stages/{stage}"


def api_arn(region: str, api_id: str) -> str:
    return f"arn:{partition_of_region(region)}:apigateway:{region}::/apis/{api_id}"


def _fronts(integration: dict[str, Any], live: str) -> bool:
    """An integration on alias live: its ARN, or the Lambda invocation URI that names it."""
    uri = str(integration.get("IntegrationUri", ""))
    return uri == live or uri.endswith(f"/functions/{live}/invocations")


@dataclass(frozen=True)
class ApiRepairs:
    """What bootstrap does to the HTTP API: its id (None: create it), and the ids of the pieces it keeps."""

    api_id: str | None = None
    integration_id: str | None = None
    route_id: str | None = None
    delete_id: str | None = None


class HttpApis:
    """Reads and plans the HTTP API of ``function`` for bootstrap."""

    def __init__(self, aws: AwsClients, calls: AwsCalls, function: str, region: str) -> None:
        self.aws, self.calls, self.function, self.region = aws, calls, function, region

    @property
    def gateway(self) -> Any:
        if self.aws.apigateway is None:
            raise ConfigError("no API Gateway client was given to the Lambda bootstrap")
        return self.aws.apigateway

    def tagged(self) -> list[dict[str, Any]]:
        """Every HTTP API of the region carrying the service's tag (all pages of GetApis)."""
        pages = self.gateway.get_paginator("get_apis").paginate()
        listed = self.calls.call(
            "listing the HTTP APIs", lambda: [api for page in pages for api in page["Items"]]
        )
        return [dict(api) for api in listed if api.get("Tags", {}).get(API_TAG) == self.function]

    def _items(self, what: str, method: str, api_id: str) -> list[dict[str, Any]]:
        pages = self.gateway.get_paginator(method).paginate(ApiId=api_id)
        return [dict(i) for i in self.calls.call(what, lambda: [i for p in pages for i in p["Items"]])]

    def stage(self, api_id: str) -> dict[str, Any] | None:
        found = self.calls.get(
            "reading the API's stage",
            self.gateway.get_stage,
            "NotFoundException",
            ApiId=api_id,
            StageName=STAGE,
        )
        return None if found is None else dict(found)

    def recorded(self, tags: dict[str, str] | None) -> str | None:
        return (tags or {}).get(RECORD_TAG)

    def integrations(self, api_id: str) -> list[dict[str, Any]]:
        return self._items("listing the API's integrations", "get_integrations", api_id)

    # -- plan --------------------------------------------------------------------------------------------
    def plan_removal(self, tags: dict[str, str] | None, account: str) -> tuple[list[Action], ApiRepairs]:
        """``lambda_endpoint`` is the function URL: the API bootstrap recorded (or the one an older nfldeploy
        made: the only API with the tag, fronting alias live and nothing else) is deleted."""
        api_id = self.recorded(tags)
        api = read_api(self.aws, self.calls, api_id) if api_id else None
        if api is None:
            tagged = self.tagged()
            live = live_arn(self.region, account, self.function)
            if len(tagged) == 1:
                found = self.integrations(str(tagged[0]["ApiId"]))
                if found and all(_fronts(i, live) for i in found):
                    api = tagged[0]
        actions: list[Action] = []
        if api is not None:
            actions.append(
                Action(
                    "delete_http_api",
                    str(api["ApiId"]),
                    f"lambda_endpoint is function_url: {api.get('ApiEndpoint', '')} stops answering "
                    "(deploy first, so that the function URL serves)",
                )
            )
        if api_id is not None:
            actions.append(
                Action("forget_http_api", execution_role_name(self.function), f"untag {RECORD_TAG}")
            )
        return actions, ApiRepairs(delete_id=str(api["ApiId"]) if api is not None else None)

    def plan(
        self, tags: dict[str, str] | None, account: str, invoke_role: str, throttling: dict[str, float]
    ) -> tuple[list[Action], ApiRepairs]:
        """What to create or repair so the API fronts alias live as bootstrap makes it."""
        tagged = self.tagged()
        api_id = self.recorded(tags)
        api = read_api(self.aws, self.calls, api_id) if api_id else None
        others = [a for a in tagged if api is None or a["ApiId"] != api["ApiId"]]
        if api is None and len(others) == 1:
            api = others.pop()
            adopted = True
        else:
            adopted = False
        if others:
            raise ConfigError(
                f"more than one HTTP API carries the tag {API_TAG}={self.function}: "
                f"{', '.join(str(a['ApiId']) for a in [*([api] if api else []), *others])}; nothing was changed",
                hint=f"Delete the ones nfldeploy did not make, or remove their {API_TAG} tag (aws apigatewayv2 "
                "untag-resource), then run bootstrap again: the deployer's policy reaches every stage with it.",
            )
        detail = (
            f"HTTP API tagged {API_TAG}={self.function}: $default route to alias {ALIAS} (payload 2.0, as "
            f"role {invoke_role.rsplit('/', 1)[-1]}), $default stage throttled at {throttling['rate']:g} rps "
            f"(burst {throttling['burst']:g}); recorded on the execution role"
        )
        if api is None:
            return [Action("create_http_api", self.function, detail)], ApiRepairs()
        api_id = str(api["ApiId"])
        live = live_arn(self.region, account, self.function)
        integrations = self.integrations(api_id)
        foreign = [
            f"{i.get('IntegrationId')} ({i.get('IntegrationUri') or i.get('IntegrationType')})"
            for i in integrations
            if not _fronts(i, live)
        ]
        if foreign:
            raise ConfigError(
                f"the HTTP API {api_id} carries the tag {API_TAG}={self.function} but has integrations that "
                f"do not front alias {ALIAS} of {self.function}: {', '.join(foreign)}; nfldeploy did not make "
                "it as it is, so it is not adopted (deploy would let it reach the function); nothing was changed",
                hint=f"Delete it or remove its {API_TAG} tag, then run bootstrap again, which makes the API.",
            )
        return self._repairs(api, integrations, adopted, invoke_role, throttling)

    def _repairs(
        self,
        api: dict[str, Any],
        integrations: list[dict[str, Any]],
        adopted: bool,
        invoke_role: str,
        throttling: dict[str, float],
    ) -> tuple[list[Action], ApiRepairs]:
        api_id = str(api["ApiId"])
        actions: list[Action] = []
        if adopted:
            if not integrations:
                raise ConfigError(
                    f"the HTTP API {api_id} carries the tag {API_TAG}={self.function} but fronts nothing: "
                    "nfldeploy did not make it (or a bootstrap stopped before recording it), so it is not "
                    "adopted; nothing was changed",
                    hint=f"Delete it (aws apigatewayv2 delete-api --api-id {api_id}) or remove its tag, then "
                    "run bootstrap again, which makes the API.",
                )
            actions.append(
                Action("adopt_http_api", api_id, f"fronts alias {ALIAS} only: recorded on the execution role")
            )
        if api.get("Tags", {}).get(API_TAG) != self.function:
            actions.append(Action("api_tag", api_id, f"tag {API_TAG}={self.function}"))
        integration = integrations[0] if integrations else None
        if integration is None:
            actions.append(Action("api_integration", api_id, f"Lambda proxy on alias {ALIAS} (payload 2.0)"))
        elif (
            integration.get("PayloadFormatVersion") != "2.0"
            or integration.get("CredentialsArn") != invoke_role
        ):
            actions.append(
                Action(
                    "api_integration",
                    str(integration["IntegrationId"]),
                    f"payload 2.0, invokes as {invoke_role.rsplit('/', 1)[-1]} (no resource-policy grant)",
                )
            )
        target = f"integrations/{integration['IntegrationId']}" if integration else None
        routes = self._items("listing the API's routes", "get_routes", api_id)
        default = next((r for r in routes if r.get("RouteKey") == "$default"), None)
        if default is None or target is None or default.get("Target") != target:
            actions.append(Action("api_route", api_id, f"$default route to alias {ALIAS}"))
        stage = self.stage(api_id)
        if stage is None:
            actions.append(
                Action(
                    "api_stage",
                    api_id,
                    f"$default stage, auto-deployed, throttled at {throttling['rate']:g} rps "
                    f"(burst {throttling['burst']:g}), tagged {API_TAG}={self.function}",
                )
            )
        else:
            if stage.get("Tags", {}).get(API_TAG) != self.function:
                actions.append(
                    Action(
                        "api_stage_tag",
                        api_id,
                        f"its own tag {API_TAG}={self.function} (stages do not inherit the API's): the deployer's "
                        "throttling statement is conditioned on it",
                    )
                )
            if not stage.get("AutoDeploy"):
                actions.append(Action("api_stage_auto_deploy", api_id, "auto-deploy the $default stage"))
        repairs = ApiRepairs(
            api_id=api_id,
            integration_id=str(integration["IntegrationId"]) if integration else None,
            route_id=str(default["RouteId"]) if default else None,
        )
        return actions, repairs

    # -- apply -------------------------------------------------------------------------------------------
    def apply(
        self,
        kinds: set[str],
        repairs: ApiRepairs,
        account: str,
        invoke_role: str,
        throttling: dict[str, float],
        made: list[str],
    ) -> str | None:
        """Create or repair the API as planned, appending what was made to ``made``; its id."""
        gateway, tags = self.gateway, {API_TAG: self.function}
        if "delete_http_api" in kinds and repairs.delete_id:
            self.calls.get(
                "deleting the HTTP API", gateway.delete_api, "NotFoundException", ApiId=repairs.delete_id
            )
            made.append(f"HTTP API {repairs.delete_id} deleted")
        if "forget_http_api" in kinds:
            self.calls.get(
                "untagging the execution role",
                self.aws.iam.untag_role,
                "NoSuchEntity",
                RoleName=execution_role_name(self.function),
                TagKeys=[RECORD_TAG],
            )
        if kinds & {"delete_http_api", "forget_http_api"}:
            return None
        api_id = repairs.api_id
        integration_id, route_id = repairs.integration_id, repairs.route_id
        if "create_http_api" in kinds:
            created = self.calls.call(
                "creating the HTTP API",
                gateway.create_api,
                Name=self.function,
                ProtocolType="HTTP",
                Description=f"nfldeploy: the inference API of {self.function}",
                Tags=tags,
            )
            api_id = str(created["ApiId"])
            made.append(f"HTTP API {api_id}")
        if api_id is None:
            return None
        if kinds & {"create_http_api", "adopt_http_api"}:
            self._record(api_id)  # at once: a run that stops after this finds the API by its record
            made.append(f"its record on role {execution_role_name(self.function)}")
        if "api_tag" in kinds:
            self.calls.call(
                "tagging the HTTP API",
                gateway.tag_resource,
                ResourceArn=api_arn(self.region, api_id),
                Tags=tags,
            )
            made.append(f"tag {API_TAG} on HTTP API {api_id}")
        integration = {
            "PayloadFormatVersion": "2.0",
            "CredentialsArn": invoke_role,
            "IntegrationUri": live_arn(self.region, account, self.function),
        }
        if {"create_http_api", "api_integration"} & kinds:
            if integration_id is None:
                created = self.calls.call(
                    "creating the Lambda integration",
                    gateway.create_integration,
                    ApiId=api_id,
                    IntegrationType="AWS_PROXY",
                    **integration,
                )
                integration_id = str(created["IntegrationId"])
                made.append(f"integration {integration_id}")
            else:
                self.calls.call(
                    "updating the Lambda integration",
                    gateway.update_integration,
                    ApiId=api_id,
                    IntegrationId=integration_id,
                    **integration,
                )
                made.append(f"integration {integration_id} updated")
        if {"create_http_api", "api_route"} & kinds:
            target = f"integrations/{integration_id}"
            if route_id is None:
                created = self.calls.call(
                    "creating the $default route",
                    gateway.create_route,
                    ApiId=api_id,
                    RouteKey="$default",
                    Target=target,
                )
                made.append(f"route {created['RouteId']}")
            else:
                self.calls.call(
                    "pointing the $default route at alias live",
                    gateway.update_route,
                    ApiId=api_id,
                    RouteId=route_id,
                    Target=target,
                )
                made.append(f"route {route_id} updated")
        if {"create_http_api", "api_stage"} & kinds:
            self.calls.call(
                "creating the $default stage",
                gateway.create_stage,
                ApiId=api_id,
                StageName=STAGE,
                AutoDeploy=True,
                DefaultRouteSettings={
                    "ThrottlingRateLimit": throttling["rate"],
                    "ThrottlingBurstLimit": int(throttling["burst"]),
                },
                Tags=tags,
            )
            made.append("stage $default")
        if "api_stage_tag" in kinds:
            self.calls.call(
                "tagging the $default stage",
                gateway.tag_resource,
                ResourceArn=stage_arn(self.region, api_id),
                Tags=tags,
            )
            made.append(f"tag {API_TAG} on stage $default")
        if "api_stage_auto_deploy" in kinds:
            self.calls.call(
                "auto-deploying the $default stage",
                gateway.update_stage,
                ApiId=api_id,
                StageName=STAGE,
                AutoDeploy=True,
            )
        return api_id

    def _record(self, api_id: str) -> None:
        self.calls.call(
            "recording the HTTP API on the execution role",
            self.aws.iam.tag_role,
            RoleName=execution_role_name(self.function),
            Tags=[{"Key": RECORD_TAG, "Value": api_id}],
        )
