"""Every bad input gets the right status, an error body in the caller's wire format, a request id
header, and a usage event recording the failure; the server keeps serving afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e._gateway import Gateway, unique_marker
from tests.fakes.upstream import FakeUpstream

RID = "x-steward-request-id"
CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
EMBEDDINGS = "/v1/embeddings"
LIMIT = 64 * 1024  # server.max_body_bytes in the e2e config

HELLO = [{"role": "user", "content": "hello"}]


# -- helpers ---------------------------------------------------------------------------------


def wire_of(path: str) -> str:
    return "anthropic" if path == MESSAGES else "openai"


def error_of(body: Any, wire: str) -> dict[str, Any]:
    """The error object, after checking the envelope of the wire format."""
    assert isinstance(body, dict), body
    if wire == "anthropic":
        assert body["type"] == "error", body
        err = body["error"]
    else:
        assert set(body) == {"error"}, body
        err = body["error"]
    assert isinstance(err, dict), body
    assert isinstance(err["message"], str) and err["message"], body
    assert isinstance(err["type"], str) and err["type"], body
    assert "code" in err, body
    assert err["request_id"], body
    if wire == "anthropic":
        assert body["request_id"] == err["request_id"], body
    return err


def check_ids(response: httpx.Response, body: Any) -> str:
    """The request id header is there, matches the body's, and so does the overhead header."""
    rid = response.headers.get(RID)
    assert rid, f"no {RID} header on a {response.status_code}"
    assert float(response.headers["x-steward-overhead-ms"]) >= 0
    assert body["error"]["request_id"] == rid
    return rid


def check_error(r: httpx.Response, status: int, code: str, wire: str) -> tuple[str, dict[str, Any]]:
    """Assert status, request-id header and error body; return the request id and the error."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = error_of(r.json(), wire)
    assert err["code"] == code, err
    return check_ids(r, r.json()), err


def check_recorded(gw: Gateway, rid: str, status: int, code: str) -> Any:
    row = gw.usage(rid)
    assert (row.status, row.error_type) == (status, code)
    return row


def sdk_error(exc: openai.APIStatusError | anthropic.APIStatusError) -> tuple[str, Any]:
    body = exc.response.json()  # the whole body (the OpenAI SDK unwraps `error`)
    return check_ids(exc.response, body), body


def upstream_hits(upstream: FakeUpstream, marker: str) -> int:
    return sum(1 for r in upstream.requests if marker in str(r.body))


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key(gw: Gateway) -> str:
    return gw.user_key()[0]


@pytest.fixture(scope="module")
def http(gw: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.url, timeout=30) as c:
        yield c


@pytest.fixture
def oai(gw: Gateway, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=30) as c:
        yield c


@pytest.fixture
def claude(gw: Gateway, key: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=30) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


# -- malformed bodies ------------------------------------------------------------------------

BAD_BODIES = [
    pytest.param(CHAT, b'{"model": "gpt-test", "messages": [', "invalid_json", id="chat-malformed"),
    pytest.param(CHAT, b"", "invalid_json", id="chat-empty"),
    pytest.param(CHAT, b'[{"model": "gpt-test"}]', "invalid_json", id="chat-array"),
    pytest.param(CHAT, b'"just a string"', "invalid_json", id="chat-string"),
    pytest.param(CHAT, b'{"model": "gpt-test"}', "invalid_request", id="chat-no-messages"),
    pytest.param(
        CHAT, b'{"model": "gpt-test", "messages": []}', "invalid_request", id="chat-empty-messages"
    ),
    pytest.param(
        CHAT,
        b'{"messages": [{"role": "user", "content": "x"}]}',
        "invalid_model",
        id="chat-no-model",
    ),
    pytest.param(
        CHAT,
        b'{"model": "gpt-test", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}',
        "invalid_request",
        id="chat-max-tokens-zero",
    ),
    pytest.param(
        CHAT,
        b'{"model": "gpt-test", "messages": [{"role": "user", "content": "x"}],'
        b' "max_tokens": "ten"}',
        "invalid_request",
        id="chat-max-tokens-string",
    ),
    pytest.param(
        CHAT,
        b'{"model": "gpt-test", "messages": [{"role": "user", "content": "x"}],'
        b' "max_tokens": true}',
        "invalid_request",
        id="chat-max-tokens-bool",
    ),
    pytest.param(
        CHAT,
        b'{"model": "gpt-test", "messages": [{"role": "robot", "content": "x"}]}',
        "invalid_request",
        id="chat-bad-role",
    ),
    pytest.param(
        CHAT,
        b'{"model": "gpt-test", "messages": ["hello"]}',
        "invalid_request",
        id="chat-message-not-object",
    ),
    pytest.param(
        CHAT,
        b'{"model": "gpt-test", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
        "invalid_request",
        id="chat-stream-not-bool",
    ),
    pytest.param(
        CHAT,
        b'{"model": "gpt-test", "messages": [{"role": "user", "content": "x"}], "tools": {}}',
        "invalid_request",
        id="chat-tools-not-array",
    ),
    pytest.param(
        MESSAGES,
        b'{"model": "claude-test", "max_tokens": 10, "messages": [',
        "invalid_json",
        id="messages-malformed",
    ),
    pytest.param(MESSAGES, b"[1, 2, 3]", "invalid_json", id="messages-array"),
    pytest.param(
        MESSAGES,
        b'{"model": "claude-test", "max_tokens": 10}',
        "invalid_request",
        id="messages-no-messages",
    ),
    pytest.param(
        MESSAGES,
        b'{"model": "claude-test", "messages": [{"role": "user", "content": "x"}]}',
        "invalid_request",
        id="messages-no-max-tokens",
    ),
    pytest.param(
        MESSAGES,
        b'{"model": "claude-test", "max_tokens": -5, "messages": [{"role": '
        b'"user", "content": "x"}]}',
        "invalid_request",
        id="messages-negative-max",
    ),
    pytest.param(
        EMBEDDINGS, b'{"model": "emb", "input": ', "invalid_json", id="embeddings-malformed"
    ),
    pytest.param(
        EMBEDDINGS, b'{"model": "emb", "input": ""}', "invalid_request", id="embeddings-empty-input"
    ),
]


@pytest.mark.parametrize(("path", "raw", "code"), BAD_BODIES)
def test_malformed_body_is_400(
    gw: Gateway, http: httpx.Client, key: str, path: str, raw: bytes, code: str
) -> None:
    r = http.post(path, content=raw, headers={**auth(key), "content-type": "application/json"})
    rid, err = check_error(r, 400, code, wire_of(path))
    assert err["type"] == "invalid_request_error"
    check_recorded(gw, rid, 400, code)


def test_sdk_bad_max_tokens(gw: Gateway, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(openai.BadRequestError) as oe:
        oai.chat.completions.create(model="gpt-test", messages=HELLO, max_tokens=0)
    rid, body = sdk_error(oe.value)
    assert oe.value.code == "invalid_request"
    assert "max_tokens" in error_of(body, "openai")["message"]
    check_recorded(gw, rid, 400, "invalid_request")

    with pytest.raises(anthropic.BadRequestError) as ae:
        claude.messages.create(model="claude-test", messages=HELLO, max_tokens=0)
    rid, body = sdk_error(ae.value)
    assert "max_tokens" in error_of(body, "anthropic")["message"]
    check_recorded(gw, rid, 400, "invalid_request")


# -- authentication and authorization --------------------------------------------------------


@pytest.mark.parametrize("path", [CHAT, MESSAGES, EMBEDDINGS])
def test_missing_key_is_401(gw: Gateway, http: httpx.Client, path: str) -> None:
    body = (
        {"model": "emb", "input": "x"}
        if path == EMBEDDINGS
        else {"model": "gpt-test", "max_tokens": 5, "messages": HELLO}
    )
    r = http.post(path, json=body)
    rid, err = check_error(r, 401, "missing_api_key", wire_of(path))
    assert err["type"] == "authentication_error"
    check_recorded(gw, rid, 401, "missing_api_key")
    audit = gw.audit(rid)
    assert (audit.action, audit.outcome) == ("gateway.authenticate", "denied")


@pytest.mark.parametrize("path", [CHAT, MESSAGES])
def test_anonymous_caller_gets_401_before_any_body_check(
    gw: Gateway, http: httpx.Client, path: str
) -> None:
    r = http.post(path, content=b"{not json", headers={"content-type": "application/json"})
    rid, _ = check_error(r, 401, "missing_api_key", wire_of(path))
    check_recorded(gw, rid, 401, "missing_api_key")
    r = http.post(path, content=b"[]", headers=auth("sk-stw-" + "0" * 40))
    rid, _ = check_error(r, 401, "invalid_api_key", wire_of(path))
    check_recorded(gw, rid, 401, "invalid_api_key")


def test_bad_key_is_401_and_audited(gw: Gateway) -> None:
    bogus = "sk-stw-" + unique_marker() * 4
    with (
        openai.OpenAI(base_url=gw.url + "/v1", api_key=bogus, max_retries=0) as c,
        pytest.raises(openai.AuthenticationError) as oe,
    ):
        c.chat.completions.create(model="gpt-test", messages=HELLO)
    rid, body = sdk_error(oe.value)
    assert error_of(body, "openai")["code"] == "invalid_api_key"
    row = check_recorded(gw, rid, 401, "invalid_api_key")
    assert row.key_id is None
    audit = gw.audit(rid)
    assert (audit.action, audit.outcome, audit.actor_type, audit.actor_id) == (
        "gateway.authenticate",
        "denied",
        "key",
        None,
    )
    # authentication runs before the body is parsed: the target is the endpoint, not the model
    assert (audit.target_type, audit.target_id) == ("endpoint", "chat")

    with (
        anthropic.Anthropic(base_url=gw.url, api_key=bogus, max_retries=0) as c,
        pytest.raises(anthropic.AuthenticationError) as ae,
    ):
        c.messages.create(model="claude-test", max_tokens=5, messages=HELLO)
    rid, body = sdk_error(ae.value)
    assert error_of(body, "anthropic")["code"] == "invalid_api_key"
    check_recorded(gw, rid, 401, "invalid_api_key")
    assert gw.audit(rid).action == "gateway.authenticate"


def test_model_not_allowed_is_403_and_audited(gw: Gateway) -> None:
    limited, _org, created = gw.user_key(models=["gpt-test"])
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=limited, max_retries=0) as c:
        with pytest.raises(openai.PermissionDeniedError) as oe:
            c.chat.completions.create(model="claude-test", messages=HELLO)
        assert c.chat.completions.create(model="gpt-test", messages=HELLO).choices
    rid, body = sdk_error(oe.value)
    err = error_of(body, "openai")
    assert (err["code"], err["type"]) == ("model_not_allowed", "permission_error")
    assert "gpt-test" in err["message"]  # says what is allowed
    row = check_recorded(gw, rid, 403, "model_not_allowed")
    assert row.key_id == created["api_key"]["id"]
    audit = gw.audit(rid)
    assert (audit.action, audit.outcome) == ("gateway.authorize", "denied")
    assert (audit.actor_id, audit.target_id) == (created["api_key"]["id"], "claude-test")

    with (
        anthropic.Anthropic(base_url=gw.url, api_key=limited, max_retries=0) as c,
        pytest.raises(anthropic.PermissionDeniedError) as ae,
    ):
        c.messages.create(model="claude-test", max_tokens=5, messages=HELLO)
    rid, body = sdk_error(ae.value)
    assert error_of(body, "anthropic")["code"] == "model_not_allowed"
    check_recorded(gw, rid, 403, "model_not_allowed")
    assert gw.audit(rid).action == "gateway.authorize"


# -- routing ---------------------------------------------------------------------------------


def test_unknown_model_is_404(gw: Gateway, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(openai.NotFoundError) as oe:
        oai.chat.completions.create(model="no-such-model", messages=HELLO)
    rid, body = sdk_error(oe.value)
    assert error_of(body, "openai")["code"] == "model_not_found"
    check_recorded(gw, rid, 404, "model_not_found")

    with pytest.raises(anthropic.NotFoundError) as ae:
        claude.messages.create(model="no-such-model", max_tokens=5, messages=HELLO)
    rid, body = sdk_error(ae.value)
    assert error_of(body, "anthropic")["code"] == "model_not_found"
    check_recorded(gw, rid, 404, "model_not_found")

    with pytest.raises(openai.NotFoundError) as oe:
        oai.embeddings.create(model="no-such-model", input="x")
    check_recorded(gw, sdk_error(oe.value)[0], 404, "model_not_found")


def test_model_of_the_wrong_kind_is_400(
    gw: Gateway, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    with pytest.raises(openai.BadRequestError) as oe:
        oai.chat.completions.create(model="emb", messages=HELLO)
    rid, body = sdk_error(oe.value)
    err = error_of(body, "openai")
    assert err["code"] == "model_kind_mismatch"
    assert "/v1/embeddings" in err["message"]
    check_recorded(gw, rid, 400, "model_kind_mismatch")

    with pytest.raises(anthropic.BadRequestError) as ae:
        claude.messages.create(model="emb", max_tokens=5, messages=HELLO)
    check_recorded(gw, sdk_error(ae.value)[0], 400, "model_kind_mismatch")

    with pytest.raises(openai.BadRequestError) as oe:
        oai.embeddings.create(model="gpt-test", input="x")
    check_recorded(gw, sdk_error(oe.value)[0], 400, "model_kind_mismatch")


# -- size and method -------------------------------------------------------------------------


def _big_messages(extra: int = 2048) -> list[dict[str, str]]:
    return [{"role": "user", "content": "x" * (LIMIT + extra)}]


def test_body_over_the_limit_is_413(
    gw: Gateway, http: httpx.Client, key: str, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    with pytest.raises(openai.APIStatusError) as oe:
        oai.chat.completions.create(model="gpt-test", messages=_big_messages())
    assert oe.value.status_code == 413
    rid, body = sdk_error(oe.value)
    err = error_of(body, "openai")
    assert (err["code"], err["type"]) == ("request_too_large", "request_too_large")
    assert str(LIMIT) in err["message"]
    check_recorded(gw, rid, 413, "request_too_large")

    with pytest.raises(anthropic.ContentTooLargeError) as ae:
        claude.messages.create(model="claude-test", max_tokens=5, messages=_big_messages())
    rid, body = sdk_error(ae.value)
    assert error_of(body, "anthropic")["code"] == "request_too_large"
    check_recorded(gw, rid, 413, "request_too_large")

    # without a content-length (chunked): the limit is enforced while reading
    raw = httpx.Request("POST", "/", json={"model": "gpt-test", "messages": _big_messages()}).read()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(raw), 8192):
            yield raw[i : i + 8192]

    r = http.post(CHAT, content=chunks(), headers={**auth(key), "content-type": "application/json"})
    assert "content-length" not in r.request.headers
    rid, _ = check_error(r, 413, "request_too_large", "openai")
    check_recorded(gw, rid, 413, "request_too_large")
    # the connection is still good for the next request
    r = http.post(CHAT, json={"model": "gpt-test", "messages": HELLO}, headers=auth(key))
    assert r.status_code == 200


@pytest.mark.parametrize(("size", "status"), [(LIMIT, 200), (LIMIT + 1, 413)])
def test_body_limit_boundary(
    gw: Gateway, http: httpx.Client, key: str, size: int, status: int
) -> None:
    """max_body_bytes is the largest body accepted, byte for byte."""
    head, tail = b'{"model": "gpt-test", "messages": [{"role": "user", "content": "', b'"}]}'
    raw = head + b"x" * (size - len(head) - len(tail)) + tail
    assert len(raw) == size
    r = http.post(CHAT, content=raw, headers={**auth(key), "content-type": "application/json"})
    assert r.status_code == status, r.text
    assert gw.usage(r.headers[RID]).status == status


def test_body_just_under_the_limit_is_served(gw: Gateway, oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.with_raw_response.create(
        model="gpt-test", messages=_big_messages(extra=-1024)
    )
    assert resp.status_code == 200
    assert gw.usage(resp.headers[RID]).status == 200


@pytest.mark.parametrize("path", [CHAT, MESSAGES, EMBEDDINGS])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_wrong_method_is_405(
    gw: Gateway, http: httpx.Client, key: str, path: str, method: str
) -> None:
    r = http.request(method, path, headers=auth(key))
    rid, _ = check_error(r, 405, "method_not_allowed", wire_of(path))
    check_recorded(gw, rid, 405, "method_not_allowed")


def test_unknown_endpoint_is_404(http: httpx.Client, key: str) -> None:
    r = http.post("/v1/completions", headers=auth(key), json={"model": "gpt-test", "prompt": "x"})
    check_error(r, 404, "unknown_endpoint", "openai")


def test_wrong_method_on_models_is_405(http: httpx.Client, key: str) -> None:
    r = http.post("/v1/models", headers=auth(key), json={})
    check_error(r, 405, "method_not_allowed", "openai")


# -- upstream failures -----------------------------------------------------------------------


async def test_upstream_hang_is_504(gw: Gateway, key: str) -> None:
    """`hangs` has timeout_s 1 and one retry; both SDKs at once to keep this to ~2 s."""
    async with (
        openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=30) as oc,
        anthropic.AsyncAnthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=30) as ac,
    ):
        results = await asyncio.gather(
            oc.chat.completions.create(model="hangs", messages=HELLO),
            ac.messages.create(model="hangs", max_tokens=5, messages=HELLO),
            return_exceptions=True,
        )
    o_err, a_err = results
    assert isinstance(o_err, openai.APIStatusError), o_err
    assert isinstance(a_err, anthropic.GatewayTimeoutError), a_err
    for exc, wire in ((o_err, "openai"), (a_err, "anthropic")):
        assert exc.status_code == 504
        rid, body = sdk_error(exc)
        err = error_of(body, wire)
        assert (err["code"], err["type"]) == ("upstream_timeout", "api_error")
        assert rid in err["message"]
        row = check_recorded(gw, rid, 504, "upstream_timeout")
        assert row.attempts == 2


def test_upstream_500_after_retries_is_502(
    gw: Gateway, upstream: FakeUpstream, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    marker = unique_marker()
    with pytest.raises(openai.InternalServerError) as oe:
        oai.chat.completions.create(
            model="broken-alone", messages=[{"role": "user", "content": marker}]
        )
    assert oe.value.status_code == 502
    rid, body = sdk_error(oe.value)
    err = error_of(body, "openai")
    assert (err["code"], err["type"]) == ("upstream_failed", "api_error")
    assert rid in err["message"]
    row = check_recorded(gw, rid, 502, "upstream_failed")
    assert row.attempts == 2  # one retry, no fallback
    assert upstream_hits(upstream, marker) == 2

    with pytest.raises(anthropic.InternalServerError) as ae:
        claude.messages.create(model="broken-alone", max_tokens=5, messages=HELLO)
    assert ae.value.status_code == 502
    rid, body = sdk_error(ae.value)
    assert rid in error_of(body, "anthropic")["message"]
    check_recorded(gw, rid, 502, "upstream_failed")


def test_upstream_400_is_passed_on_and_not_retried(
    gw: Gateway, upstream: FakeUpstream, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    marker = unique_marker()
    with pytest.raises(openai.BadRequestError) as oe:
        oai.chat.completions.create(model="refused", messages=[{"role": "user", "content": marker}])
    rid, body = sdk_error(oe.value)
    err = error_of(body, "openai")
    assert (err["code"], err["type"]) == ("upstream_rejected", "invalid_request_error")
    row = check_recorded(gw, rid, 400, "upstream_rejected")
    assert row.attempts == 1
    assert upstream_hits(upstream, marker) == 1

    marker = unique_marker()
    with pytest.raises(anthropic.BadRequestError) as ae:
        claude.messages.create(
            model="refused", max_tokens=5, messages=[{"role": "user", "content": marker}]
        )
    rid, body = sdk_error(ae.value)
    assert error_of(body, "anthropic")["code"] == "upstream_rejected"
    check_recorded(gw, rid, 400, "upstream_rejected")
    assert upstream_hits(upstream, marker) == 1


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        ("broken-alone", 502, "upstream_failed"),
        ("refused", 400, "upstream_rejected"),
        ("no-such-model", 404, "model_not_found"),
    ],
)
def test_streamed_request_that_fails_before_the_first_event(
    gw: Gateway,
    oai: openai.OpenAI,
    claude: anthropic.Anthropic,
    model: str,
    status: int,
    code: str,
) -> None:
    """Nothing was streamed yet, so the failure is an ordinary error response."""
    with pytest.raises(openai.APIStatusError) as oe:
        oai.chat.completions.create(model=model, messages=HELLO, stream=True)
    assert oe.value.status_code == status
    rid, body = sdk_error(oe.value)
    assert error_of(body, "openai")["code"] == code
    row = check_recorded(gw, rid, status, code)
    assert row.stream is True

    with (
        pytest.raises(anthropic.APIStatusError) as ae,
        claude.messages.stream(model=model, max_tokens=5, messages=HELLO) as stream,
    ):
        stream.get_final_message()
    assert ae.value.status_code == status
    rid, body = sdk_error(ae.value)
    assert error_of(body, "anthropic")["code"] == code
    assert check_recorded(gw, rid, status, code).stream is True


# -- and afterwards --------------------------------------------------------------------------


def test_every_failure_is_recorded_once(gw: Gateway, http: httpx.Client, key: str) -> None:
    rids = []
    for raw in (b"{", b"[]", b'{"model": "gpt-test"}'):
        r = http.post(CHAT, content=raw, headers=auth(key))
        rids.append(r.headers[RID])
    for rid in rids:
        gw.usage(rid)
    ids = gw.usage_ids()
    assert [ids.count(rid) for rid in rids] == [1, 1, 1]


def test_server_keeps_serving(gw: Gateway, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    """Runs last in this module: the errors above left the gateway healthy."""
    resp = oai.chat.completions.with_raw_response.create(model="gpt-test", messages=HELLO)
    assert resp.status_code == 200
    assert resp.parse().choices[0].message.content
    row = gw.usage(resp.headers[RID])
    assert (row.status, row.error_type) == (200, None)

    aresp = claude.messages.with_raw_response.create(
        model="claude-test", max_tokens=20, messages=HELLO
    )
    assert aresp.parse().content
    assert gw.usage(aresp.headers[RID]).status == 200
    health = httpx.get(gw.url + "/healthz").json()
    assert health["status"] == "ok"
