"""Images that live only in a registry: read one (its manifest digest, image id and labels) and copy it to
another registry blob by blob, over the Docker Registry HTTP API v2, without a local Docker engine
(https://distribution.github.io/distribution/spec/api/)."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx

from nfldeploy.errors import RemoteError
from nfldeploy.image.references import split_reference
from nfldeploy.image.registry import MANIFEST_ACCEPT, bearer_token, registry_base_url

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


@dataclass(frozen=True)
class RemoteImage:
    """One platform's image as its registry serves it."""

    reference: str
    repository: str  # host/path, without tag or digest
    digest: str  # the manifest's digest: what a copy byte for byte keeps
    image_id: str  # the config blob's digest, which the Docker engine calls the image id
    media_type: str
    manifest: bytes = field(repr=False)
    labels: dict[str, str] = field(default_factory=dict)

    def blobs(self) -> list[tuple[str, int]]:
        """(digest, size) of the config and every layer."""
        data = json.loads(self.manifest)
        return [(str(b["digest"]), int(b["size"])) for b in [data["config"], *data.get("layers", [])]]


class _Registry:
    """One registry host: requests with its Basic or Bearer auth, answering each 401 challenge once."""

    def __init__(self, host: str, auth: dict[str, str] | None, timeout: float = 60.0) -> None:
        self.base = registry_base_url(host)
        self.basic = (auth["username"], auth["password"]) if auth else None
        self.client = httpx.Client(timeout=timeout, follow_redirects=True)
        self.token: str | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        url = url if url.startswith("http") else self.base + url
        response = self._send(method, url, **kwargs)
        if response.status_code == 401:
            challenge = response.headers.get("WWW-Authenticate", "")
            if challenge.lower().startswith("bearer"):
                self.token = bearer_token(self.client, challenge, self.basic)
            elif self.basic is None:
                return response
            response.close()
            response = self._send(method, url, **kwargs)
        return response

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        auth = self.basic if not self.token else None
        request = self.client.build_request(method, url, headers=headers, **kwargs)
        return self.client.send(request, auth=auth, stream=method == "GET" and "/blobs/" in url)

    def close(self) -> None:
        self.client.close()


def _split(reference: str) -> tuple[str, str, str]:
    """``host/path/name:tag`` or ``...@sha256:...`` -> (host, path/name, tag or digest)."""
    if "@" in reference:
        name, _, ref = reference.partition("@")
    else:
        name, ref = split_reference(reference)
    host, _, path = name.partition("/")
    return host, path, ref


def _refused(what: str, response: httpx.Response) -> RemoteError:
    if response.status_code in (401, 403):
        return RemoteError(
            f"the registry refused {what} ({response.status_code}); check the registry credentials"
        )
    if response.status_code == 404:
        return RemoteError(f"{what}: not in the registry")
    return RemoteError(f"{what} failed: the registry answered {response.status_code}")


def read_image(
    reference: str, auth: dict[str, str] | None = None, platform: str = "linux/amd64"
) -> RemoteImage:
    """The image ``reference`` names, from its registry: for a multi-platform index, ``platform``'s."""
    host, path, ref = _split(reference)
    registry = _Registry(host, auth)
    try:
        manifest, media_type, digest = _manifest(registry, path, ref, reference)
        if media_type in INDEX_TYPES:
            wanted_os, _, wanted_arch = platform.partition("/")
            entries = json.loads(manifest).get("manifests", [])
            chosen = next(
                (
                    e
                    for e in entries
                    if e.get("platform", {}).get("os") == wanted_os
                    and e.get("platform", {}).get("architecture") == wanted_arch
                ),
                None,
            )
            if chosen is None:
                raise RemoteError(f"{reference} has no {platform} image")
            manifest, media_type, digest = _manifest(registry, path, chosen["digest"], reference)
        config_digest = str(json.loads(manifest)["config"]["digest"])
        config = registry.request("GET", f"/v2/{path}/blobs/{config_digest}")
        if config.status_code != 200:
            raise _refused(f"reading the config of {reference}", config)
        labels = json.loads(config.read()).get("config", {}).get("Labels") or {}
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise RemoteError(f"cannot read {reference} from its registry: {exc}") from exc
    finally:
        registry.close()
    return RemoteImage(reference, f"{host}/{path}", digest, config_digest, media_type, manifest, dict(labels))


def _manifest(registry: _Registry, path: str, ref: str, reference: str) -> tuple[bytes, str, str]:
    response = registry.request("GET", f"/v2/{path}/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT})
    if response.status_code != 200:
        raise _refused(f"reading {reference}", response)
    body = response.content
    media_type = response.headers.get("Content-Type", "").split(";")[0] or json.loads(body).get(
        "mediaType", ""
    )
    digest = response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
    return body, media_type, digest


def copy_image(
    image: RemoteImage,
    destination: str,
    source_auth: dict[str, str] | None = None,
    destination_auth: dict[str, str] | None = None,
) -> str:
    """Copy ``image`` to ``destination`` (``host/path:tag``): each blob the destination lacks, streamed
    from the source, then the manifest byte for byte (so its digest stays). Returns the digest."""
    source_host, source_path, _ = _split(image.reference)
    host, path, tag = _split(destination)
    source, target = _Registry(source_host, source_auth), _Registry(host, destination_auth)
    try:
        for digest, size in image.blobs():
            if target.request("HEAD", f"/v2/{path}/blobs/{digest}").status_code == 200:
                continue
            started = target.request("POST", f"/v2/{path}/blobs/uploads/")
            if started.status_code != 202 or "Location" not in started.headers:
                raise _refused(f"starting an upload to {destination}", started)
            location = urllib.parse.urljoin(target.base + "/", started.headers["Location"])
            location += ("&" if "?" in location else "?") + "digest=" + urllib.parse.quote(digest)
            blob = source.request("GET", f"/v2/{source_path}/blobs/{digest}")
            if blob.status_code != 200:
                raise _refused(f"reading a layer of {image.reference}", blob)
            try:
                headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
                stored = target.request("PUT", location, headers=headers, content=blob.iter_bytes())
            finally:
                blob.close()
            if stored.status_code != 201:
                raise _refused(f"uploading a layer to {destination}", stored)
        put = target.request(
            "PUT",
            f"/v2/{path}/manifests/{tag}",
            headers={"Content-Type": image.media_type},
            content=image.manifest,
        )
        if put.status_code != 201:
            raise _refused(f"writing the manifest of {destination}", put)
        return put.headers.get("Docker-Content-Digest") or image.digest
    except httpx.HTTPError as exc:
        raise RemoteError(f"copying {image.reference} to {destination} failed: {exc}") from exc
    finally:
        source.close()
        target.close()
