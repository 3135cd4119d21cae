"""Talking to an OCI / Docker v2 registry over HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request

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
