"""`steward deploy ...`: how an alias is served: status, canary, gated promotion, rollback."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from steward.catalogue.golden import load_dataset
from steward.catalogue.promote import Promotion, gate_options, promote
from steward.catalogue.records import DeploymentInfo
from steward.cli._common import ConfigOption, JsonOption, cli_actor, console, fail, fmt, print_json
from steward.cli.catalogue_cmd import deployments
from steward.providers.registry import ProviderRegistry

deploy_app = typer.Typer(
    help="Deployments of a model alias: canary splits, promotion gated on evaluation, rollback.",
    no_args_is_help=True,
)

AliasArg = Annotated[str, typer.Argument(help="The model alias.", show_default=False)]
ToOption = Annotated[
    str,
    typer.Option(
        "--to",
        help="Candidate: provider/model, another alias, or a model of the alias's provider.",
        show_default=False,
    ),
]


def _print_status(info: DeploymentInfo, as_json: bool) -> None:
    if as_json:
        print_json(info)
        return
    out = console()
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    state = info.states
    table.add_row("alias", info.alias)
    table.add_row("configured", f"{info.configured} ({fmt(state.get(info.configured))})")
    table.add_row("primary", f"{info.primary} ({fmt(state.get(info.primary))})")
    if info.candidate:
        table.add_row(
            "canary", f"{info.candidate} ({fmt(state.get(info.candidate))}) at {info.percent:g}%"
        )
    else:
        table.add_row("canary", "-")
    out.print(table)
    if info.history:
        hist = Table(box=None, pad_edge=False, header_style="bold", title="recent changes")
        for col in ("TIME", "ACTION", "AFTER", "BY", "UNDONE"):
            hist.add_column(col)
        for c in info.history:
            after = c.after
            text = f"primary={after.get('primary') or 'configured'}"
            if after.get("candidate"):
                text += f" canary={after['candidate']}@{after['percent']:g}%"
            hist.add_row(fmt(c.ts), c.action, text, c.actor, fmt(c.rolled_back))
        out.print(hist)


@deploy_app.command("status")
def status(alias: AliasArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """How the alias is served now, and its recent deployment changes."""
    with deployments(config) as svc:
        info = svc.status(alias)
    _print_status(info, as_json)


@deploy_app.command("canary")
def canary(
    alias: AliasArg,
    to: ToOption,
    percent: Annotated[
        float,
        typer.Option("--percent", help="Share of the alias's requests, more than 0, below 100."),
    ],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send a share of the alias's traffic to a candidate upstream model."""
    with deployments(config) as svc:
        info = svc.canary(alias, to, percent, actor=cli_actor())
    if not as_json:
        typer.echo(f"{info.candidate} now receives {info.percent:g}% of '{alias}'.")
    _print_status(info, as_json)


def _print_gate(p: Promotion) -> None:
    table = Table(
        box=None, pad_edge=False, header_style="bold", title=f"evaluation of {p.candidate}"
    )
    for col in ("METRIC", "PASS RATE", "THRESHOLD", "RESULT"):
        table.add_column(col)
    for c in p.verdict.checks:
        rate = "not measured" if c.pass_rate is None else f"{c.pass_rate:.1%}"
        table.add_row(
            c.name, rate, f"{c.threshold:.1%}", "[green]pass[/]" if c.passed else "[red]FAIL[/]"
        )
    console().print(table)
    typer.echo(
        f"items evaluated: {p.verdict.items}, unanswered: {p.run.run.errors}; "
        f"evaluation run {p.run.run.run_id} (steward eval show {p.run.run.run_id})"
    )


@deploy_app.command("promote")
def promote_cmd(
    alias: AliasArg,
    to: ToOption,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset", help="Golden dataset (JSONL); default catalogue.promotion.dataset."
        ),
    ] = None,
    evaluators: Annotated[
        str | None,
        typer.Option(
            "--evaluators",
            help="Comma-separated metrics: answered, expected, or evaluation kinds and "
            "names (refusal, empty, truncated, json, ...).",
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            help="METRIC=RATE for one metric or RATE for the others (0-1); repeatable.",
        ),
    ] = None,
    min_items: Annotated[
        int | None,
        typer.Option("--min-items", help="Refuse a run with fewer evaluated items.", min=1),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a candidate on the golden dataset and promote it only if every metric passes;
    otherwise print the failing metrics and exit 1."""
    with deployments(config) as svc:
        path = dataset or svc.config.catalogue.promotion.dataset
        if not path:
            fail("give --dataset (or set catalogue.promotion.dataset)")
        data = load_dataset(path)
        options = gate_options(
            svc,
            [e.strip() for e in (evaluators or "").split(",") if e.strip()],
            threshold or [],
            min_items,
        )
        registry = ProviderRegistry(svc.config.providers)

        async def run() -> Promotion:
            try:
                return await promote(svc, registry, alias, to, data, options, actor=cli_actor())
            finally:
                await registry.aclose()

        result = asyncio.run(run())
    if as_json:
        print_json(
            {
                "promoted": result.deployment is not None,
                "candidate": result.candidate,
                "evaluation": {**result.verdict.to_json(), "run_id": result.run.run.run_id},
                "deployment": result.deployment,
            }
        )
    else:
        _print_gate(result)
    if result.deployment is None:
        if not as_json:
            typer.echo(f"error: promotion refused: {result.verdict.reason()}", err=True)
        raise typer.Exit(1)
    if not as_json:
        typer.echo(f"Promoted {result.candidate}: it now serves all of '{alias}'.")


@deploy_app.command("rollback")
def rollback(alias: AliasArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Undo the alias's latest deployment change (a promotion or a canary)."""
    with deployments(config) as svc:
        info = svc.rollback(alias, actor=cli_actor())
    if not as_json:
        typer.echo(f"Rolled back '{alias}'.")
    _print_status(info, as_json)


__all__ = ["deploy_app"]
