"""`steward catalogue ...`: the model catalogue (states, owners, data classes of the aliases and
upstream models in use). Changes reach every gateway process within `server.state_poll_ms`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from steward.catalogue.deploy import DeploymentService
from steward.catalogue.records import ModelInfo
from steward.cli._common import (
    ConfigOption,
    JsonOption,
    ReasonOption,
    attr,
    cli_actor,
    fail,
    show,
    show_list,
    split_list,
)
from steward.config import ConfigError, Runtime
from steward.identity.errors import ServiceError
from steward.store.db import make_engine, session_factory, upgrade

catalogue_app = typer.Typer(
    help="The model catalogue: which models may be routed to, their owners and data classes.",
    no_args_is_help=True,
)

ModelArg = Annotated[
    str, typer.Argument(help="An alias, or provider/upstream_model.", show_default=False)
]

_COLUMNS = [
    ("NAME", attr("name")),
    ("KIND", attr("kind")),
    ("STATE", lambda m: m.state or "unlisted"),
    ("ROUTABLE", attr("routable")),
    ("CONFIGURED", attr("configured")),
    ("OWNER", attr("owner")),
    ("DATA CLASSES", lambda m: "any" if m.data_classes is None else m.data_classes),
]


@contextmanager
def deployments(config: str | None) -> Iterator[DeploymentService]:
    """Open the catalogue and deployment service for one command; failures exit cleanly."""
    try:
        runtime = Runtime.load(config)
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {exc.__class__.__name__}: {exc}")
    service = DeploymentService(session_factory(engine), runtime.config, engine=engine)
    try:
        yield service
    except ServiceError as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {exc}")
    finally:
        service.close()


@catalogue_app.command("list")
def list_models(
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="Only models in this state (or 'unlisted').", show_default=False
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every model the configuration uses or the catalogue lists, with its state."""
    with deployments(config) as svc:
        rows = svc.list_models(state)
    show_list(rows, _COLUMNS, as_json, empty="No models.")


@catalogue_app.command("show")
def show_model(model: ModelArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """One model's catalogue entry."""
    with deployments(config) as svc:
        show(svc.get_model(model), as_json)


@catalogue_app.command("set-state")
def set_state(
    model: ModelArg,
    state: Annotated[
        str,
        typer.Argument(help="proposed, approved, deprecated or blocked.", show_default=False),
    ],
    reason: ReasonOption = "",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a model to another state (adding it to the catalogue if needed)."""
    with deployments(config) as svc:
        info: ModelInfo = svc.set_state(model, state, reason=reason, actor=cli_actor())
    show(info, as_json, f"{info.name} is now {info.state}.")


@catalogue_app.command("set-owner")
def set_owner(
    model: ModelArg,
    owner: Annotated[
        str, typer.Argument(help="User name or id ('' to clear).", show_default=False)
    ],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a user accountable for a model."""
    with deployments(config) as svc:
        info = svc.set_owner(model, owner or None, actor=cli_actor())
    show(info, as_json, f"{info.name} is owned by {info.owner or 'nobody'}.")


@catalogue_app.command("set-data-classes")
def set_data_classes(
    model: ModelArg,
    classes: Annotated[
        str,
        typer.Argument(
            help="Comma-separated data classes, e.g. public,internal,pii; 'any' to lift the "
            "restriction.",
            show_default=False,
        ),
    ],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set the data classes a model may see."""
    values = None if classes.strip() == "any" else split_list(classes)
    with deployments(config) as svc:
        info = svc.set_data_classes(model, values, actor=cli_actor())
    cleared = "any data" if info.data_classes is None else ", ".join(info.data_classes) or "none"
    show(info, as_json, f"{info.name} may see {cleared}.")


@catalogue_app.command("sync")
def sync(
    state: Annotated[str, typer.Option("--state", help="State of the models added.")] = "proposed",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add every configured alias and upstream model missing from the catalogue."""
    with deployments(config) as svc:
        added = svc.sync(state, actor=cli_actor())
    if not as_json:
        typer.echo(f"Added {len(added)} model(s) as {state}.")
    show_list(added, _COLUMNS, as_json, empty="")


__all__ = ["catalogue_app", "deployments"]
