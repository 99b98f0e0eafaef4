"""`steward policy ...`: validate, test and explain Cedar policies; list, show, apply and delete
the policy sets stored for every gateway. A thin front end over steward.policy.service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from steward.cli._common import (
    ConfigOption,
    JsonOption,
    attr,
    cli_actor,
    fail,
    print_json,
    show_list,
    split_list,
    to_jsonable,
)
from steward.config import ConfigError, Runtime
from steward.identity.errors import ServiceError
from steward.policy.engine import PolicyEngine, model_infos
from steward.policy.explain import Explanation, explain
from steward.policy.files import read_directory
from steward.policy.requests import RequestError, RequestSpec
from steward.policy.schema import build_schema
from steward.policy.service import PolicyService, validate_set
from steward.policy.sets import MODES, PolicyError, PolicySource, check_set_name
from steward.policy.testing import CaseFileError, find_test_files, run_file
from steward.store.db import make_engine, session_factory, upgrade

policy_app = typer.Typer(
    help="Cedar policies: validate, test and explain them; manage the stored policy sets.",
    no_args_is_help=True,
)

DirArg = Annotated[Path, typer.Argument(help="A directory of *.cedar files (one policy set each).")]
NameArg = Annotated[str, typer.Argument(help="The policy set's name.", show_default=False)]
_LIST_COLUMNS = [
    ("NAME", attr("name")),
    ("MODE", attr("mode")),
    ("VERSION", attr("version")),
    ("UPDATED", attr("updated_at")),
    ("BY", attr("updated_by")),
    ("DESCRIPTION", attr("description")),
]


def _runtime(config: str | None) -> Runtime:
    try:
        return Runtime.load(config)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))


def _sources(directory: Path, shadow: list[str]) -> list[PolicySource]:
    try:
        return read_directory(directory, shadow)
    except PolicyError as exc:
        fail(str(exc))


@contextmanager
def _service(config: str | None) -> Iterator[PolicyService]:
    runtime = _runtime(config)
    try:
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except SQLAlchemyError as exc:
        fail(
            f"cannot open the database: {exc.__class__.__name__}: {exc.args[0] if exc.args else ''}"
        )
    cfg = runtime.config
    service = PolicyService(
        session_factory(engine), cfg.policy, models=model_infos(cfg.models), engine=engine
    )
    try:
        yield service
    except ServiceError as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {exc.args[0] if exc.args else ''}")
    finally:
        service.close()


@policy_app.command("validate")
def validate(directory: DirArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Validate every policy set of DIR against the schema (exit 1 if any is invalid)."""
    runtime = _runtime(config)
    try:
        schema = build_schema(runtime.config.policy)
    except ValueError as exc:
        fail(f"the schema from policy.arguments does not parse: {exc}")
    declared = runtime.config.policy.arguments
    results = {
        s.name: validate_set(schema, s.name, s.text, declared=declared)
        for s in _sources(directory, [])
    }
    if as_json:
        print_json({n: to_jsonable(r) for n, r in results.items()})
    for name, r in results.items():
        if as_json:
            break
        if r.valid:
            typer.echo(f"ok      {name}: {len(r.policies)} policies")
        else:
            typer.echo(f"INVALID {name}:")
            for e in r.errors:
                typer.echo(f"  - {e}")
    if not results:
        fail(f"no *.cedar files in {directory}")
    if not all(r.valid for r in results.values()):
        raise typer.Exit(1)


@policy_app.command("test")
def test(directory: DirArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Run the test cases in DIR/tests/*.yaml against DIR's policies (exit 1 on a failure)."""
    runtime = _runtime(config)
    sources = _sources(directory, [])
    files = find_test_files(directory)
    if not files:
        fail(f"no test files in {directory / 'tests'} (*.yaml); see docs/policies.md")
    results = []
    try:
        for path in files:
            results += run_file(
                path, runtime.config.policy, sources, model_infos(runtime.config.models)
            )
    except (CaseFileError, PolicyError) as exc:
        fail(str(exc))
    failed = [r for r in results if not r.passed]
    if as_json:
        print_json(
            [
                {
                    "file": r.file,
                    "name": r.name,
                    "passed": r.passed,
                    "expected": r.expected,
                    "got": r.got,
                    "message": r.message,
                }
                for r in results
            ]
        )
    else:
        for r in results:
            mark = "PASS" if r.passed else "FAIL"
            typer.echo(
                f"{mark}  {Path(r.file).name}: {r.name}"
                + (f"\n      {r.message}" if r.message else "")
            )
        typer.echo(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


def _parse_json(value: str | None, what: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        out = json.loads(value)
    except ValueError as exc:
        fail(f"{what} is not valid JSON: {exc}")
    if not isinstance(out, dict):
        fail(f"{what} must be a JSON object")
    return out


def _print_explanation(ex: Explanation) -> None:
    d = ex.decision
    head = "ALLOW" if d.verdict == "allow" else "DENY"
    extra = " (requires human approval)" if d.approval else ""
    extra += " [shadow mode: not enforced]" if d.mode == "shadow" else ""
    typer.echo(f"decision: {head}{extra}\nreason:   {d.reason}")
    typer.echo(f"determining policies: {', '.join(d.policies) or '(none)'}")
    for e in d.errors:
        typer.echo(f"error: {e}")
    for sub in ex.subjects:
        typer.echo(f"\n{sub.principal} ({sub.role}):")
        for p in sub.policies:
            state = "ERROR" if p.error else ("matched" if p.matched else "-")
            tags = (
                p.effect
                + (", approval" if p.approval else "")
                + (", shadow" if p.mode == "shadow" else "")
            )
            typer.echo(f"  {state:8} {p.id} ({tags})" + (f": {p.error}" if p.error else ""))


@policy_app.command("explain")
def explain_cmd(
    principal: Annotated[
        str,
        typer.Option(
            "--principal",
            "-p",
            help="KIND:NAME, e.g. agent:support-bot (user, app, agent, service).",
        ),
    ],
    action: Annotated[str, typer.Option("--action", "-a", help="invoke_model or call_tool.")],
    resource: Annotated[
        str, typer.Option("--resource", "-r", help="The model alias or tool name.")
    ],
    server: Annotated[str | None, typer.Option("--server", help="The tool's server.")] = None,
    arguments: Annotated[
        str | None, typer.Option("--args", help="Tool arguments as a JSON object.")
    ] = None,
    on_behalf_of: Annotated[
        str | None, typer.Option("--on-behalf-of", help="The user (name) the agent acts for.")
    ] = None,
    chain: Annotated[
        str | None,
        typer.Option(
            "--chain", help="Delegation chain: agent names, outermost first, comma-separated."
        ),
    ] = None,
    key_models: Annotated[
        str | None, typer.Option("--key-models", help="The key's allowed models, comma-separated.")
    ] = None,
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            help='Context as JSON: {"time": ISO 8601, "findings": [...], "data_classes": [...]}.',
        ),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Also load the *.cedar files of this directory (as if applied)."
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decide one request against the stored policies (and --dir's) and show which policies
    matched, for the acting principal and every principal that bounds it."""
    try:
        spec = RequestSpec(
            principal=principal,
            action=action,
            resource=resource,
            server=server,
            arguments=_parse_json(arguments, "--args"),
            on_behalf_of=on_behalf_of,
            chain=tuple(split_list(chain) or ()),
            key_models=tuple(split_list(key_models) or ()) if key_models is not None else None,
            context=_parse_json(context, "--context"),
        )
    except RequestError as exc:
        fail(str(exc))
    with _service(config) as service:
        engine = service.live_engine()
        if directory is not None:
            extra = PolicyEngine(service.settings, service.models, _sources(directory, []))
            extra.load(engine.state.data)
            engine = extra
        try:
            ex = explain(engine, spec)
        except RequestError as exc:
            fail(str(exc))
    if as_json:
        print_json(to_jsonable(ex))
    else:
        _print_explanation(ex)


@policy_app.command("list")
def list_sets(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List the stored policy sets."""
    with _service(config) as service:
        rows = service.list()
    show_list(rows, _LIST_COLUMNS, as_json, empty="no stored policy sets")


@policy_app.command("show")
def show_set(
    name: NameArg,
    version: Annotated[int | None, typer.Option("--version", help="An older version.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a stored set's text, its policies and its versions."""
    with _service(config) as service:
        detail = service.get(name, version)
    if as_json:
        print_json(to_jsonable(detail))
        return
    typer.echo(
        f"# {detail.info.name} v{detail.version} ({detail.mode}); current v{detail.info.version}"
    )
    for p in detail.policies:
        typer.echo(f"#   {p.id}: {p.effect}" + (" (approval)" if p.approval else ""))
    typer.echo(f"# versions: {', '.join(str(v.version) for v in detail.versions)}\n")
    typer.echo(detail.text)


@policy_app.command("apply")
def apply(
    path: Annotated[Path, typer.Argument(help="A *.cedar file or a directory of them.")],
    mode: Annotated[str, typer.Option("--mode", help="enforce or shadow.")] = "enforce",
    name: Annotated[
        str | None, typer.Option("--name", help="Set name for a single file (default: its stem).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Store policy sets (all validate or none is written); every gateway applies them in ~1 s."""
    if mode not in MODES:
        fail(f"--mode must be one of: {', '.join(MODES)}")
    if path.is_dir():
        sources = [PolicySource(s.name, s.text, mode) for s in _sources(path, [])]
    else:
        try:
            sources = [
                PolicySource(check_set_name(name or path.stem), path.read_text("utf-8"), mode)
            ]
        except (OSError, UnicodeDecodeError, PolicyError) as exc:
            fail(str(exc))
    with _service(config) as service:
        infos = service.apply(sources, actor=cli_actor())
    for info in infos:
        typer.echo(f"applied {info.name} v{info.version} ({info.mode})")


@policy_app.command("delete")
def delete(name: NameArg, config: ConfigOption = None) -> None:
    """Delete a stored set and its versions."""
    with _service(config) as service:
        info = service.delete(name, actor=cli_actor())
    typer.echo(f"deleted {info.name} (was v{info.version})")


__all__ = ["policy_app"]
