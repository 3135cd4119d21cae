"""Cache entries (the image's wheelhouse, nfldeploy's own wheel) written by two processes at once, as two
builds on one CI runner do: both succeed, one entry is kept, nothing half-written is left."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pytest

from nfldeploy.own_wheel import project_wheel
from nfldeploy.staging import cache_entry


def test_two_writers_of_one_key_both_succeed_and_one_entry_stays(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "key"
    both_staged = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            with cache_entry(target) as stage:
                (stage / "written-by").write_text(name)
                both_staged.wait(timeout=10)  # neither publishes before both have written
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (target / "written-by").read_text() in {"first", "second"}
    assert [p.name for p in target.parent.iterdir()] == ["key"]  # no staging folder left


def test_a_failed_entry_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "key"
    with pytest.raises(RuntimeError), cache_entry(target) as stage:
        (stage / "half").write_text("x")
        raise RuntimeError("download failed")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


@pytest.mark.slow
def test_two_builds_make_the_checkouts_wheel_at_once(tmp_path: Path) -> None:
    """Two ``project_wheel`` calls on an empty cache (pip runs twice, into separate folders)."""
    wheels: dict[int, Path] = {}

    def make(i: int) -> None:
        wheels[i] = project_wheel(tmp_path / f"dest{i}", cache=tmp_path / "cache")

    threads = [threading.Thread(target=make, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wheels) == [0, 1]
    for wheel in wheels.values():
        with zipfile.ZipFile(wheel) as archive:
            assert archive.testzip() is None
            assert any(name.endswith("METADATA") for name in archive.namelist())
    assert len(list((tmp_path / "cache").iterdir())) == 1
