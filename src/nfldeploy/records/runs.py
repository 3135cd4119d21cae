"""What the checks found, kept next to the export they checked (``reports/``): the last smoke test per place
(``smoke-<where>.json``), the last bench (``bench.json``) and the last log read per target
(``logs-<target>.json``). ``checklist`` and ``report`` read them as evidence; a new export starts without
any, since they were about the previous model."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from nfldeploy.records.schema import Record, read, write

REPORTS = "reports"


class Check(Record):
    """One smoke-test row."""

    name: str
    passed: bool
    detail: str
    skipped: bool = False
    seconds: float = 0.0


class SmokeRun(Record):
    """A smoke test: where it ran (a target, ``url`` or ``image``), against what, and every row."""

    at: str
    where: str
    url: str
    passed: bool
    checks: list[Check]

    def check(self, name: str) -> Check | None:
        """The row called ``name``."""
        return next((check for check in self.checks if check.name == name), None)


class BenchLevel(Record):
    """One concurrency level of a bench: throughput, percentiles and the latency distribution."""

    concurrency: int
    requests: int
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: dict[str, int] = Field(default_factory=dict)
    quantiles_ms: list[float] = Field(default_factory=list)  # 0th, 1st, ..., 100th percentile


class BenchRun(Record):
    """A bench: against what, and each level."""

    at: str
    url: str
    image: str | None = None
    levels: list[BenchLevel]


class LogsRead(Record):
    """The last time ``nfldeploy logs`` read a target's log store, and what it found."""

    at: str
    target: str
    lines: int
    access_lines: int
    request_ids: int


def _path(export_dir: Path, name: str) -> Path:
    return export_dir / REPORTS / f"{name}.json"


def write_run(export_dir: Path, name: str, run: Record) -> Path:
    """Keep ``run`` as ``reports/<name>.json`` of the export."""
    path = _path(export_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write(run, path)
    return path


def read_smoke(export_dir: Path, where: str) -> SmokeRun | None:
    """The last smoke test at ``where`` (a target name, ``url`` or ``image``), if any."""
    path = _path(export_dir, f"smoke-{where}")
    return read(SmokeRun, path, "smoke-test record") if path.is_file() else None


def read_bench(export_dir: Path) -> BenchRun | None:
    """The last bench, if any."""
    path = _path(export_dir, "bench")
    return read(BenchRun, path, "bench record") if path.is_file() else None


def read_logs(export_dir: Path, target: str) -> LogsRead | None:
    """The last log read of ``target``, if any."""
    path = _path(export_dir, f"logs-{target}")
    return read(LogsRead, path, "logs record") if path.is_file() else None
