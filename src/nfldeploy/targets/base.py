"""What every deploy target shares: a plan is data (frozen actions computed from the wanted and the current
state), apply executes it, status reports, rollback returns to the previous revision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from nfldeploy.settings import DeploySettings


@dataclass(frozen=True)
class Action:
    """One step of a plan: what is done, to what, and why."""

    kind: str
    subject: str
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    """The actions that take the current state to the wanted one (empty: nothing to do)."""

    target: str
    service: str
    image: str
    actions: tuple[Action, ...] = ()
    spec: tuple[tuple[str, Any], ...] = ()  # what apply needs, as data (secret references, never values)

    def get(self, key: str) -> Any:
        """A value of ``spec``."""
        return dict(self.spec)[key]

    @property
    def empty(self) -> bool:
        """Nothing would change."""
        return not self.actions

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (references to secrets only, never their values)."""
        return asdict(self)


@dataclass
class Deployment:
    """Where the service runs after an apply or a rollback."""

    target: str
    service: str
    url: str
    revision: str
    image: str
    traffic: dict[str, int] = field(default_factory=dict)
    previous: str | None = None
    changed: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class Target(Protocol):
    """A place the service can run."""

    name: str

    def plan(self, settings: DeploySettings, image: str, canary: int | None = None) -> Plan:
        """Compute, change nothing. ``canary``: the share of traffic the new revision gets at first."""
        ...

    def apply(self, plan: Plan) -> Deployment:
        """Execute a plan; on failure the previous revision keeps serving."""
        ...

    def status(self) -> dict[str, Any]:
        """Revisions, traffic and URL."""
        ...

    def rollback(self) -> Deployment:
        """Serve the previous revision again."""
        ...
