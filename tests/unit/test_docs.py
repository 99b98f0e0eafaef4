"""The documentation covers the interfaces users touch: every `steward` command with its options
and arguments (docs/cli.md), every configuration key and environment setting
(docs/configuration.md), and every link between the pages."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel

from steward.cli.main import app
from steward.config.models import StewardConfig
from steward.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CLI_MD = DOCS / "cli.md"
CONFIG_MD = DOCS / "configuration.md"

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


# -- markdown helpers ----------------------------------------------------------------------------


def sections(path: Path) -> list[tuple[str, str]]:
    """(heading text, body up to the next heading) for each heading, ignoring fenced code."""
    out: list[tuple[str, list[str]]] = [("", [])]
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            out.append((match.group(2), []))
        else:
            out[-1][1].append(line)
    return [(heading, "\n".join(body)) for heading, body in out]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def mentions(text: str, token: str) -> bool:
    """Whether `token` (an option such as `--team` or `-t`) appears as a whole word."""
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


# -- the CLI -------------------------------------------------------------------------------------


def walk_commands(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    """Every leaf command of the Typer app, as ('steward keys create', command), and every group
    that runs on its own with options of its own (`steward usage --by team`)."""
    subcommands = getattr(command, "commands", None)
    if subcommands:
        if command.params and getattr(command, "invoke_without_command", False):
            yield " ".join(path), command
        for name, sub in sorted(subcommands.items()):
            yield from walk_commands(sub, (*path, name))
    else:
        yield " ".join(path), command


COMMANDS = dict(walk_commands(typer.main.get_command(app), ("steward",)))


def command_sections() -> dict[str, str]:
    """'steward keys create' -> the text of its `### \\`steward keys create\\`` section, in
    docs/cli.md or in the page of the feature it belongs to (docs/policies.md...)."""
    found: dict[str, str] = {}
    pages = [CLI_MD, *sorted(p for p in DOCS.glob("*.md") if p != CLI_MD)]
    for page in pages:  # docs/cli.md first: a feature page may repeat a command in its prose
        here: dict[str, str] = {}
        for heading, body in sections(page):
            match = re.fullmatch(r"`(steward(?: [a-z][a-z-]*)*)`", heading)
            if match:
                assert match.group(1) not in here, f"docs/{page.name}: '{heading}' appears twice"
                here[match.group(1)] = body
        found.update({k: v for k, v in here.items() if k not in found})
    return found


def common_options() -> set[str]:
    """Options documented once for every command, in the 'Common options' section."""
    for heading, body in sections(CLI_MD):
        if heading == "Common options":
            return set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", body))
    return set()


def test_cli_commands_exist() -> None:
    assert len(COMMANDS) > 30, "the command walk found too few commands"
    assert "steward keys create" in COMMANDS


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_is_documented(path: str) -> None:
    assert path in command_sections(), (
        f"docs/ has no section '### `{path}`'; document the command and its options"
    )


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_and_argument_is_documented(path: str) -> None:
    body = command_sections().get(path)
    if body is None:
        pytest.skip("the command itself is missing (reported by the test above)")
    common = common_options()
    missing: list[str] = []
    for param in COMMANDS[path].params:
        if param.param_type_name == "argument":
            metavar = param.name.upper()
            if not mentions(body, metavar):
                missing.append(metavar)
            continue
        for opt in (*param.opts, *param.secondary_opts):
            if opt not in common and not mentions(body, opt):
                missing.append(opt)
    assert not missing, f"docs/cli.md, section `{path}`: not documented: {', '.join(missing)}"


def test_no_documented_command_is_unknown() -> None:
    unknown = sorted(set(command_sections()) - set(COMMANDS))
    assert not unknown, f"docs/cli.md documents commands that do not exist: {unknown}"


# -- the configuration ---------------------------------------------------------------------------


def nested_model(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """('model' | 'dict' | 'list', the model) when a field holds configuration models."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = nested_model(arg)
            if found:
                return found
        return None
    if origin is dict and len(args) == 2:
        inner = nested_model(args[1])
        return ("dict", inner[1]) if inner and inner[0] == "model" else None
    if origin is list and len(args) == 1:
        inner = nested_model(args[0])
        return ("list", inner[1]) if inner and inner[0] == "model" else None
    return None


def config_keys(
    model: type[BaseModel], container: str = "", prefix: str = ""
) -> Iterator[tuple[str, str]]:
    """(container, key) for every field, nested ones included. The container is where a table
    of keys lives ('' for the top level, 'providers.<name>', 'models[]'); the key is dotted
    from there ('server.port', 'kind', 'sim.latency_ms', 'price.input_per_mtok')."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        yield container, key
        found = nested_model(field.annotation)
        if found is None:
            continue
        how, sub = found
        full = f"{container}.{key}" if container else key
        if how == "model":
            yield from config_keys(sub, container, f"{key}.")
        elif how == "dict":
            yield from config_keys(sub, f"{full}.<name>")
        else:
            yield from config_keys(sub, f"{full}[]")


CONFIG_KEYS = sorted(set(config_keys(StewardConfig)))


def test_config_walk_reaches_nested_keys() -> None:
    keys = set(CONFIG_KEYS)
    assert ("", "server.port") in keys
    assert ("providers.<name>", "sim.latency_ms") in keys
    assert ("models[]", "price.input_per_mtok") in keys


@pytest.mark.parametrize(("container", "key"), CONFIG_KEYS, ids=lambda v: v or "top")
def test_every_config_key_is_documented(container: str, key: str) -> None:
    """Top-level keys (and their nested ones, `server.port`) anywhere in the page; keys of a
    provider or a model in a section whose heading names that container."""
    needle = f"`{key}`"
    if not container:
        # the top-level section must be named in configuration.md; its keys may be documented
        # in the feature's own page (`policy.directory` in docs/policies.md)
        top = f"`{key.split('.')[0]}`"
        assert top in CONFIG_MD.read_text(encoding="utf-8"), (
            f"docs/configuration.md does not name {top}"
        )
        assert any(needle in page.read_text(encoding="utf-8") for page in DOCS.glob("*.md")), (
            f"no page in docs/ documents {needle}"
        )
        return
    bodies = [body for heading, body in sections(CONFIG_MD) if container in heading]
    assert bodies, f"docs/configuration.md has no section for `{container}`"
    assert any(needle in body for body in bodies), (
        f"docs/configuration.md does not document {needle} under `{container}`"
    )


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_environment_setting_is_documented(name: str) -> None:
    variable = f"`STEWARD_{name.upper()}`"
    assert variable in CONFIG_MD.read_text(encoding="utf-8"), (
        f"docs/configuration.md does not document {variable}"
    )


# -- links ---------------------------------------------------------------------------------------


def local_links(path: Path) -> Iterator[tuple[Path, str]]:
    """(target file, anchor) for each relative link in a markdown file (`#anchor` alone links
    into the file itself)."""
    text = path.read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        yield (path.parent / file).resolve() if file else path.resolve(), anchor


def test_readme_links_to_docs_exist() -> None:
    links = [t for t, _ in local_links(ROOT / "README.md") if DOCS in t.parents]
    assert links, "README.md links to no page in docs/"
    missing = sorted(str(t.relative_to(ROOT)) for t in links if not t.is_file())
    assert not missing, f"README.md links to missing pages: {missing}"


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_links_between_pages_resolve(page: str) -> None:
    broken: list[str] = []
    for target, anchor in local_links(DOCS / page):
        if not target.exists():
            broken.append(f"{target.name} (missing)")
        elif anchor and target.suffix == ".md":
            anchors = {slug(heading) for heading, _ in sections(target)}
            if anchor not in anchors:
                broken.append(f"{target.name}#{anchor} (no such heading)")
    assert not broken, f"docs/{page}: broken links: {', '.join(broken)}"
