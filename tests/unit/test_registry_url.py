from __future__ import annotations

import pytest

from nfldeploy.errors import RemoteError
from nfldeploy.image.registry import ping, registry_base_url


@pytest.mark.parametrize(
    ("registry", "url"),
    [
        ("127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("localhost:5000/team", "http://localhost:5000"),
        ("us-docker.pkg.dev/proj/repo", "https://us-docker.pkg.dev"),
    ],
)
def test_registry_base_url(registry: str, url: str) -> None:
    assert registry_base_url(registry) == url


def test_ping_unreachable_registry_is_a_remote_error() -> None:
    from services import free_port

    with pytest.raises(RemoteError, match="not reachable"):
        ping(f"127.0.0.1:{free_port()}", timeout=2)
