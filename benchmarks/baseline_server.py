"""The ceiling for this stack: a bare aiohttp HTTPS handler that parses the JSON body and commits one
SQLite row (WAL, synchronous=FULL) per request; GET reads one row. Started by benchmarks/api.py."""
from __future__ import annotations

import asyncio
import sqlite3
import ssl
import sys

import orjson
from aiohttp import web


def main() -> None:
    port, db_path, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS objects (name TEXT PRIMARY KEY, value BLOB)")
    lock = asyncio.Lock()

    def insert(name: str, raw: bytes) -> None:
        db.execute("INSERT OR REPLACE INTO objects(name, value) VALUES (?, ?)", (name, raw))

    async def create(request: web.Request) -> web.Response:
        raw = await request.read()
        obj = orjson.loads(raw)
        name = obj["metadata"]["name"]
        async with lock:
            await asyncio.get_running_loop().run_in_executor(None, insert, name, raw)
        return web.Response(body=raw, status=201, content_type="application/json")

    async def get(request: web.Request) -> web.Response:
        row = db.execute("SELECT value FROM objects WHERE name = ?", (request.match_info["name"],)).fetchone()
        if row is None:
            return web.Response(status=404)
        return web.Response(body=row[0], content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/objects", create)
    app.router.add_get("/objects/{name}", get)
    app.router.add_get("/healthz", health)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, ssl_context=ctx, access_log=None, print=None)


if __name__ == "__main__":
    main()
