"""``nfldeploy logs``: the service's log lines from the platform's own log store, on every target."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from nfldeploy.cli.choices import LogLevel
from nfldeploy.cli.common import EXPORT_DIR_OPTION, JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.deploy_cmd import PORT_OPTION, TARGET_OPTION
from nfldeploy.cli.output import print_json_line, stdout
from nfldeploy.service_logs import LogEntry, LogQuery, parse_since, record_logs
from nfldeploy.targets.select import TargetName, make_target


def logs(
    target: TargetName = TARGET_OPTION,
    since: str = typer.Option(
        "24h",
        "--since",
        help="Lines newer than this: a duration back from now (90s, 15m, 2h, 1d) or an ISO 8601 time.",
    ),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until Ctrl-C."),
    limit: int = typer.Option(
        100, "--limit", "-n", min=1, help="The last N lines (before --follow goes on)."
    ),
    request_id: str | None = typer.Option(
        None,
        "--request-id",
        help="Every line of one request (the X-Request-ID it was answered with), across revisions.",
    ),
    level: LogLevel | None = typer.Option(None, "--level", help="At least this level."),
    export_dir: Path = EXPORT_DIR_OPTION,
    port: int = PORT_OPTION,
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Read the service's logs where the platform keeps them: the Docker engine (local), Cloud Logging
    (cloudrun), CloudWatch Logs (lambda), kubectl logs (kubernetes). The server's JSON lines become rows
    (time, revision, level, route, status, latency, request id); other lines are shown as they are. --json
    prints one JSON object per line. Credentials come from the standard chains; a refusal exits 4 with the
    API's message."""
    try:
        start = parse_since(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from exc
    settings = resolve_settings(settings_file, overrides).settings
    query = LogQuery(start, level.value if level else None, request_id, limit, follow)
    entries = make_target(target, settings, export_dir=export_dir, port=port).logs(query)
    if follow:
        try:
            for entry in entries:
                if as_json:
                    print_json_line(entry.as_dict())
                else:
                    stdout().print(_line(entry), highlight=False, markup=False)
        except KeyboardInterrupt:  # Ctrl-C ends --follow: not an error
            return
        return
    rows = list(entries)
    if (export_dir / "manifest.json").is_file():  # the checklist's evidence of logging
        record_logs(export_dir, target.value, rows)
    if as_json:
        for entry in rows:
            print_json_line(entry.as_dict())
        return
    if not rows:
        stdout().print(
            f"no log lines of {settings.service_name} on {target} since {start:%Y-%m-%d %H:%M:%S} UTC",
            highlight=False,
        )
        return
    print_rows(f"logs of {settings.service_name} on {target}", rows)


#: Narrower than this, a table would have to break request ids (32 characters) across lines.
TABLE_WIDTH = 110


def print_rows(title: str, rows: list[LogEntry]) -> None:
    """A table on a wide terminal; one line per entry on a narrow one, so that a request id always stays
    whole (it is what ``--request-id`` takes)."""
    console = stdout()
    if console.width >= TABLE_WIDTH:
        console.print(log_table(title, rows))
        return
    console.print(title, highlight=False, markup=False)
    for entry in rows:
        console.print(_line(entry), highlight=False, markup=False)  # the terminal wraps it, the id whole


def log_table(title: str, rows: list[LogEntry]) -> Table:
    """The rows as a table (long messages wrap)."""
    table = Table(title=title, title_justify="left")
    for column in ("time", "revision", "level", "route", "status", "ms", "request id / message"):
        table.add_column(column, overflow="fold")
    for entry in rows:
        table.add_row(
            entry.time.strftime("%H:%M:%S.%f")[:-3],
            entry.revision,
            entry.level,
            entry.route or "",
            str(entry.status or ""),
            f"{entry.latency_ms:.1f}" if entry.latency_ms is not None else "",
            entry.request_id or entry.message,
        )
    return table


def _line(entry: LogEntry) -> str:
    fields = [entry.time.isoformat(timespec="milliseconds"), entry.revision, entry.level]
    if entry.route:
        fields += [
            entry.route,
            str(entry.status or ""),
            f"{entry.latency_ms or 0:.1f}ms",
            entry.request_id or "",
        ]
    else:
        fields.append(entry.message)
    return " ".join(fields)
