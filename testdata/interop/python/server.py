#!/usr/bin/python3
"""Python `websockets` peer server for wsactor's interop tests.

Run with Debian's interpreter (/usr/bin/python3) and the python3-websockets
package (bookworm ships 10.4, legacy API). Newer releases (>= 13, with the
websockets.asyncio API) are supported too.

Listens on 127.0.0.1, port 0 (ephemeral). When ready it prints the port alone
on one stdout line; after that it prints one JSON object per line for every
closed connection: {"event":"closed","id":...,"path":...,"code":...,"reason":...}

Paths:
  /echo              echo every message with its type (default for unknown paths)
  /headers           send one text message: JSON object of the request headers
                     (lower-case names, repeated headers joined with ", ")
  /close?code=C&reason=R   close with C/R right after the opening handshake
  /stream            push binary messages until the peer goes away (bounded)
Every path selects the subprotocol "chat.v2" when the client offers it.
The query parameter id=... is copied into the "closed" report.

Flags: --tls-cert FILE --tls-key FILE (or env INTEROP_TLS_CERT / INTEROP_TLS_KEY)
serve wss instead of ws. The server exits when its stdin reaches EOF.
"""

import argparse
import asyncio
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

import websockets

MAX_SIZE = 32 * 1024 * 1024
STREAM_CHUNK = 64 * 1024
STREAM_MAX_BYTES = 512 * 1024 * 1024
STREAM_MAX_SECONDS = 60

try:  # websockets >= 13
    from websockets.asyncio.server import serve as _serve

    NEW_API = True
except ImportError:  # websockets <= 12 (Debian bookworm: 10.4)
    _serve = websockets.serve
    NEW_API = False


def report(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def request_path(ws):
    if NEW_API:
        return ws.request.path
    return ws.path


def request_headers(ws):
    if NEW_API:
        return ws.request.headers
    return ws.request_headers


def close_info(ws, exc):
    rcvd = getattr(exc, "rcvd", None) if exc is not None else None
    if rcvd is not None:
        return rcvd.code, rcvd.reason
    code = getattr(ws, "close_code", None)
    reason = getattr(ws, "close_reason", None)
    return (code if code is not None else 1006), (reason or "")


async def handle_echo(ws):
    async for msg in ws:
        await ws.send(msg)  # str -> text frame, bytes -> binary frame


async def handle_headers(ws):
    out = {}
    for name, value in request_headers(ws).raw_items():
        key = name.lower()
        out[key] = out[key] + ", " + value if key in out else value
    await ws.send(json.dumps(out, sort_keys=True))
    async for _ in ws:
        pass


async def handle_close(ws, query):
    code = int(query.get("code", ["1000"])[0])
    reason = query.get("reason", [""])[0]
    await ws.close(code=code, reason=reason)


async def handle_stream(ws):
    chunk = bytes(i % 251 for i in range(STREAM_CHUNK))
    sent = 0
    deadline = time.monotonic() + STREAM_MAX_SECONDS
    while sent < STREAM_MAX_BYTES and time.monotonic() < deadline:
        await ws.send(chunk)
        sent += len(chunk)
    await ws.close(1000, "stream limit")


async def handler(ws, path=None):
    raw = request_path(ws) if path is None else path
    url = urllib.parse.urlsplit(raw)
    query = urllib.parse.parse_qs(url.query)
    exc = None
    try:
        if url.path == "/headers":
            await handle_headers(ws)
        elif url.path == "/close":
            await handle_close(ws, query)
        elif url.path == "/stream":
            await handle_stream(ws)
        else:
            await handle_echo(ws)
    except websockets.ConnectionClosed as e:
        exc = e
    # Make sure the closing handshake is over before reading the close status.
    try:
        await ws.wait_closed()
    except Exception:
        pass
    code, reason = close_info(ws, exc)
    report(
        {
            "event": "closed",
            "id": query.get("id", [""])[0],
            "path": url.path,
            "code": code,
            "reason": reason,
        }
    )


def watch_stdin(loop, stop):
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except Exception:
        pass
    loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls-cert", default=os.environ.get("INTEROP_TLS_CERT", ""))
    ap.add_argument("--tls-key", default=os.environ.get("INTEROP_TLS_KEY", ""))
    args = ap.parse_args()

    ssl_ctx = None
    if args.tls_cert or args.tls_key:
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.load_cert_chain(args.tls_cert, args.tls_key)

    kwargs = dict(
        subprotocols=["chat.v2"],
        max_size=MAX_SIZE,
        ping_interval=None,
        ssl=ssl_ctx,
    )
    if not NEW_API:
        kwargs["max_queue"] = 4

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    async with _serve(handler, "127.0.0.1", 0, **kwargs) as server:
        port = server.sockets[0].getsockname()[1]
        sys.stdout.write("%d\n" % port)
        sys.stdout.flush()
        threading.Thread(target=watch_stdin, args=(loop, stop), daemon=True).start()
        await stop


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
