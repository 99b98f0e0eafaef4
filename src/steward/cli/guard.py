"""`steward guard ...`: try the detectors and profiles on a text or a file, measure them on a
labelled set, and register confidential documents. Nothing scanned is written anywhere: the
text is read, scanned in memory and printed."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from steward.cli._common import (
    ConfigOption,
    JsonOption,
    attr,
    cli_actor,
    fail,
    print_json,
    print_table,
    show,
    show_list,
)
from steward.config import ConfigError, Runtime
from steward.guard.actions import Keyed
from steward.guard.documents import GuardDocuments, Preview, preview
from steward.guard.evaluate import evaluate, format_table, load_jsonl
from steward.guard.findings import GuardConfigError
from steward.guard.fingerprints import FingerprintIndex
from steward.guard.profiles import RANK
from steward.guard.runtime import load_hash_key
from steward.guard.scanner import Scanner
from steward.identity.errors import ServiceError
from steward.store.db import make_engine, session_factory, upgrade

guard_app = typer.Typer(
    help="Data protection: try detectors and profiles, evaluate them, register documents.",
    no_args_is_help=True,
)
docs_app = typer.Typer(
    help="Confidential documents: only their fingerprints are stored, never their text.",
    no_args_is_help=True,
)
guard_app.add_typer(docs_app, name="docs")


class DirectionChoice(StrEnum):
    input = "input"
    output = "output"


class ActionChoice(StrEnum):
    log = "log"
    pseudonymize = "pseudonymize"
    mask = "mask"
    hash = "hash"
    redact = "redact"
    require_approval = "require_approval"
    block = "block"


ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        "-p",
        help="A profile from the configuration, applied together with `default`.",
        show_default=False,
    ),
]
DirectionOption = Annotated[
    DirectionChoice,
    typer.Option("--direction", "-d", help="input: a prompt; output: an answer."),
]
FailOnOption = Annotated[
    ActionChoice | None,
    typer.Option(
        "--fail-on",
        help="Exit 1 if any finding's action is this one or stricter (e.g. block).",
        show_default=False,
    ),
]

_FINDING_COLUMNS = [
    ("ENTITY", attr("entity")),
    ("CLASS", attr("data_class")),
    ("DETECTOR", attr("detector")),
    ("SPAN", lambda f: f"{f.start}-{f.end}"),
    ("SCORE", lambda f: f"{f.score:.2f}"),
    ("LABEL", attr("label")),
    ("ACTION", attr("action")),
    ("PROFILE", attr("profile")),
]
_DOC_COLUMNS = [
    ("NAME", attr("name")),
    ("WORDS", attr("words")),
    ("FINGERPRINTS", attr("fingerprints")),
    ("SHA256", lambda d: d.sha256[:16] + "…"),
    ("CREATED", attr("created_at")),
    ("BY", attr("created_by")),
    ("ID", attr("id")),
]
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@-]+")


# -- shared pieces ---------------------------------------------------------------------------


def _runtime(config: str | None) -> Runtime:
    try:
        return Runtime.load(config)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))


@contextmanager
def _documents(runtime: Runtime) -> Iterator[GuardDocuments]:
    """The documents service on the configured store; expected failures become clean exits."""
    min_words = runtime.config.guard.detectors.fingerprint_min_words
    try:
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except SQLAlchemyError as exc:
        detail = exc.args[0] if exc.args else ""
        fail(f"cannot open the database: {exc.__class__.__name__}: {detail}")
    service = GuardDocuments(session_factory(engine), engine=engine, min_words=min_words)
    try:
        yield service
    except ServiceError as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {exc.args[0] if exc.args else ''}")
    finally:
        service.close()


def _scanner(runtime: Runtime, index: FingerprintIndex | None = None) -> Scanner:
    try:
        return Scanner(runtime.config.guard.detectors, fingerprints=index)
    except GuardConfigError as exc:
        fail(f"guard.detectors: {exc}")


def _read_text(path: str) -> str:
    """A UTF-8 text file, or standard input for `-`."""
    if path == "-":
        return sys.stdin.read()
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    if b"\0" in raw:
        fail(f"{path} looks binary; extract its text first (e.g. pdftotext, pandoc)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text; convert it first (e.g. iconv -t UTF-8)")


def _dry_run(
    text: str,
    config: str | None,
    profile: str | None,
    direction: DirectionChoice,
    fail_on: ActionChoice | None,
    as_json: bool,
) -> None:
    runtime = _runtime(config)
    settings = runtime.config.guard
    with _documents(runtime) as docs:
        index = docs.fingerprint_index()
        scanner = _scanner(runtime, index)
        keyed = Keyed(load_hash_key(settings, runtime.data_dir))
        result = preview(settings, scanner, keyed, text, profile=profile, direction=direction.value)
    _print_preview(result, as_json, settings.enabled)
    if fail_on is not None:
        bar = RANK[fail_on.value]
        tripped = [f for f in result.findings if RANK[f.action] >= bar]
        if tripped:
            entities = ", ".join(sorted({f.entity for f in tripped}))
            typer.echo(
                f"{len(tripped)} finding(s) with action {fail_on.value} or stricter: {entities}",
                err=True,
            )
            raise typer.Exit(1)


def _print_preview(result: Preview, as_json: bool, enabled: bool) -> None:
    if as_json:
        print_json(result)
        return
    if not enabled:
        typer.echo("note: guard.enabled is false in this configuration; the gateway scans nothing")
    print_table(result.findings, _FINDING_COLUMNS, empty="No findings.")
    typer.echo(
        f"\nprofiles: {', '.join(result.profiles)}  direction: {result.direction}  "
        f"outcome: {result.outcome}"
    )
    typer.echo("--- resulting text ---")
    typer.echo(result.text)


# -- commands --------------------------------------------------------------------------------


@guard_app.command("test")
def test_text(
    text: Annotated[
        str, typer.Argument(help="The text to scan; '-' reads standard input.", show_default=False)
    ],
    profile: ProfileOption = None,
    direction: DirectionOption = DirectionChoice.input,
    fail_on: FailOnOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the findings in TEXT and the text a model would see under a profile."""
    _dry_run(
        _read_text(text) if text == "-" else text, config, profile, direction, fail_on, as_json
    )


@guard_app.command("scan")
def scan_file(
    file: Annotated[
        str, typer.Argument(help="A UTF-8 text file; '-' reads standard input.", show_default=False)
    ],
    profile: ProfileOption = None,
    direction: DirectionOption = DirectionChoice.input,
    fail_on: FailOnOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Like `test`, on the text of a file."""
    _dry_run(_read_text(file), config, profile, direction, fail_on, as_json)


@guard_app.command("eval")
def eval_dataset(
    dataset: Annotated[
        str,
        typer.Argument(
            help='Labelled JSONL: {"text": ..., "spans": [{"start", "end", "entity"}]}.',
            show_default=False,
        ),
    ],
    min_f1: Annotated[
        float | None,
        typer.Option(
            "--min-f1",
            min=0.0,
            max=1.0,
            help="Exit 1 if any entity's F1 is below this.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Precision, recall and F1 per entity type of the configured detectors on a labelled set."""
    runtime = _runtime(config)
    try:
        records = load_jsonl(dataset)
    except OSError as exc:
        fail(f"cannot read {dataset}: {exc.strerror or exc}")
    except ValueError as exc:
        fail(str(exc))
    scanner = _scanner(runtime)
    try:
        report = evaluate(scanner, records)
    except (KeyError, TypeError) as exc:
        fail(f"{dataset}: every span needs integer start and end and an entity ({exc!r})")
    if as_json:
        print_json({"records": len(records), "entities": report})
    else:
        typer.echo(format_table(report))
        typer.echo(f"\n{len(records)} records")
    if min_f1 is not None:
        low = [f"{e} ({m['f1']:.3f})" for e, m in report.items() if m["f1"] < min_f1]
        if low:
            typer.echo(f"F1 below {min_f1}: {', '.join(low)}", err=True)
            raise typer.Exit(1)


# -- documents -------------------------------------------------------------------------------


def _default_name(path: str) -> str:
    name = _UNSAFE_NAME.sub("-", Path(path).stem).strip("-._@")[:100]
    if path == "-" or not name:
        fail("give the document a name with --name")
    return name


@docs_app.command("add")
def add_document(
    file: Annotated[
        str,
        typer.Argument(
            help="The document as UTF-8 text; '-' reads standard input.", show_default=False
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            "-n",
            help="Unique name (default: the file name without its extension).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a confidential document: its fingerprints are stored, never its text."""
    doc_name = name if name is not None else _default_name(file)
    text = _read_text(file)
    with _documents(_runtime(config)) as docs:
        info = docs.add(doc_name, text, actor=cli_actor())
    show(
        info,
        as_json,
        f"Registered document {info.name} ({info.words} words, {info.fingerprints} "
        "fingerprints); its text was not stored.",
    )


@docs_app.command("list")
def list_documents(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List registered documents (sizes and digests; never text or hashes)."""
    with _documents(_runtime(config)) as docs:
        rows = docs.list()
    show_list(rows, _DOC_COLUMNS, as_json, empty="No documents registered.")


@docs_app.command("show")
def show_document(
    name: Annotated[str, typer.Argument(help="Name or id.", show_default=False)],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one registered document."""
    with _documents(_runtime(config)) as docs:
        info = docs.get(name)
    show(info, as_json)


@docs_app.command("remove")
def remove_document(
    name: Annotated[str, typer.Argument(help="Name or id.", show_default=False)],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Forget a document: its passages are no longer detected once gateways reload."""
    with _documents(_runtime(config)) as docs:
        info = docs.remove(name, actor=cli_actor())
    show(info, as_json, f"Removed document {info.name}.")
