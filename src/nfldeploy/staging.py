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
