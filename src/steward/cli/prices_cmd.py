"""`steward prices show MODEL`: the price Steward uses for a model, where it comes from, any
discount, and a worked example."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from steward.cli._common import ConfigOption, JsonOption, fail, to_jsonable
from steward.cli._runtime import load_runtime
from steward.usage.price_explain import PriceTargetError, explain, format_explanation, targets
from steward.usage.pricing import Pricer

prices_app = typer.Typer(help="Prices: what each model costs and why.", no_args_is_help=True)


@prices_app.command("show")
def show_price(
    model: Annotated[
        str,
        typer.Argument(
            help="A model alias from the configuration, an upstream model name, or any model "
            "name genai-prices may know.",
            show_default=False,
        ),
    ],
    provider: Annotated[
        str | None,
        typer.Option("--provider", "-p", help="A configured provider name.", show_default=False),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Explain the price used for MODEL: source, rates, discount and a worked example."""
    runtime = load_runtime(config)
    try:
        found = targets(runtime.config, model, provider)
    except PriceTargetError as exc:
        fail(str(exc))
    pricer = Pricer(runtime.config.pricing)
    explanations = [
        explain(pricer, m, name, prov, configured=configured) for m, name, prov, configured in found
    ]
    if as_json:
        value = explanations if len(explanations) > 1 else explanations[0]
        typer.echo(json.dumps(to_jsonable(value), indent=2, default=str))  # Decimals exact
        return
    for i, e in enumerate(explanations):
        if i:
            typer.echo("")
        for line in format_explanation(e):
            typer.echo(line)


__all__ = ["prices_app"]
