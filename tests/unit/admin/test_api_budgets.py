"""The admin API's budgets: create, list, show, change, delete; roles; clear errors."""

from __future__ import annotations

from .conftest import AdminEnv

V1 = "/admin/v1"


def _seed(env: AdminEnv) -> None:
    h = env.headers()
    assert env.client.post(f"{V1}/teams", json={"name": "support"}, headers=h).status_code == 201


def test_budget_crud(env: AdminEnv) -> None:
    _seed(env)
    h = env.headers()
    body = {"scope": "team", "target": "support", "amount_usd": 100, "alerts": [80, 50]}
    r = env.client.post(f"{V1}/budgets", json=body, headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["name"], created["alerts"], created["hard"]) == (
        "team-support-month",
        [50, 80],
        True,
    )
    r = env.client.post(
        f"{V1}/budgets",
        json={"scope": "org", "amount_usd": "5.5", "window": "7d", "name": "all", "hard": False},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["window"] == "7d"
    listed = env.client.get(f"{V1}/budgets", headers=h).json()
    assert [b["name"] for b in listed] == ["all", "team-support-month"]
    only = env.client.get(f"{V1}/budgets?scope=org", headers=h).json()
    assert [b["name"] for b in only] == ["all"]
    shown = env.client.get(f"{V1}/budgets/{created['id']}", headers=h).json()
    assert shown["spent_usd"] == 0 and shown["resets_at"].endswith("Z")
    r = env.client.patch(f"{V1}/budgets/all", json={"amount_usd": 7, "hard": True}, headers=h)
    assert (r.json()["amount_usd"], r.json()["hard"]) == (7.0, True)
    assert env.client.delete(f"{V1}/budgets/all", headers=h).status_code == 200
    assert env.client.get(f"{V1}/budgets/all", headers=h).status_code == 404


def test_budget_errors_say_what_to_fix(env: AdminEnv) -> None:
    _seed(env)
    h = env.headers()
    r = env.client.post(
        f"{V1}/budgets", json={"scope": "team", "target": "nope", "amount_usd": 1}, headers=h
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "team_not_found"
    r = env.client.post(
        f"{V1}/budgets",
        json={"scope": "team", "target": "support", "amount_usd": 1, "period": "year"},
        headers=h,
    )
    assert r.status_code == 400 and "period" in r.json()["error"]["message"]
    r = env.client.post(
        f"{V1}/budgets",
        json={"scope": "team", "target": "support", "amount_usd": 1, "window": "1s"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_window"
    r = env.client.post(f"{V1}/budgets", json={"scope": "org", "amount_usd": -1}, headers=h)
    assert r.status_code == 400


def test_auditors_read_budgets_but_do_not_change_them(env: AdminEnv) -> None:
    _seed(env)
    body = {"scope": "org", "amount_usd": 1}
    assert env.client.post(f"{V1}/budgets", json=body, headers=env.headers()).status_code == 201
    auditor = env.headers(env.auditor_key)
    assert env.client.get(f"{V1}/budgets", headers=auditor).status_code == 200
    r = env.client.post(f"{V1}/budgets", json=body, headers=auditor)
    assert r.status_code == 403
