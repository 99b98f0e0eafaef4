"""Policy files: every `*.cedar` file of a directory is one policy set named after the file.
Used by the gateway at start (`policy.directory`) and by `steward policy validate|test|apply`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from steward.policy.sets import PolicyError, PolicySource, check_set_name


def read_directory(directory: str | Path, shadow: Iterable[str] = ()) -> list[PolicySource]:
    """The sets of a directory (sorted by name), each in shadow mode if named in `shadow`.
    Raises PolicyError for a missing directory, a bad file name or an unreadable file."""
    root = Path(directory)
    if not root.is_dir():
        raise PolicyError(str(directory), [f"policy directory '{directory}' does not exist"])
    shadow_names = set(shadow)
    out: list[PolicySource] = []
    for path in sorted(root.glob("*.cedar")):
        name = check_set_name(path.stem)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(name, [f"cannot read {path}: {exc}"]) from exc
        mode = "shadow" if name in shadow_names else "enforce"
        out.append(PolicySource(name=name, text=text, mode=mode, origin=f"file:{path}"))
    unknown = shadow_names - {s.name for s in out}
    if unknown:
        raise PolicyError(
            ", ".join(sorted(unknown)),
            [f"policy.shadow names sets that are not in {directory}: {', '.join(sorted(unknown))}"],
        )
    return out


__all__ = ["read_directory"]
