"""A Lambda function URL data plane for the tests: moto stores function URL configs (tests/moto_extensions.py,
one per qualifier) but never serves them. ``FunctionUrlFront`` serves the URLs moto hands out, as they are
(``https://<url-id>.lambda-url.<region>.on.aws/``), and does what Lambda does with a request:

- It is an HTTP proxy (``HTTPS_PROXY``) that terminates TLS for ``*.lambda-url.<region>.on.aws`` with a
  certificate of its own test CA (``SSL_CERT_FILE``: httpx, urllib and boto3 trust it), so a client signs
  and sends exactly what it would send to AWS, Host header included; any other host is refused (502). The URL
  config is found by the request's Host among moto's functions; an unknown one is 403.
- ``AuthType AWS_IAM``: the SigV4 signature is verified against moto's IAM access keys (users and role
  sessions), the credential scope must name the function's region and ``lambda`` (the signature's scope
  "restricts the signature to the specified Region and service":
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html), and the
  caller needs ``lambda:InvokeFunctionUrl`` (context ``lambda:FunctionUrlAuthType=AWS_IAM``) and
  ``lambda:InvokeFunction`` (context ``lambda:InvokedViaFunctionUrl=true``) on the qualified function ARN,
  each from its identity policy or, in the same account, the qualifier's resource policy ("either";
  https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html: "Starting in October 2025, new function URLs
  will require both lambda:InvokeFunctionUrl and lambda:InvokeFunction permissions"). Both are decided by
  ``moto_extensions.authorize`` (moto's signature check, tests/iam_evaluation.py's conditions).
- ``AuthType NONE``: no authentication, but "your function's resource-based policy is always in effect and
  must grant public access" (urls-auth.html): both actions must be allowed to an anonymous caller by the
  qualifier's resource policy (Lambda keeps one per qualifier: API_AddPermission.html, ``Qualifier``).
- A refusal is 403 ``{"Message":"Forbidden"}``, what a function URL answers (urls-auth.html: "users will get
  a 403 Forbidden error code"); ``refusals`` keeps why, for the tests.
- An alias is resolved to a version with its weighted routing (``AdditionalVersionWeights``: "Lambda routes
  the configured percentage of traffic to the additional version",
  https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html); the version's ImageUri,
  Environment, MemorySize, Timeout and role come from moto. The image runs under AWS's Runtime Interface
  Emulator (tests/lambda_rie.py), one execution environment per version, kept warm and removed by ``close``;
  an environment serves one request at a time ("each instance handles one request at a time",
  https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html), so requests to one version queue
  (Lambda would scale out instead: per-environment state such as rate-limit buckets is never split here).
  The function gets its execution role's temporary credentials, as Lambda provides them
  (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: "The access keys obtained from the function's
  execution role", https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html), from moto's STS,
  and AWS_ENDPOINT_URL naming moto's server.
- The event is payload format 2.0 as a function URL builds it and the response is mapped back as Lambda
  does (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html, "Request payload format",
  "Response payload format": a response without ``statusCode`` is 200, application/json, the JSON as the
  body). A BUFFERED URL invokes through the Invoke API, "The maximum payload size is 6 MB"
  (https://docs.aws.amazon.com/lambda/latest/dg/config-rs-invoke-furls.html): a larger event is 413, a larger
  response 502. A function error, a timeout or a failed init is 502 (the body is not documented; ours says
  which). RESPONSE_STREAM URLs are not served (a 500 that says so).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import random
import re
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ecr_registry
from lambda_rie import RieFunction

#: moto's account (moto.core.DEFAULT_ACCOUNT_ID) unless a test names another.
ACCOUNT = "123456789012"
URL_HOST = re.compile(r"^(?P<id>[a-z0-9]+)\.lambda-url\.(?P<region>[a-z0-9-]+)\.on\.aws$")
#: The Invoke API's synchronous payload limit (config-rs-invoke-furls.html, API_Invoke.html): 6 MB.
PAYLOAD_LIMIT = 6 * 1024 * 1024
FORBIDDEN = {"Message": "Forbidden"}
#: Content types whose body a function URL passes as text; any other body is base64 ("If the content type
#: of the request is binary, the body is base64-encoded": urls-invocation.html).
TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded|yaml))$"
)


@dataclass(frozen=True)
class HttpRequest:
    """One request as the front received it: the path with its query, the headers as sent, the body."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ",".join(values) if values else None

    @property
    def host(self) -> str:
        return (self.header("host") or "").split(":")[0].lower()


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Invocation:
    """What the front did with one request that reached a function."""

    url: str
    qualifier: str
    version: str
    caller: str | None  # the signer's ARN (AWS_IAM), None for a public URL
    status: int


@dataclass(frozen=True)
class Refusal:
    url: str
    status: int
    reason: str


def _json_response(status: int, body: Mapping[str, Any], error_type: str | None = None) -> HttpResponse:
    headers = [("Content-Type", "application/json")]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return HttpResponse(status, headers, json.dumps(body, separators=(",", ":")).encode())


# -- TLS: a test CA and a wildcard certificate per region ----------------------------------------------------


class Authority:
    """A CA made for this session; ``bundle`` (certifi's roots and this CA) is what SSL_CERT_FILE names."""

    def __init__(self, folder: Path) -> None:
        import certifi
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._serialization, self._ec = x509, hashes, serialization, ec
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nfldeploy tests function URL CA")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(pem)
        self.bundle = folder / "bundle.pem"
        self.bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + pem)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context(self, domain: str) -> ssl.SSLContext:
        """A server context with a certificate for ``*.domain``, made once."""
        with self._lock:
            if domain not in self._contexts:
                self._contexts[domain] = self._make(domain)
            return self._contexts[domain]

    def _make(self, domain: str) -> ssl.SSLContext:
        x509, serialization = self._x509, self._serialization
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = self._ec.generate_private_key(self._ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"*.{domain}")]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"*.{domain}")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, self._hashes.SHA256())
        )
        name = hashlib.sha256(domain.encode()).hexdigest()[:12]
        cert_file, key_file = self.folder / f"{name}.crt", self.folder / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        return context


# -- what moto holds --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """The function URL config a host names: its function (moto's $LATEST object) and qualifier."""

    function: Any
    qualifier: str
    config: Mapping[str, Any]
    region: str
    account: str

    @property
    def arn(self) -> str:
        base = str(self.function.function_arn).rsplit(":$LATEST", 1)[0]
        return base if self.qualifier == "$LATEST" else f"{base}:{self.qualifier}"


def _lambda_backend(account: str, region: str) -> Any:
    from moto.awslambda.models import lambda_backends

    return lambda_backends[account][region]


def find_route(host: str, account: str = ACCOUNT) -> Route | None:
    """The URL config whose FunctionUrl has ``host``, among moto's functions in the host's region."""
    found = URL_HOST.match(host)
    if found is None:
        return None
    region = found["region"]
    storage = _lambda_backend(account, region)._lambdas
    for entry in list(storage._functions.values()):
        function = entry["latest"]
        for qualifier, config in list(function.__dict__.get("nfldeploy_url_configs", {}).items()):
            if urlsplit(config["FunctionUrl"]).hostname == host:
                return Route(function, qualifier, config, region, account)
    return None


def resource_policy(route: Route) -> dict[str, Any] | None:
    """The qualifier's resource-based policy as moto keeps it (moto_extensions: one per qualifier)."""
    from moto_extensions import _policies, _policy_key

    policy = _policies(route.function).get(_policy_key(route.qualifier))
    if policy is None or not policy.statements:
        return None
    document: dict[str, Any] = policy.get_policy()["Policy"]
    return json.loads(json.dumps(document))  # a copy, never moto's own statements


def weighted_version(primary: str, weights: Mapping[str, float], draw: float) -> str:
    """The version a request runs for a uniform ``draw`` in [0, 1): each additional version of the alias's
    AdditionalVersionWeights for its weight's share, the alias's own version for the rest."""
    total = 0.0
    for version, weight in sorted(weights.items()):
        total += float(weight)
        if draw < total:
            return str(version)
    return primary


def pick_version(route: Route, rng: random.Random) -> str:
    """The version a request through ``route`` runs: $LATEST for the function's own URL, else the alias's."""
    if route.qualifier == "$LATEST":
        return "$LATEST"
    backend = _lambda_backend(route.account, route.region)
    alias = backend.get_alias(route.qualifier, route.function.function_name)
    weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
    return weighted_version(str(alias.function_version), weights, rng.random())


def _version_of(route: Route, version: str) -> Any:
    backend = _lambda_backend(route.account, route.region)
    return backend.get_function(route.function.function_name, None if version == "$LATEST" else version)


def role_credentials(account: str, region: str, role_arn: str, session: str) -> dict[str, str]:
    """Temporary credentials of ``role_arn`` from moto's STS, as Lambda hands its function the role's."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    assumed = sts_backends[account][get_partition(region)].assume_role(
        region_name=region,
        role_session_name=session[:64],
        role_arn=role_arn,
        policy=None,  # type: ignore[arg-type]
        duration=3600,
        external_id=None,  # type: ignore[arg-type]
    )
    return {
        "AWS_ACCESS_KEY_ID": assumed.access_key_id,
        "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
        "AWS_SESSION_TOKEN": assumed.session_token,
    }


ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<repository>[^:@]+)"
    r"(:(?P<tag>[^@]+))?(@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def ecr_image(uri: str) -> Any:
    """The image moto's ECR holds for ``uri`` (by digest or by tag)."""
    from moto.ecr.models import ecr_backends

    matched = ECR_URI.match(uri)
    found: dict[str, Any] | None = matched.groupdict() if matched else None
    if found is None and (location := ecr_registry.image_location(uri)) is not None:
        # the registry standing behind moto's ECR (tests/ecr_registry.py): host:port/<repository>[:tag][@digest]
        name, _, digest = uri.split("/", 1)[1].partition("@")
        repository_name, _, tag = name.partition(":")
        found = dict(zip(("account", "region"), location[:2], strict=True))
        found.update(repository=repository_name, tag=tag or None, digest=digest or None)
    if found is None:
        raise LookupError(f"{uri} is not an ECR image URI")
    repository = ecr_backends[found["account"]][found["region"]].repositories[found["repository"]]
    for image in repository.images:
        if found["digest"] and image.image_digest == found["digest"]:
            return image
        if not found["digest"] and (found["tag"] or "latest") in (image.image_tags or []):
            return image
    raise LookupError(f"moto's ECR holds no image {uri}")


def local_images(docker_client: Any) -> Callable[[str], str]:
    """The local image an ECR URI names: the one whose id is the config digest of the manifest moto's ECR
    holds (an image's id is its config's digest: https://github.com/opencontainers/image-spec/blob/main/config.md,
    "ImageID"); tests/ecr_local.py's ``ecr_via_local_registry`` records the pushed manifest there."""

    def local(uri: str) -> str:
        manifest = json.loads(ecr_image(uri).image_manifest)
        digest = str((manifest.get("config") or {}).get("digest"))
        try:
            return str(docker_client.images.get(digest).id)
        except Exception as error:
            raise LookupError(
                f"the local engine has no image {digest} ({uri}): push it with ecr_via_local_registry"
            ) from error

    return local


# -- the event and the answer (urls-invocation.html) -----------------------------------------------------------


def build_event(
    request: HttpRequest, route: Route, caller: Mapping[str, str] | None, now: float | None = None
) -> dict[str, Any]:
    """The payload 2.0 event a function URL makes of ``request`` (urls-invocation.html, "Request payload
    format"): headers lower-cased, repeated ones joined by commas, cookies in ``cookies``; the query raw and
    parsed (repeated keys joined by commas); the body base64-encoded unless its content type is text;
    ``requestContext.authorizer.iam`` the caller for AWS_IAM, else null. ``accountId`` is "The AWS account ID
    of the function owner" (the page's AWS_IAM example), "anonymous" in a captured public URL's event (the
    Powertools parser's sample): both shapes, by auth type."""
    now = time.time() if now is None else now
    url = urlsplit(request.path)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        elif key not in ("proxy-connection", "connection", "keep-alive"):
            headers[key] = f"{headers[key]},{value}" if key in headers else value
    host = route.config["FunctionUrl"]
    domain = urlsplit(host).hostname or ""
    headers.update(
        {
            "host": domain,
            "x-forwarded-for": request.source_ip,
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            "x-amzn-trace-id": f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}",
        }
    )
    query: dict[str, str] = {}
    for key, value in parse_qsl(url.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    iam = route.config["AuthType"] == "AWS_IAM"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path or "/",
        "rawQueryString": url.query,
        "headers": headers,
        "requestContext": {
            "accountId": route.account if iam else "anonymous",
            "apiId": domain.split(".")[0],
            "authentication": None,
            "authorizer": {"iam": dict(caller)} if iam and caller else None,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": request.method,
                "path": url.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if request.body:
        content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if TEXT_TYPES.match(content_type):
            event["body"] = request.body.decode("utf-8", errors="replace")
        else:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    return event


def http_answer(payload: bytes) -> HttpResponse:
    """The HTTP response Lambda makes of a function's answer (urls-invocation.html, "Response payload
    format"): ``statusCode``, ``headers``, ``cookies`` (each a Set-Cookie), ``body`` (base64-decoded with
    ``isBase64Encoded``); valid JSON without ``statusCode`` is a 200 application/json with that JSON as the
    body. Anything else is 502."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return _json_response(502, {"Message": "the function's response is not valid JSON"})
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return HttpResponse(200, [("Content-Type", "application/json")], payload)
    headers = [(str(k), str(v)) for k, v in (answer.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(c)) for c in answer.get("cookies") or []]
    body = answer.get("body")
    data = b"" if body is None else str(body).encode()
    if answer.get("isBase64Encoded") and body is not None:
        data = base64.b64decode(str(body))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(int(answer["statusCode"]), headers, data)


# -- the front -------------------------------------------------------------------------------------------------


def _title(name: str) -> str:
    """Header names as moto's signature check looks them up (``Authorization``, ``X-Amz-Date``, ...)."""
    return "-".join(part.capitalize() for part in name.split("-"))


@dataclass
class FunctionUrlFront:
    """The function URL data plane over moto's server (this process's): start it, point clients at it with
    ``environ()`` (HTTPS_PROXY, SSL_CERT_FILE) or ``client()``, ``close()`` it (every container removed)."""

    docker_client: Any
    moto_endpoint: str
    folder: Path
    image_for: Callable[[str], str] | None = None  # ECR URI -> local reference (default: local_images)
    account: str = ACCOUNT
    rng: random.Random = field(default_factory=random.Random)
    invocations: list[Invocation] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _environments: dict[tuple[Any, ...], tuple[RieFunction, threading.Lock]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FunctionUrlFront:
        self.authority = Authority(self.folder / "tls")
        if self.image_for is None:
            self.image_for = local_images(self.docker_client)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
        server.daemon_threads = True
        server.block_on_close = False
        server.front = self  # type: ignore[attr-defined]
        self._server = server
        threading.Thread(target=server.serve_forever, name="function-url-front", daemon=True).start()
        return self

    @property
    def proxy(self) -> str:
        assert self._server is not None, "start() the front first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def environ(self) -> dict[str, str]:
        """What a client process needs to reach function URLs through the front (and nothing else)."""
        return {
            "HTTPS_PROXY": self.proxy,
            "https_proxy": self.proxy,
            "SSL_CERT_FILE": str(self.authority.bundle),
        }

    @contextlib.contextmanager
    def routing(self, monkeypatch: Any) -> Iterator[FunctionUrlFront]:
        """This process's clients (httpx, urllib) go through the front while inside."""
        with monkeypatch.context() as patch:
            for name, value in self.environ().items():
                patch.setenv(name, value)
            patch.delenv("NO_PROXY", raising=False)
            patch.delenv("no_proxy", raising=False)
            yield self

    def client(self, **options: Any) -> Any:
        """An httpx client whose https requests go through the front."""
        import httpx

        context = ssl.create_default_context(cafile=str(self.authority.ca_file))
        return httpx.Client(proxy=self.proxy, verify=context, trust_env=False, **options)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            environments, self._environments = list(self._environments.values()), {}
        for function, _ in environments:
            function.close()

    def __enter__(self) -> FunctionUrlFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request -----------------------------------------------------------------------------------------

    def answer(self, request: HttpRequest) -> HttpResponse:
        """What the function URL ``request.host`` answers."""
        route = find_route(request.host, self.account)
        if route is None:
            return self._refuse(request.host, 403, "no function URL has this host")
        url = str(route.config["FunctionUrl"])
        if route.config.get("InvokeMode", "BUFFERED") != "BUFFERED":
            return _json_response(500, {"Message": "the test front serves BUFFERED function URLs only"})
        caller: dict[str, str] | None = None
        if route.config["AuthType"] == "AWS_IAM":
            refusal, caller = self._authorize_signed(request, route)
        else:
            refusal = self._authorize_public(route)
        if refusal is not None:
            status, reason = refusal
            return self._refuse(url, status, reason)
        version = pick_version(route, self.rng)
        event = json.dumps(build_event(request, route, caller)).encode()
        if len(event) > PAYLOAD_LIMIT:
            response = _json_response(413, {"Message": "Request Entity Too Large"})
        else:
            response = self._invoke(route, version, event)
        self.invocations.append(
            Invocation(url, route.qualifier, version, caller["userArn"] if caller else None, response.status)
        )
        if request.method == "HEAD":
            response.body = b""
        return response

    def _refuse(self, url: str, status: int, reason: str) -> HttpResponse:
        self.refusals.append(Refusal(url, status, reason))
        if status == 403:
            return _json_response(403, FORBIDDEN, "AccessDeniedException")
        return _json_response(status, {"Message": reason})

    def _authorize_signed(
        self, request: HttpRequest, route: Route
    ) -> tuple[tuple[int, str] | None, dict[str, str] | None]:
        from moto_extensions import Refused, authorize

        headers = {_title(name): value for name, value in request.headers}
        authorization = headers.get("Authorization", "")
        scope = re.search(
            r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request", authorization
        )
        if authorization and scope is None:
            return (403, f"not a SigV4 Authorization header: {authorization[:40]!r}"), None
        if scope is not None and scope["region"] != route.region:
            return (
                403,
                f"Credential should be scoped to a valid region ({scope['region']} for {route.region})",
            ), None
        if scope is not None and scope["service"] != "lambda":
            return (
                403,
                f"Credential should be scoped to correct service: 'lambda' ({scope['service']})",
            ), None
        policy = resource_policy(route)
        grants = (
            ("lambda:InvokeFunctionUrl", {"lambda:FunctionUrlAuthType": "AWS_IAM"}),
            ("lambda:InvokeFunction", {"lambda:InvokedViaFunctionUrl": "true"}),
        )
        caller = ""
        for action, context in grants:
            try:
                caller = authorize(
                    method=request.method,
                    path=request.path,
                    headers=headers,
                    body=request.body,
                    action=action,
                    resource=route.arn,
                    context=context,
                    resource_policy=policy,
                    account_id=route.account,
                )
            except Refused as refused:
                return (refused.status, f"{action}: {refused.code}: {refused.message}"), None
        return None, self._identity(caller, headers, route)

    def _identity(self, caller: str, headers: Mapping[str, str], route: Route) -> dict[str, str]:
        """``requestContext.authorizer.iam`` (urls-invocation.html) for the signer ``caller``."""
        from moto.iam.models import iam_backends
        from moto.utilities.utils import get_partition

        key = re.search(r"Credential=([^/]+)/", headers.get("Authorization", ""))
        account = caller.split(":")[4]
        backend = iam_backends[account][get_partition(route.region)]
        user_id = ""
        if ":user/" in caller:
            with contextlib.suppress(Exception):
                user_id = backend.get_user(caller.rsplit("/", 1)[1]).id
        elif ":assumed-role/" in caller:
            role, session = caller.split(":assumed-role/", 1)[1].split("/", 1)
            with contextlib.suppress(Exception):
                user_id = f"{backend.get_role(role).id}:{session}"
        return {
            "accessKey": key[1] if key else "",
            "accountId": account,
            "callerId": user_id,
            "cognitoIdentity": None,  # type: ignore[dict-item]
            "principalOrgId": None,  # type: ignore[dict-item]
            "userArn": caller,
            "userId": user_id,
        }

    def _authorize_public(self, route: Route) -> tuple[int, str] | None:
        from iam_evaluation import ANONYMOUS, Decision, PolicyError, decide

        policy = resource_policy(route)
        if policy is None:
            return 403, "AuthType NONE and the function has no resource-based policy for this qualifier"
        grants = (
            ("lambda:InvokeFunctionUrl", {"lambda:FunctionUrlAuthType": "NONE"}),
            ("lambda:InvokeFunction", {"lambda:InvokedViaFunctionUrl": "true"}),
        )
        for action, context in grants:
            try:
                decision = decide([], action, route.arn, context, resource_policy=policy, principal=ANONYMOUS)
            except PolicyError as error:
                return 500, f"the IAM stand-in cannot decide this request: {error}"
            if decision is not Decision.ALLOW:
                return (
                    403,
                    f"AuthType NONE and the resource-based policy does not allow {action} to * ({decision.value})",
                )
        return None

    # -- the execution environments ----------------------------------------------------------------------------

    def _invoke(self, route: Route, version: str, event: bytes) -> HttpResponse:
        function, lock = self._environment(route, version)
        with lock:
            answer = function.invoke(event)
        if answer.timed_out:
            return _json_response(502, {"Message": f"the function timed out: {answer.body.decode()[:200]}"})
        error = answer.function_error
        if answer.status != 200 or error is not None:
            kind = (error or {}).get("errorType", f"emulator status {answer.status}")
            return _json_response(502, {"Message": f"the function failed: {kind}"})
        if len(answer.body) > PAYLOAD_LIMIT:
            return _json_response(502, {"Message": "the function's response is larger than 6 MB"})
        return http_answer(answer.body)

    def _environment(self, route: Route, version: str) -> tuple[RieFunction, threading.Lock]:
        """The warm environment of ``version`` (a new one when $LATEST's code or configuration changed)."""
        config = _version_of(route, version)
        uri = str(config.code.get("ImageUri"))
        variables = dict(config.environment_vars or {})
        command = self._command(config, uri)
        key = (
            route.function.function_arn,
            version,
            uri,
            json.dumps(variables, sort_keys=True),
            int(config.memory_size),
            int(config.timeout),
        )
        with self._lock:
            found = self._environments.get(key)
            if found is not None:
                return found
            stale = [k for k in self._environments if k[:2] == key[:2]]
            for old in stale:
                self._environments.pop(old)[0].close()
            name = route.function.function_name
            environment = {
                **variables,
                **role_credentials(route.account, route.region, config.role, name),
                "AWS_ENDPOINT_URL": self.moto_endpoint,
            }
            assert self.image_for is not None
            function = RieFunction(
                self.docker_client,
                self.image_for(uri),
                env=environment,
                name=name,
                version=version,
                timeout=int(config.timeout),
                memory=int(config.memory_size),
                region=route.region,
                architecture=(getattr(config, "architectures", None) or ["x86_64"])[0],
                command=command,
            ).start()
            self._environments[key] = (function, threading.Lock())
            return self._environments[key]

    def _command(self, config: Any, uri: str) -> list[str] | None:
        """The process the environment runs: the function's ImageConfig EntryPoint and Command, each in place
        of the image's own when set (https://docs.aws.amazon.com/lambda/latest/api/API_ImageConfig.html);
        None: the image's."""
        overrides = getattr(config, "image_config", None)
        entry_point = list(getattr(overrides, "entry_point", None) or [])
        command = list(getattr(overrides, "cmd", None) or [])
        if not entry_point and not command:
            return None
        assert self.image_for is not None
        image = self.docker_client.images.get(self.image_for(uri)).attrs["Config"]
        return [*(entry_point or image.get("Entrypoint") or []), *(command or image.get("Cmd") or [])]

    @property
    def environments(self) -> list[RieFunction]:
        with self._lock:
            return [function for function, _ in self._environments.values()]

    def retire(self, function_name: str) -> None:
        """Remove the warm environments of ``function_name``'s versions (a test done with its function)."""
        with self._lock:
            keys = [k for k in self._environments if str(k[0]).split(":")[6] == function_name]
            retired = [self._environments.pop(k)[0] for k in keys]
        for function in retired:
            function.close()


# -- HTTP: the proxy (CONNECT) and the function URL inside the tunnel -------------------------------------------


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300

    def do_CONNECT(self) -> None:
        front: FunctionUrlFront = self.server.front  # type: ignore[attr-defined]
        host, _, port = self.path.rpartition(":")
        found = URL_HOST.match(host.lower())
        if found is None or port != "443":
            self.send_error(
                502, f"the function URL front reaches *.lambda-url.<region>.on.aws:443 only, not {self.path}"
            )
            return
        context = front.authority.context(host.lower().split(".", 1)[1])
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.close_connection = True
        try:
            tls = context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            _UrlHandler(tls, self.client_address, self.server)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def log_message(self, format: str, *args: Any) -> None:
        return


class _UrlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nfldeploy-test-function-url"
    sys_version = ""
    timeout = 300

    def _serve(self) -> None:
        front: FunctionUrlFront = self.server.front  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = HttpRequest(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        try:
            response = front.answer(request)
        except Exception as error:
            response = _json_response(
                500, {"Message": f"the test front failed: {type(error).__name__}: {error}"}
            )
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return
