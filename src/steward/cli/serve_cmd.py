"""`steward serve` and `steward demo`."""

from __future__ import annotations

import logging
import os

import typer

from steward.cli._runtime import load_runtime
from steward.config import Runtime

CONFIG_OPT = typer.Option(None, "--config", "-c", envvar="STEWARD_CONFIG", help="Config file.")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"


def prepare(config: str | None) -> tuple[Runtime, str | None]:
    """Load config, migrate the store and make sure an admin key exists. Runs once, before any
    worker starts. Returns the runtime and a newly generated admin key (or None).

    If the store is unreachable but this node has served before (a cached snapshot exists),
    start anyway: known keys keep working and events wait in the spool."""
    from sqlalchemy.exc import OperationalError

    from steward.identity.errors import ServiceError
    from steward.identity.service import IdentityService
    from steward.store.db import make_engine, session_factory, upgrade

    rt = load_runtime(config)
    try:
        upgrade(rt.database_url)
    except OperationalError as exc:
        where = _safe_url(rt.database_url)
        if (rt.data_dir / "snapshot.json").exists():
            typer.echo(
                f"warning: the database at {where} is unreachable ({exc.orig}); starting from "
                "the cached snapshot, events wait in the spool",
                err=True,
            )
            return rt, None
        typer.echo(f"error: cannot reach the database at {where}: {exc.orig}", err=True)
        raise typer.Exit(2) from None
    engine = make_engine(rt.database_url)
    try:
        identity = IdentityService(session_factory(engine))
        new_key = identity.ensure_bootstrap_admin(rt.settings.admin_key, rt.data_dir)
    except ServiceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    return rt, new_key


def serve(
    config: str | None = CONFIG_OPT,
    host: str | None = typer.Option(None, help="Bind address (default from config: 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default from config: 8400)."),
    workers: int | None = typer.Option(None, help="Worker processes (default from config: 1)."),
) -> None:
    """Run the gateway: OpenAI- and Anthropic-compatible endpoints, the admin API and /healthz."""
    import uvicorn

    rt, new_key = prepare(config)
    server = rt.config.server
    host = host or server.host
    port = port if port is not None else server.port
    workers = workers or server.workers
    if new_key:
        typer.echo(
            f"Generated the first admin key (shown once; also saved to {rt.data_dir}/admin-key):"
        )
        typer.echo(f"  {new_key}")
    typer.echo(f"Steward listening on http://{host}:{port} (workers: {workers})", err=True)
    if config:
        os.environ["STEWARD_CONFIG"] = config
    os.environ.setdefault("STEWARD_DATA_DIR", str(rt.data_dir))
    if workers > 1:  # one /metrics for all workers, whichever answers the scrape
        from steward.observability.metrics import share_between_workers

        share_between_workers(rt.data_dir / "metrics")
    level = rt.settings.log_level.lower()
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        "steward.gateway.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=level,
        timeout_graceful_shutdown=10,
    )


def demo(
    port: int = typer.Option(0, help="Port for the demo gateway (0: a free port)."),
    keep_running: bool = typer.Option(False, help="Keep the gateway up after the script."),
) -> None:
    """Start Steward on the embedded default, drive it with the official SDKs, print a summary."""
    from steward.demo.run import run_demo

    raise typer.Exit(run_demo(port=port, keep_running=keep_running))
