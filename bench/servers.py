"""Baseline servers measured in the same run as the bot: `python -m bench.servers MODE PORT`.

- `bare`: an aiohttp POST handler that reads the body and answers an empty 200 — the limit
  of the HTTP stack on this machine, which every other figure is divided by.
- `lean`: an aiohttp handler that only verifies the signature, decrypts the app callback and
  encrypts a passive reply with wechatpy — crypto and nothing else, no inbox, no bot.
"""

from __future__ import annotations

import sys

from aiohttp import web


def bare_app() -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200, body=b"")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def lean_app(token: str, aes_key: str, corp_id: str) -> web.Application:
    from wechatpy.enterprise.crypto import WeChatCrypto

    crypto = WeChatCrypto(token, aes_key, corp_id)
    reply = "<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[签到成功]]></Content></xml>"

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        query = request.query
        crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
        answer = crypto.encrypt_message(reply, query["nonce"], query["timestamp"])
        return web.Response(status=200, text=answer, content_type="application/xml")

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/healthz", health)
    app.router.add_post("/wecom/app", handle)
    return app


def main(argv: list[str]) -> None:
    mode, port = argv[0], int(argv[1])
    app = bare_app() if mode == "bare" else lean_app(argv[2], argv[3], argv[4])
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main(sys.argv[1:])
