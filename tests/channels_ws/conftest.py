"""The fake WeCom long-connection server on 127.0.0.1, shared by our client's tests and the
official SDK's."""

from __future__ import annotations

import pytest

from tests.fakes.wecom_ws import FakeWeComWS


@pytest.fixture
async def fake_url(aiohttp_server) -> tuple[FakeWeComWS, str]:  # type: ignore[no-untyped-def]
    fake = FakeWeComWS()
    server = await aiohttp_server(fake.make_app())
    return fake, str(server.make_url("/"))


@pytest.fixture
def fake(fake_url: tuple[FakeWeComWS, str]) -> FakeWeComWS:
    return fake_url[0]
