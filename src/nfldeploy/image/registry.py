"""Talking to an OCI / Docker v2 registry over HTTP."""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request

import httpx

from nfldeploy.errors import RemoteError


def registry_base_url(registry: str) -> str:
    """``127.0.0.1:5000/team`` -> ``http://127.0.0.1:5000``; other hosts speak https."""
    host = registry.split("/", 1)[0]
    insecure = host.startswith(("127.", "localhost"))
    return f"{'http' if insecure else 'https'}://{host}"


def ping(registry: str, timeout: float = 5.0) -> str:
    """Check the registry's /v2/ endpoint. Returns "ok" or "auth required"; raises RemoteError otherwise."""
    url = registry_base_url(registry) + "/v2/"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return "ok"
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return "auth required"
        raise RemoteError(f"registry {registry} answered {exc.code} at {url}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteError(f"registry {registry} not reachable at {url}: {reason}") from exc


MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def resolve_digest(reference: str, auth: dict[str, str] | None = None, timeout: float = 15.0) -> str:
    """The digest (``sha256:...``) a registry serves for ``host/repo:tag`` now, from the manifest's
    ``Docker-Content-Digest`` (HEAD, then GET when a registry omits the header on HEAD). ``auth``
    (username/password) answers a Basic challenge or fetches a Bearer token from the challenge's realm."""
    from nfldeploy.image.references import split_reference

    name, tag = split_reference(reference)
    host, _, repository = name.partition("/")
    if not repository or ("." not in host and ":" not in host and host != "localhost"):
        raise RemoteError(f"{reference} names no registry host; cannot resolve its digest")
    url = f"{registry_base_url(host)}/v2/{repository}/manifests/{tag}"
    headers = {"Accept": MANIFEST_ACCEPT}
    basic = (auth["username"], auth["password"]) if auth else None
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            response = client.head(url, headers=headers)
            if response.status_code == 401:
                challenge = response.headers.get("WWW-Authenticate", "")
                if challenge.lower().startswith("bearer"):
                    headers["Authorization"] = f"Bearer {bearer_token(client, challenge, basic)}"
                    response = client.head(url, headers=headers)
                elif basic is not None:
                    response = client.head(url, headers=headers, auth=basic)
            if response.status_code == 200 and "Docker-Content-Digest" not in response.headers:
                response = client.get(
                    url, headers=headers, auth=basic if "Authorization" not in headers else None
                )
                if response.status_code == 200:
                    return "sha256:" + hashlib.sha256(response.content).hexdigest()
    except httpx.HTTPError as exc:
        raise RemoteError(f"cannot resolve {reference}: {exc}") from exc
    if response.status_code == 404:
        raise RemoteError(f"{reference} is not in its registry (no manifest for tag {tag!r})")
    if response.status_code in (401, 403):
        raise RemoteError(
            f"the registry refused to show {reference} ({response.status_code}); check the registry credentials"
        )
    if response.status_code != 200:
        raise RemoteError(f"resolving {reference} failed: the registry answered {response.status_code}")
    return str(response.headers["Docker-Content-Digest"])


def bearer_token(client: httpx.Client, challenge: str, basic: tuple[str, str] | None) -> str:
    """A token from the realm of a ``Bearer realm="...",service="...",scope="..."`` challenge."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", "")
    if not realm:
        raise RemoteError(f"the registry's auth challenge names no realm: {challenge}")
    answer = client.get(realm, params=params, auth=basic)
    if answer.status_code != 200:
        raise RemoteError(f"the registry refused a token ({answer.status_code}); check the credentials")
    body = answer.json()
    return str(body.get("token") or body.get("access_token") or "")
