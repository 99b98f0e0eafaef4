from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

Found = Callable[[str], list[tuple[str, str]]]

B62 = "aB3dE5gH7jK9mN1pQ2rS4tU6vW8xY0zAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def jwt() -> str:
    def enc(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc({'sub': '42'})}.{B62[:43]}"


PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join([B62[:64]] * 6) + \
      "\n-----END RSA PRIVATE KEY-----"

CASES = [
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_KEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("key=AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "GCP_API_KEY",
     "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
    ("AccountName=acct;AccountKey=" + B62[:62] + B62[:24] + "==;EndpointSuffix=x",
     "AZURE_STORAGE_KEY", B62[:62] + B62[:24] + "=="),
    ("GITHUB_TOKEN=ghp_" + B62[:36], "GITHUB_TOKEN", "ghp_" + B62[:36]),
    ("t=github_pat_" + B62[:22] + "_" + B62[:59], "GITHUB_TOKEN",
     "github_pat_" + B62[:22] + "_" + B62[:59]),
    ("use glpat-" + B62[:20], "GITLAB_TOKEN", "glpat-" + B62[:20]),
    ("SLACK=xoxb-123456789012-123456789012-" + B62[:24], "SLACK_TOKEN",
     "xoxb-123456789012-123456789012-" + B62[:24]),
    ("hook https://hooks.slack.com/services/T0123ABCD/B0123456789/" + B62[:24], "SLACK_WEBHOOK",
     "https://hooks.slack.com/services/T0123ABCD/B0123456789/" + B62[:24]),
    ("stripe sk_live_" + B62[:24], "STRIPE_KEY", "sk_live_" + B62[:24]),
    ("OPENAI_API_KEY=sk-proj-" + B62[:60], "OPENAI_API_KEY", "sk-proj-" + B62[:60]),
    ("key sk-" + B62[:20] + "T3BlbkFJ" + B62[20:40], "OPENAI_API_KEY",
     "sk-" + B62[:20] + "T3BlbkFJ" + B62[20:40]),
    ("ANTHROPIC_API_KEY=sk-ant-api03-" + B62[:60], "ANTHROPIC_API_KEY", "sk-ant-api03-" + B62[:60]),
    ("Here:\n" + PEM + "\nthanks", "PRIVATE_KEY", PEM),
    ("Authorization: Bearer " + jwt(), "JWT", jwt()),
    ("curl https://deploy:S3cr3t!pw@api.example.com/v1", "URL_CREDENTIALS", "S3cr3t!pw"),
    ("DATABASE_URL=postgresql://app:Xy7#pQ2zLm@db.internal:5432/app", "CONNECTION_STRING",
     "Xy7#pQ2zLm"),
    ("Server=tcp:db,1433;Database=sales;User Id=sa;Password=Xy7#pQ2zLm;", "CONNECTION_STRING",
     "Xy7#pQ2zLm"),
    ("client_secret: Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lm", "HIGH_ENTROPY_SECRET",
     "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lm"),
    ("password: hunter2!x", "PASSWORD", "hunter2!x"),
]


@pytest.mark.parametrize(("text", "entity", "value"), CASES, ids=[c[1] for c in CASES])
def test_secret_formats(found: Found, text: str, entity: str, value: str) -> None:
    assert (entity, value) in found(text)


def test_gcp_service_account_json(found: Found) -> None:
    body = "\\n".join([B62[:64]] * 4)
    key = f"-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----"
    text = f'{{"type": "service_account", "private_key": "{key}\\n", "client_id": "1"}}'
    assert ("GCP_SERVICE_ACCOUNT_KEY", key) in found(text)


def test_truncated_and_split_pem(found: Found) -> None:
    head = PEM[: PEM.index("\n-----END")]
    assert found(head)[0][0] == "PRIVATE_KEY"  # no END marker: the body is still covered
    tail = PEM[PEM.index("\n", 40) + 1 :]  # a stream chunk without the BEGIN marker
    (entity, value), = found(tail)
    assert entity == "PRIVATE_KEY" and value.startswith(B62[:16])


@pytest.mark.parametrize("text", [
    "api_key = os.environ['OPENAI_API_KEY']",
    "password = request.form['password']",
    "DATABASE_URL=postgres://user:password@localhost:5432/app",
    "password: ********",
    "export GITHUB_TOKEN=<your token>",
    "The model supports up to 128000 tokens. commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    '"private_key_id": "0299f32c9bfb65d660c35fb949af02ef65a1e244"',
    "Bearer tokens expire; request_id=8febba80-2842-44cf-825c-133693ccbdee",
    "sk-learn is not a package",
    "a JWT-looking eyJhbGciOiJub25l.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz with a bad header",
])
def test_secret_negatives(found: Found, text: str) -> None:
    assert [e for e, _ in found(text) if e not in ("PROMPT_INJECTION",)] == []
