"""The catalogue of known AI services (ai_services.yaml, shipped in the package, plus any user
file) and matching a destination host and path against it."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

BUILTIN = "ai_services.yaml"
_HOST_PATTERN = re.compile(r"^[a-z0-9*][a-z0-9*.-]*$")


class ServicesFileError(ValueError):
    """A services file that cannot be read or does not validate; the message names the file
    and the entry."""


class _ServiceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")
    provider: str = Field(min_length=1)
    category: Literal["api", "web", "assistant"] = "api"
    hosts: list[str] = Field(min_length=1)
    paths: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        out = []
        for host in hosts:
            value = host.strip().lower().rstrip(".")
            if not _HOST_PATTERN.match(value) or "**" in value:
                raise ValueError(
                    f"'{host}' is not a host pattern; write a host name such as api.example.com, "
                    "*.example.com or api.*.example.com"
                )
            out.append(value)
        return out

    @field_validator("paths")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(f"path '{path}' must start with '/', e.g. /v1/*")
        return paths


class _ServicesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    services: list[_ServiceSpec] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Service:
    """A known AI service: an id, who runs it, and what kind of use it is."""

    name: str
    provider: str
    category: str


@dataclass(frozen=True, slots=True)
class _Rule:
    service: Service
    pattern: str
    regex: re.Pattern[str] | None  # None: an exact host
    paths: tuple[str, ...]

    def rank(self) -> tuple[int, int, int]:
        """Most specific first: path rules, exact hosts, then longer wildcard patterns."""
        return (0 if self.paths else 1, 0 if self.regex is None else 1, -len(self.pattern))


def host_regex(pattern: str) -> re.Pattern[str] | None:
    """A compiled host pattern, or None when it has no wildcard. A leading '*.' matches one or
    more labels (any subdomain, not the name itself); any other '*' stays within one label."""
    if "*" not in pattern:
        return None
    body = pattern
    prefix = ""
    if body.startswith("*."):
        prefix = r"(?:[a-z0-9_-]+\.)+"
        body = body[2:]
    parts = [re.escape(chunk) for chunk in body.split("*")]
    return re.compile("^" + prefix + "[a-z0-9_-]*".join(parts) + "$")


class ServiceCatalog:
    """Matches (host, path) to a service. Built once; a lookup is a dict probe plus the few
    wildcard patterns, cached per host."""

    def __init__(self, specs: list[_ServiceSpec]) -> None:
        rules: list[_Rule] = []
        for spec in specs:
            service = Service(spec.name, spec.provider, spec.category)
            for host in spec.hosts:
                rules.append(_Rule(service, host, host_regex(host), tuple(spec.paths)))
        rules.sort(key=_Rule.rank)
        self._exact: dict[str, list[_Rule]] = {}
        self._wild: list[_Rule] = []
        for rule in rules:
            if rule.regex is None:
                self._exact.setdefault(rule.pattern, []).append(rule)
            else:
                self._wild.append(rule)
        self._by_host: dict[str, list[_Rule]] = {}
        self.services = sorted({r.service for r in rules}, key=lambda s: s.name)

    def _rules_for(self, host: str) -> list[_Rule]:
        found = self._by_host.get(host)
        if found is None:
            found = list(self._exact.get(host, []))
            found += [r for r in self._wild if r.regex is not None and r.regex.match(host)]
            found.sort(key=_Rule.rank)
            if len(self._by_host) < 100_000:  # bounded: logs can hold many distinct hosts
                self._by_host[host] = found
        return found

    def match(self, host: str, path: str | None = None) -> Service | None:
        """The service `host` (lower case, no port) belongs to, or None. Rules with paths
        only match when the path is known."""
        for rule in self._rules_for(host):
            if not rule.paths:
                return rule.service
            if path is not None and any(fnmatch.fnmatchcase(path, p) for p in rule.paths):
                return rule.service
        return None


def _parse(text: str, origin: str) -> list[_ServiceSpec]:
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ServicesFileError(f"{origin}: not valid YAML: {exc}") from None
    try:
        return _ServicesFile.model_validate(raw or {}).services
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ServicesFileError(
            f"{origin}: {where}: {first['msg']} ({exc.error_count()} problem(s) in all); "
            "see docs/discovery.md for the format"
        ) from None


def builtin_specs() -> list[_ServiceSpec]:
    text = resources.files("steward.discovery").joinpath(BUILTIN).read_text(encoding="utf-8")
    return _parse(text, BUILTIN)


def load_catalog(extra: list[str | Path] | None = None) -> ServiceCatalog:
    """The shipped catalogue plus each extra file in order; an entry whose name is already
    known replaces the earlier one."""
    specs: dict[str, _ServiceSpec] = {s.name: s for s in builtin_specs()}
    for path in extra or []:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ServicesFileError(f"cannot read services file {path}: {exc.strerror}") from None
        for spec in _parse(text, str(path)):
            specs[spec.name] = spec
    return ServiceCatalog(list(specs.values()))


__all__ = ["Service", "ServiceCatalog", "ServicesFileError", "host_regex", "load_catalog"]
