"""Reading a record through its pydantic model: any mismatch is a ConfigError naming the file and the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from nfldeploy.errors import ConfigError
from nfldeploy.jsonfile import read_json_object

R = TypeVar("R", bound=BaseModel)


def now() -> str:
    """The time a record is stamped with (UTC, ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Record(BaseModel):
    """A record's part: immutable, unknown keys kept (a newer nfldeploy may have written more)."""

    model_config = ConfigDict(extra="allow", frozen=True)


def parse(model: type[R], data: object, path: Path, what: str) -> R:
    """``data`` as ``model``; the first mismatch becomes a ConfigError like ``path: field a.b: Field required``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(
            f"{path}: {what} field {where}: {first['msg']}{more}",
            hint=f"The {what} was written by another nfldeploy version or edited; write it again.",
        ) from exc


def read(model: type[R], path: Path, what: str) -> R:
    """The JSON object at ``path`` as ``model``."""
    return parse(model, read_json_object(path, what), path, what)


def write(record: BaseModel, path: Path) -> None:
    """``record`` as indented JSON, replacing ``path`` in one rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
    temporary.replace(path)
