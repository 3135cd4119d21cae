"""What every deploy target shares: a plan is data (frozen actions computed from the wanted and the current
state), apply executes it, status reports, rollback returns to the previous revision."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Protocol, TypeVar

from nfldeploy.errors import DeployError
from nfldeploy.service_logs import LogEntry, LogQuery
from nfldeploy.settings import DeploySettings


@dataclass(frozen=True)
class Action:
    """One step of a plan: what is done, to what, and why."""

    kind: str
    subject: str
    detail: str = ""


@dataclass(frozen=True)
class PlanSpec:
    """What apply needs besides the actions, as data: each target has its own (secret references, never
    values). The base is the spec of a plan that changes nothing."""


S = TypeVar("S", bound=PlanSpec)


@dataclass(frozen=True)
class Plan:
    """The actions that take the current state to the wanted one (empty: nothing to do)."""

    target: str
    service: str
    image: str
    actions: tuple[Action, ...] = ()
    spec: PlanSpec = field(default_factory=PlanSpec)

    def spec_as(self, kind: type[S]) -> S:
        """The spec as the target that made the plan wrote it; a plan of another target is refused."""
        if not isinstance(self.spec, kind):
            raise DeployError(f"this {self.target} plan has no {kind.__name__}: plan again with this target")
        return self.spec

    @property
    def empty(self) -> bool:
        """Nothing would change."""
        return not self.actions

    def as_dict(self) -> dict[str, object]:
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

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Revision:
    """One revision (Cloud Run), version (Lambda), container (local) or rollout (Kubernetes)."""

    name: str
    state: str
    image: str
    revision: int | str


@dataclass(frozen=True)
class Status:
    """What runs: the revisions, which one serves, the traffic split and where to reach it. The fields after
    ``revisions`` are what some targets add (None where a target has nothing to say)."""

    target: str
    service: str
    url: str | None
    serving: str | None
    traffic: dict[str, int]
    revisions: list[Revision]
    canary_url: str | None = None
    previous: str | None = None
    condition: str | None = None
    context: str | None = None
    reach: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, without the extras a target left empty."""
        data = asdict(self)
        extras = ("canary_url", "previous", "condition", "context", "reach", "note")
        return {key: value for key, value in data.items() if key not in extras or value is not None}


class Target(Protocol):
    """A place the service can run."""

    name: str

    def plan(self, settings: DeploySettings, image: str, canary: int | None = None) -> Plan:
        """Compute, change nothing. ``canary``: the share of traffic the new revision gets at first."""
        ...

    def apply(self, plan: Plan) -> Deployment:
        """Execute a plan; on failure the previous revision keeps serving."""
        ...

    def plan_promote(self) -> Plan:
        """The plan that gives the canary in flight all traffic (empty when the newest revision already has
        it); targets without canaries refuse."""
        ...

    def status(self) -> Status:
        """Revisions, traffic and URL."""
        ...

    def rollback(self) -> Deployment:
        """Serve the previous revision again."""
        ...

    def logs(self, query: LogQuery) -> Iterator[LogEntry]:
        """The service's log lines from the platform's log store, oldest first (as they come with follow)."""
        ...
