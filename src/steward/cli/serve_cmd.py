"""`steward serve` and `steward demo`."""

from __future__ import annotations

import logging
import os

import typer

from steward.cli._runtime import load_runtime

CONFIG_OPT = typer.Option(None, "--config", "-c", envvar="STEWARD_CONFIG", help="Config file.")


def prepare(config: str | None) -> tuple[object, str | None]:
    """Load config, migrate the store and make sure an admin key exists. Runs once, before any
    worker starts. Returns the runtime and a newly generated admin key (or None)."""
    from steward.identity.errors import ServiceError
    from steward.identity.service import IdentityService
    from steward.store.db import make_engine, session_factory, upgrade

    rt = load_runtime(config)
    upgrade(rt.database_url)
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

    from steward.config import Runtime

    rt, new_key = prepare(config)
    assert isinstance(rt, Runtime)
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
