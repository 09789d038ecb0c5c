"""A small chat server for the driver's tests: fixed latency, an optional stall, optional tokens.

Run as a script (`python fixed_latency_server.py '{"latency_seconds": 0.2}'`): it binds a
kernel-chosen loopback port, prints `port N`, and serves until terminated. Its own process keeps
it off the generator's interpreter lock, and it is a bare ASGI app with no framework work per
request, so at the tests' rates it is never the bottleneck; its latency is an `asyncio.sleep`
that costs nothing while requests overlap. `GET /stats` tells what it saw.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import socket
import sys
import time
from dataclasses import dataclass, field

import uvicorn


@dataclass
class ChatServerBehaviour:
    """What the server does; the counters record what it saw."""

    latency_seconds: float = 0.2
    stall_at_request: int | None = None  # this chat request blocks the whole server ...
    stall_seconds: float = 3.0  # ... for this long (an event-loop stall, as in a GC pause)
    tokens: bool = False  # serve POST /api/session and require Bearer tokens
    token_lifetime_seconds: int = 3_600
    allowed_origin: str = "https://www.example.com"
    revoke_first_token: bool = False  # the first token issued is refused once, as if expired
    chat_requests: int = 0
    session_requests: int = 0
    issued: list[str] = field(default_factory=list)
    refused_tokens: list[str] = field(default_factory=list)
    forwarded_for: list[str] = field(default_factory=list)


async def _read_body(receive) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _respond(send, status: int, payload: object) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def chat_app(behaviour: ChatServerBehaviour):
    counter = itertools.count(1)

    async def issue_token(send, headers: dict[str, str], body: bytes) -> None:
        behaviour.session_requests += 1
        if headers.get("origin") != behaviour.allowed_origin:
            return await _respond(send, 403, {"error": "origin_not_allowed"})
        token = f"token-{next(counter)}"
        behaviour.issued.append(token)
        if behaviour.revoke_first_token and len(behaviour.issued) == 1:
            behaviour.refused_tokens.append(token)
        session_id = json.loads(body or b"{}").get("session_id", "anonymous")
        lifetime = behaviour.token_lifetime_seconds
        await _respond(
            send, 200, {"token": token, "session_id": session_id, "expires_in": lifetime}
        )

    async def app(scope, receive, send) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        body = await _read_body(receive)
        route = (scope["method"], scope["path"])
        if route == ("GET", "/stats"):
            return await _respond(send, 200, dataclasses.asdict(behaviour))
        if route == ("POST", "/api/session") and behaviour.tokens:
            return await issue_token(send, headers, body)
        if route != ("POST", "/api/chat"):
            return await _respond(send, 404, {"error": "not_found"})
        behaviour.chat_requests += 1
        behaviour.forwarded_for.append(headers.get("x-forwarded-for", ""))
        if behaviour.tokens:
            token = headers.get("authorization", "").removeprefix("Bearer ")
            if token not in behaviour.issued or token in behaviour.refused_tokens:
                if token in behaviour.refused_tokens:
                    behaviour.refused_tokens.remove(token)
                return await _respond(send, 401, {"error": "invalid_token"})
        if behaviour.chat_requests == behaviour.stall_at_request:
            time.sleep(behaviour.stall_seconds)  # blocks the server's loop: everything waits
        await asyncio.sleep(behaviour.latency_seconds)
        await _respond(send, 200, {"answer": "ok", "request_id": str(behaviour.chat_requests)})

    return app


def main(argv: list[str]) -> None:
    behaviour = ChatServerBehaviour(**json.loads(argv[0] if argv else "{}"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    print(f"port {listener.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        chat_app(behaviour), lifespan="off", log_level="warning", access_log=False, backlog=2048
    )
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main(sys.argv[1:])
