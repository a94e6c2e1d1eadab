"""The peer design measured beside us: `wecom-bot-svr` (PyPI), run as its README says
(`server.run()`, i.e. Flask's own server), with a handler that returns a text reply.

`python -m bench.peer_server PORT TOKEN AES_KEY` serves `POST /wecom_bot`. The package
speaks the group robot's XML callback (doc 99399) with the same AES/signature scheme as our
smart-bot callback; the receive id is "" for robots, as for ours.
"""

from __future__ import annotations

import logging
import sys
from typing import Any


def main(argv: list[str]) -> None:
    from wecom_bot_svr import RspTextMsg, WecomBotServer

    port, token, aes_key = int(argv[0]), argv[1], argv[2]
    logging.basicConfig(level=logging.WARNING)

    def on_message(_message: Any) -> Any:
        reply = RspTextMsg()
        reply.content = "签到成功"
        return reply

    def on_event(_message: Any) -> Any:
        return RspTextMsg()

    server = WecomBotServer(
        "教研助手", "127.0.0.1", port, path="/wecom_bot", token=token, aes_key=aes_key, corp_id=""
    )
    server.set_message_handler(on_message)
    server.set_event_handler(on_event)
    server.run()


if __name__ == "__main__":
    main(sys.argv[1:])
