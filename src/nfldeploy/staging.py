"""Write a directory in full or not at all: stage it beside the target, then swap it into place."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``target``, on any error it is removed and
    ``target`` (and any folder created for it) is left as it was."""
    target = target.resolve()
    created = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        for folder in created:  # innermost first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    stage.chmod(0o755)
    if target.exists():
        previous = Path(tempfile.mkdtemp(prefix=f".{target.name}.previous-", dir=target.parent))
        previous.rmdir()
        target.rename(previous)
        stage.rename(target)
        shutil.rmtree(previous, ignore_errors=True)
    else:
        stage.rename(target)


@contextlib.contextmanager
def cache_entry(target: Path) -> Iterator[Path]:
    """Yield a temporary folder to fill with a cache entry; on success it becomes ``target``, unless another
    process (a second build on the same runner) published one first: entries under one key are equivalent, so
    theirs is kept and this one dropped. On any error it is removed and ``target`` is left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        yield stage
        stage.chmod(0o755)
        try:
            stage.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
