"""`steward guard ...` through Typer's runner, on a real SQLite store in a temporary data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from steward.cli.guard import guard_app

app = typer.Typer()
app.add_typer(guard_app, name="guard")

PLAN = (
    "Project Bluebird replaces the current checkout service in three waves. The first wave "
    "moves the European storefronts in the second week of March, after the payment provider "
    "finishes its load tests and the fraud team signs off on the new risk rules. The second "
    "wave moves North America in April, once the tax engine integration is certified.\n"
)
TEXT = "Mail bob@example.com, card 4111 1111 1111 1111."
CONFIG = """
guard:
  profiles:
    no-pii:
      input: {pii: block}
    pseudo:
      input: {EMAIL_ADDRESS: pseudonymize}
  detectors:
    terms:
      codenames: [Bluebird]
"""


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("STEWARD_CONFIG", "STEWARD_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def config(tmp_path: Path, data_dir: Path) -> str:
    path = tmp_path / "steward.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return str(path)


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin)


def ok(*args: str, stdin: str | None = None) -> Result:
    result = run(*args, stdin=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def failed(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


# -- test and scan ---------------------------------------------------------------------------


def test_test_prints_findings_and_resulting_text(data_dir: Path) -> None:
    out = ok("guard", "test", TEXT).stdout
    assert "EMAIL_ADDRESS" in out and "CREDIT_CARD" in out and "redact" in out
    assert "outcome: modified" in out
    assert out.rstrip().endswith("Mail bob@example.com, card [CREDIT_CARD].")


def test_test_json_with_profile(config: str) -> None:
    body = json.loads(
        ok("guard", "test", "--profile", "pseudo", "-c", config, "--json", TEXT).stdout
    )
    assert body["text"] == "Mail <EMAIL_ADDRESS_1>, card [CREDIT_CARD]."
    assert body["profiles"] == ["default", "pseudo"]
    assert [(f["entity"], f["action"], f["profile"]) for f in body["findings"]] == [
        ("EMAIL_ADDRESS", "pseudonymize", "pseudo"),
        ("CREDIT_CARD", "redact", "default"),
    ]


def test_fail_on(config: str) -> None:
    ok("guard", "test", "-c", config, "--fail-on", "block", TEXT)
    result = run("guard", "test", "-c", config, "-p", "no-pii", "--fail-on", "block", TEXT)
    assert result.exit_code == 1
    assert "outcome: blocked" in result.stdout
    assert "2 finding(s) with action block or stricter: CREDIT_CARD, EMAIL_ADDRESS" in result.stderr
    assert run("guard", "test", "--fail-on", "redact", "-c", config, TEXT).exit_code == 1
    # the profile has input rules only
    ok("guard", "test", "-c", config, "-p", "no-pii", "-d", "output", "--fail-on", "block", TEXT)


def test_test_reads_standard_input(data_dir: Path) -> None:
    body = json.loads(ok("guard", "test", "--json", "-", stdin=TEXT).stdout)
    assert body["text"].endswith("[CREDIT_CARD].")


def test_scan_a_file(config: str, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(f"Status of bluebird: fine. Call +44 20 7946 0958.\n{TEXT}\n", "utf-8")
    out = ok("guard", "scan", str(path), "-c", config).stdout
    for entity in ("TERM", "codenames", "PHONE_NUMBER", "CREDIT_CARD"):
        assert entity in out


def test_scan_refuses_binary_and_missing_files(data_dir: Path, tmp_path: Path) -> None:
    binary = tmp_path / "a.pdf"
    binary.write_bytes(b"%PDF-1.7\0\0\x01")
    assert "looks binary" in failed("guard", "scan", str(binary))
    assert "cannot read" in failed("guard", "scan", str(tmp_path / "missing.txt"))


def test_unknown_profile_and_bad_config(config: str, tmp_path: Path) -> None:
    assert "profile 'nope' is not defined" in failed(
        "guard", "test", "-c", config, "-p", "nope", "x"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("guard:\n  detectors:\n    regexes:\n      r: 'a(?=b)'\n", "utf-8")
    assert "guard.detectors" in failed("guard", "test", "-c", str(bad), "x")
    bad.write_text("guard:\n  bogus: 1\n", "utf-8")
    assert "guard.bogus" in failed("guard", "test", "-c", str(bad), "x")


def test_scanned_text_is_not_written(data_dir: Path) -> None:
    ok("guard", "test", "The launch code is zebra-Quetzalcoatl-77, card 4111 1111 1111 1111.")
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert b"Quetzalcoatl" not in stored


# -- eval ------------------------------------------------------------------------------------


def _dataset(tmp_path: Path) -> Path:
    records = [
        {
            "text": "Mail bob@example.com now.",
            "spans": [{"start": 5, "end": 20, "entity": "EMAIL_ADDRESS"}],
        },
        {"text": "Order 4111 1111 1111 1112 shipped.", "spans": []},
        {
            "text": "Call me on 555-0100.",
            "spans": [{"start": 11, "end": 19, "entity": "PHONE_NUMBER"}],
        },
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", "utf-8")
    return path


def test_eval_table_json_and_threshold(data_dir: Path, tmp_path: Path) -> None:
    path = str(_dataset(tmp_path))
    out = ok("guard", "eval", path).stdout
    assert "EMAIL_ADDRESS" in out and "3 records" in out
    body = json.loads(ok("guard", "eval", path, "--json").stdout)
    assert body["records"] == 3
    assert body["entities"]["EMAIL_ADDRESS"]["f1"] == 1.0
    assert body["entities"]["PHONE_NUMBER"]["recall"] == 0.0  # a fictional 555 number
    result = run("guard", "eval", path, "--min-f1", "0.9")
    assert result.exit_code == 1 and "F1 below 0.9: PHONE_NUMBER (0.000)" in result.stderr
    ok("guard", "eval", path, "--min-f1", "0")


def test_eval_reports_bad_lines(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok", "spans": []}\nnot json\n', "utf-8")
    assert f"{path}:2: not JSON" in failed("guard", "eval", str(path))
    path.write_text('{"text": "ok", "spans": [{"start": 0}]}\n', "utf-8")
    assert "every span needs" in failed("guard", "eval", str(path))


# -- documents -------------------------------------------------------------------------------


def test_docs_add_list_show_remove(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "Bluebird plan (v2).txt"
    path.write_text(PLAN, "utf-8")
    out = ok("guard", "docs", "add", str(path)).stdout
    assert "Registered document Bluebird-plan-v2 (" in out and "not stored" in out
    assert "cli:" in out

    rows = json.loads(ok("guard", "docs", "list", "--json").stdout)
    assert [r["name"] for r in rows] == ["Bluebird-plan-v2"]
    assert "fingerprints" in rows[0] and "text" not in rows[0]
    assert "Bluebird-plan-v2" in ok("guard", "docs", "list").stdout
    shown = json.loads(ok("guard", "docs", "show", rows[0]["id"], "--json").stdout)
    assert shown == rows[0]

    leak = f"Summarise: {PLAN}"
    body = json.loads(ok("guard", "test", "--json", leak).stdout)
    assert ("DOCUMENT", "Bluebird-plan-v2") in [(f["entity"], f["label"]) for f in body["findings"]]

    assert (
        "Removed document Bluebird-plan-v2."
        in ok("guard", "docs", "remove", "Bluebird-plan-v2").stdout
    )
    assert "No documents registered." in ok("guard", "docs", "list").stdout
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert b"European storefronts" not in stored


def test_docs_add_name_and_errors(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "plan.txt"
    path.write_text(PLAN, "utf-8")
    ok("guard", "docs", "add", str(path), "--name", "bluebird")
    assert "already exists" in failed("guard", "docs", "add", str(path), "-n", "bluebird")
    assert "already registered as guard document 'bluebird'" in failed(
        "guard", "docs", "add", str(path), "--name", "copy"
    )
    short = tmp_path / "short.txt"
    short.write_text("three short words", "utf-8")
    assert "has 3 words" in failed("guard", "docs", "add", str(short))
    assert "give the document a name with --name" in failed("guard", "docs", "add", "-")
    assert "does not exist" in failed("guard", "docs", "remove", "nope")
    added = json.loads(
        ok(
            "guard",
            "docs",
            "add",
            "-",
            "--name",
            "from-stdin",
            "--json",
            stdin=PLAN.replace("Bluebird", "Kestrel"),
        ).stdout
    )
    assert added["name"] == "from-stdin"
