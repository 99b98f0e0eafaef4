"""`steward discover`: find shadow AI in egress-proxy or DNS logs and, with --add, record it in
the inventory as unmanaged apps."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from steward.cli._common import (
    ConfigOption,
    JsonOption,
    attr,
    cli_actor,
    console,
    fail,
    identity,
    print_json,
    print_table,
    to_jsonable,
)
from steward.discovery import (
    DiscoveryReport,
    Finding,
    GatewayHosts,
    ServicesFileError,
    app_name,
    discover,
    load_catalog,
    purpose,
    read_lines,
)


class LogFormatChoice(StrEnum):
    squid = "squid"
    nginx = "nginx"
    zeek_dns = "zeek-dns"
    csv = "csv"


_COLUMNS = [
    ("SOURCE", attr("source")),
    ("SERVICE", attr("service")),
    ("PROVIDER", attr("provider")),
    ("DESTINATIONS", attr("destinations")),
    ("REQUESTS", attr("requests")),
    ("BYTES", attr("bytes")),
    ("FIRST SEEN", attr("first_seen")),
    ("LAST SEEN", attr("last_seen")),
]


def _summary(report: DiscoveryReport) -> list[str]:
    lines = [
        f"{report.log} ({report.format}): {report.records} request(s) read, "
        f"{report.ai_requests} to known AI services outside Steward in "
        f"{len(report.findings)} finding(s)",
        f"excluded as Steward traffic: {report.to_gateway} to the gateway, "
        f"{report.from_gateway} from the gateway; {report.other} to other destinations",
    ]
    if report.malformed:
        examples = "; ".join(f"line {m.line}: {m.reason}" for m in report.malformed_examples)
        lines.append(f"{report.malformed} malformed line(s) skipped (e.g. {examples})")
    return lines


def _evidence(finding: Finding, report: DiscoveryReport) -> dict[str, Any]:
    return {
        "discovered": to_jsonable(finding),
        "log": report.log,
        "format": report.format,
    }


def _add(report: DiscoveryReport, config: str | None) -> tuple[list[str], list[str]]:
    """Record each finding as an unmanaged app; (added, already there)."""
    added: list[str] = []
    existing: list[str] = []
    actor = cli_actor()
    with identity(config) as svc:
        for finding in report.findings:
            app, created = svc.register_discovered_app(
                app_name(finding), purpose(finding), _evidence(finding, report), actor=actor
            )
            (added if created else existing).append(app.name)
    return added, existing


def discover_cmd(
    log: Annotated[
        Path,
        typer.Option("--log", "-l", help="The log file (.gz too).", show_default=False),
    ],
    log_format: Annotated[
        LogFormatChoice,
        typer.Option("--format", "-f", help="squid, nginx, zeek-dns or csv.", show_default=False),
    ],
    gateway_host: Annotated[
        list[str] | None,
        typer.Option(
            "--gateway-host",
            "-g",
            help="Steward's host name, address or CIDR range (repeatable): traffic to or from "
            "it went through Steward and is not reported.",
        ),
    ] = None,
    services: Annotated[
        list[Path] | None,
        typer.Option("--services", help="Extra AI services file (repeatable), same format."),
    ] = None,
    add: Annotated[
        bool, typer.Option("--add", help="Record findings in the inventory as unmanaged apps.")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Find traffic to known AI services that did not go through Steward."""
    if not log.is_file():
        fail(f"log file {log} does not exist or is not a file")
    try:
        catalog = load_catalog(list(services or []))
    except ServicesFileError as exc:
        fail(str(exc))
    try:
        report = discover(
            read_lines(log),
            log_format.value,
            catalog,
            GatewayHosts(gateway_host or []),
            log_name=str(log),
        )
    except OSError as exc:
        fail(f"cannot read {log}: {exc.strerror or exc}")
    added, existing = _add(report, config) if add else ([], [])
    if as_json:
        out = to_jsonable(report)
        if add:
            out["added"], out["existing"] = added, existing
        print_json(out)
        return
    for line in _summary(report):
        typer.echo(line)
    typer.echo("")
    print_table(report.findings, _COLUMNS, empty="No shadow AI found.")
    if add:
        typer.echo("")
        typer.echo(
            f"inventory: {len(added)} unmanaged app(s) added"
            + (f" ({', '.join(added)})" if added else "")
            + f", {len(existing)} already there"
        )
    elif report.findings:
        console().print(
            "Record these in the inventory with --add; see them with `steward inventory`."
        )


__all__ = ["LogFormatChoice", "discover_cmd"]
