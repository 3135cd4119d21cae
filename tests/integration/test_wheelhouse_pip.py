"""The image's locked wheelhouse with pip itself (issue 31 item 10), from the package index the builds use:
the files downloaded for a platform are exactly the lock's (each file's sha256 is its pin's), and a file whose
hash is not the pinned one is refused by pip's hash-checking mode
(https://pip.pypa.io/en/stable/topics/secure-installs/#hash-checking-mode) as a BuildError naming the lock,
leaving no cache entry behind. tests/unit/test_image_lock.py checks the commands; this checks what pip does."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from nfldeploy import locks
from nfldeploy.errors import BuildError
from nfldeploy.image import context

#: Two small pure wheels and one binary wheel (httptools: built per machine) of the shipped server lock.
NAMES = ("annotated-types", "idna", "httptools")


@pytest.fixture(autouse=True)
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("NFLDEPLOY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _part_of_shipped_lock(platform: str, change_hash_of: str = "") -> locks.Lock:
    shipped = locks.load("image-server", platform)
    lines = []
    for pin in shipped.pins:
        if pin.name not in NAMES:
            continue
        if pin.name == change_hash_of:
            pin = locks.Pinned(pin.name, pin.version, (hashlib.sha256(b"another file").hexdigest(),))
        lines.append(pin.line())
    text = f"# part of {shipped.set_name}\n" + "".join(f"{line}\n" for line in lines)
    return locks.parse(text, shipped.set_name, platform)


@pytest.mark.parametrize(("platform", "machine"), [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")])
def test_the_wheelhouse_holds_exactly_the_locked_files_for_the_platform(platform: str, machine: str) -> None:
    lock = _part_of_shipped_lock(platform)
    assert sorted(pin.name for pin in lock.pins) == sorted(NAMES)
    folder = context.wheelhouse(lock)
    wheels = sorted(folder.glob("*.whl"))
    digests = {hashlib.sha256(wheel.read_bytes()).hexdigest(): wheel.name for wheel in wheels}
    assert sorted(digests) == sorted(pin.hashes[0] for pin in lock.pins)
    (binary,) = [name for name in digests.values() if name.startswith("httptools-")]
    assert binary.endswith(f"_{machine}.whl") and "cp311" in binary, binary


def test_a_file_that_is_not_the_locked_one_is_refused(cache: Path) -> None:
    lock = _part_of_shipped_lock("linux/amd64", change_hash_of="idna")
    with pytest.raises(BuildError, match=r"lock image-server, linux/amd64.*HASHES") as refused:
        context.wheelhouse(lock)
    assert "hash mismatch means a file is not the locked one" in (refused.value.hint or "")
    assert not list(cache.rglob(".complete"))
