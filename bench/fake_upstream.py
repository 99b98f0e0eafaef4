"""A fast fake OpenAI upstream for the gateway benchmark.

Raw ASGI on uvicorn (uvloop, httptools, no access log), one process. Every POST to
/v1/chat/completions gets the same small `chat.completion` answer with usage, precomputed as
bytes; the request body is read and discarded. Anything else is a 404.

    python bench/fake_upstream.py --port 9001
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CHAT_PATH = "/v1/chat/completions"

ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench0000000000000000000000",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "bench-upstream",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "OK. This is the benchmark answer."},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 256, "completion_tokens": 9, "total_tokens": 265},
        "system_fingerprint": "fp_bench",
    },
    separators=(",", ":"),
).encode()
NOT_FOUND = b'{"error":{"message":"not found","type":"invalid_request_error"}}'


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]


ANSWER_HEADERS = _headers(ANSWER)
NOT_FOUND_HEADERS = _headers(NOT_FOUND)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain the request body; bounded by what the client sends
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return
        more = bool(msg.get("more_body", False))
    if scope["method"] == "POST" and scope["path"] == CHAT_PATH:
        status, headers, body = 200, ANSWER_HEADERS, ANSWER
    else:
        status, headers, body = 404, NOT_FOUND_HEADERS, NOT_FOUND
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
