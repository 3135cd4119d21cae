"""nfldeploy's shipped locks (src/nfldeploy/locks/*.txt, written by scripts/lock): current with the
package's own requirements (a dependency changed without a refresh fails here), every line an exact version
with its sha256, torch's CPU build only by the hash two public sources agree on; and the refresh's checks of
pip's resolution (markers evaluated for the target, files from PyPI or PyTorch's index only)."""

from __future__ import annotations

import pytest

from nfldeploy import locks
from nfldeploy.errors import ConfigError
from nfldeploy.locks import refresh
from nfldeploy.own_wheel import project_wheel, wheel_requires


@pytest.fixture(scope="module")
def requires(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The Requires-Dist of the wheel this checkout builds (what every install of nfldeploy asks for)."""
    return wheel_requires(project_wheel(tmp_path_factory.mktemp("wheel")))


ALL = [(s.name, platform) for s in locks.SETS.values() for platform in s.platforms]


@pytest.mark.parametrize(("set_name", "platform"), ALL)
def test_each_shipped_lock_was_made_from_the_packages_requirements(
    set_name: str, platform: str, requires: list[str]
) -> None:
    lock = locks.load(set_name, platform)
    wanted = locks.SETS[set_name].requirements(requires)
    assert list(lock.requirements) == locks.requirement_words(wanted), (
        "pyproject's dependencies changed since the lock was made: run scripts/lock and commit the locks"
    )
    lock.check_covers(wanted, "this checkout's wheel")
    names = [pin.name for pin in lock.pins]
    assert len(names) == len(set(names))
    assert all(len(pin.hashes) == 1 for pin in lock.pins)


@pytest.mark.parametrize(("set_name", "platform"), ALL)
def test_torch_is_only_its_authenticated_cpu_build(set_name: str, platform: str) -> None:
    torch = [pin for pin in locks.load(set_name, platform).pins if pin.name == "torch"]
    assert ("torch" in str(locks.SETS[set_name].extra_requirements)) == bool(torch)
    for pin in torch:
        assert pin.on_torch_index and pin.version == "2.13.0+cpu"
        assert refresh.KNOWN_FILES[pin.hashes[0]].endswith("manylinux_2_28_x86_64.whl")
        assert platform == "linux/amd64"


def test_a_lock_line_without_its_sha256_is_refused() -> None:
    with pytest.raises(ConfigError, match="line 2 is not name==version with sha256"):
        locks.parse(
            f"fastapi==0.165.0 --hash=sha256:{'a' * 64}\nuvicorn>=0.29\n", "image-server", "linux/amd64"
        )
    with pytest.raises(ConfigError, match="line 1"):
        locks.parse(f"fastapi==0.165.0 --hash=sha256:{'a' * 63}\n", "image-server", "linux/amd64")


def _resolved(name: str, requires: tuple[str, ...] = (), url: str = "") -> refresh.Resolved:
    url = url or f"https://files.pythonhosted.org/packages/x/{name}-1.0-py3-none-any.whl"
    return refresh.Resolved(name, "1.0", url, "d" * 64, requires)


def test_the_closure_evaluates_markers_for_the_target_not_this_host() -> None:
    """pip's --platform selects wheels by tag but evaluates markers on the host
    (https://pip.pypa.io/en/stable/cli/pip_download/#cmdoption-platform): the refresh evaluates them again
    for the target's machine."""
    resolved = [
        _resolved(
            "app", ('only-arm; platform_machine == "aarch64"', 'only-x86; platform_machine == "x86_64"')
        ),
        _resolved("only-arm"),
        _resolved("only-x86"),
    ]
    assert refresh.target_closure(resolved, ["app"], "linux/arm64") == {"app", "only-arm"}
    assert refresh.target_closure(resolved, ["app"], "linux/amd64") == {"app", "only-x86"}
    with pytest.raises(
        ConfigError, match=r"differs from the target's markers: missing \[\], not needed \['only-x86'\]"
    ):
        refresh.check(resolved, ["app"], "linux/arm64")


def test_extras_and_python_version_markers_are_the_targets() -> None:
    resolved = [
        _resolved("app", ('extra-dep; extra == "fast"', 'backport; python_version < "3.11"')),
        _resolved("extra-dep"),
    ]
    assert refresh.target_closure(resolved, ["app[fast]"], "linux/amd64") == {"app", "extra-dep"}
    assert refresh.target_closure(resolved, ["app"], "linux/amd64") == {"app"}


def test_a_file_from_elsewhere_or_without_a_hash_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"came from https://evil\.example/app-1\.0\.whl, not PyPI"):
        refresh.check([_resolved("app", url="https://evil.example/app-1.0.whl")], ["app"], "linux/amd64")
    local = refresh.Resolved(
        "torch", "2.13.0+cpu", "file:///opt/wheels/torch.whl", next(iter(refresh.KNOWN_FILES)), ()
    )
    refresh.check([local], ["torch"], "linux/amd64")  # a local copy of the authenticated file
    unhashed = refresh.Resolved("app", "1.0", "https://files.pythonhosted.org/app.whl", "", ())
    with pytest.raises(ConfigError, match=r"no sha256 for app 1\.0"):
        refresh.check([unhashed], ["app"], "linux/amd64")


def test_the_lock_text_parses_back_to_the_resolution() -> None:
    resolved = [_resolved("zeta"), _resolved("alpha")]
    text = refresh.lock_text("image-server", "linux/amd64", ["zeta>=1", "alpha"], resolved)
    lock = locks.parse(text, "image-server", "linux/amd64")
    assert [pin.name for pin in lock.pins] == ["alpha", "zeta"]
    assert lock.requirements == ("zeta>=1", "alpha")
    assert all(pin.hashes == ("d" * 64,) for pin in lock.pins)
