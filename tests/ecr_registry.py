"""ECR's registry, for tests that push the way nfldeploy does from another process (a workflow's deploy step):
moto speaks ECR's API but has no registry behind it. Here a real registry (Debian's docker-registry) stands
behind moto's ECR repositories of one account and region:

- moto's ``repositoryUri`` names it (``127.0.0.1:PORT/<repository>``) instead of
  ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>``, which no test can reach;
- it demands ECR's credentials: user ``AWS`` and the password of ``GetAuthorizationToken``'s token, as
  ``docker login`` with ECR's token does (https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html);
  moto's token for an account is fixed (``<account>-auth-token``);
- what was pushed is what moto's ECR holds: before moto answers ``DescribeImages``, ``BatchGetImage`` or
  ``ListImages``, and before Lambda takes an ``ImageUri``, every tag the registry holds for the repository is
  recorded in moto's repository with its manifest bytes and their digest (``PutImage`` with
  ``imageDigest``: ECR keeps the digest of the manifest pushed, the sha256 of its bytes,
  https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push.html).

``install(registry)`` switches it on for the account and region; ``uninstall()`` switches it off.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services import Registry

ACCOUNT = "123456789012"  # moto's default account
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)


def ecr_password(account: str = ACCOUNT) -> str:
    """The password of moto's ECR authorization token for ``account`` (the token is ``AWS:<password>``)."""
    return f"{account}-auth-token"


@dataclass
class EcrRegistry:
    """A registry standing behind moto's ECR repositories in ``region`` of ``account``."""

    registry: Registry
    region: str = "us-east-1"
    account: str = ACCOUNT

    @property
    def address(self) -> str:
        return self.registry.address

    def _get(self, path: str, accept: str = "") -> tuple[bytes, dict[str, str]]:
        request = urllib.request.Request(f"http://{self.address}/v2/{path}")
        token = base64.b64encode(f"AWS:{ecr_password(self.account)}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        if accept:
            request.add_header("Accept", accept)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read(), {key.lower(): value for key, value in response.headers.items()}

    def pushed(self, repository: str) -> dict[str, tuple[str, bytes, str]]:
        """Every tag the registry holds for ``repository``: tag -> (digest, manifest bytes, media type)."""
        try:
            listing, _ = self._get(f"{repository}/tags/list")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # nothing pushed yet
                return {}
            raise
        found = {}
        for tag in json.loads(listing).get("tags") or []:
            body, headers = self._get(f"{repository}/manifests/{tag}", ",".join(MANIFEST_TYPES))
            media_type = headers.get("content-type", "").split(";")[0]
            found[tag] = (headers["docker-content-digest"], body, media_type)
        return found

    def sync(self, repository: str) -> None:
        """Record in moto's ECR repository what the registry holds for it (new tags, moved tags)."""
        from moto.ecr.models import ecr_backends

        backend = ecr_backends[self.account][self.region]
        if repository not in backend.repositories:
            return
        held = {
            tag: image.image_digest
            for image in backend.repositories[repository].images
            for tag in image.image_tags or []
        }
        for tag, (digest, manifest, media_type) in self.pushed(repository).items():
            if held.get(tag) != digest:
                backend.put_image(repository, manifest.decode(), tag, media_type, digest)


_installed: EcrRegistry | None = None


def current() -> EcrRegistry | None:
    """The registry standing behind moto's ECR now (None: moto's own URIs, nothing behind them)."""
    return _installed


def install(registry: EcrRegistry) -> None:
    """Stand ``registry`` behind moto's ECR (repositories created from now on name it)."""
    global _installed
    _patch()
    _installed = registry


def uninstall() -> None:
    global _installed
    _installed = None


def _patch() -> None:
    from moto.ecr.models import Repository
    from moto.ecr.responses import ECRResponse

    if getattr(Repository, "nfldeploy_registry", False):
        return
    Repository.nfldeploy_registry = True  # type: ignore[attr-defined]
    Repository.__init__ = _naming_registry(Repository.__init__)  # type: ignore[method-assign]
    for name in ("describe_images", "batch_get_image", "list_images"):
        setattr(ECRResponse, name, _synced(getattr(ECRResponse, name)))


def _naming_registry(init: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        registry = _installed
        if registry is not None and (self.account_id, self.region_name) == (
            registry.account,
            registry.region,
        ):
            self.uri = f"{registry.address}/{self.name}"

    return __init__


def _synced(answer: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def synced(self: Any) -> Any:
        registry = _installed
        if registry is not None and self.region == registry.region:
            registry.sync(self._get_param("repositoryName"))
        return answer(self)

    return synced


def image_location(uri: str) -> tuple[str, str, str] | None:
    """(account, region, repository) of an image URI naming the installed registry (None: it does not)."""
    registry = _installed
    if registry is None or not uri.startswith(f"{registry.address}/"):
        return None
    repository = uri.removeprefix(f"{registry.address}/").split("@", 1)[0].rsplit(":", 1)[0]
    registry.sync(repository)
    return registry.account, registry.region, repository
