"""Telling systemd how the service is doing (`Type=notify`), without a dependency.

The protocol is one datagram per message on the unix socket named by $NOTIFY_SOCKET (a path,
or "@name" for the abstract namespace): "READY=1" once the service really serves (recovery
done, HTTP listening), "STOPPING=1" when it begins to shut down. Without $NOTIFY_SOCKET (a
terminal, Docker) nothing is sent.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

READY = "READY=1"
STOPPING = "STOPPING=1"


class SystemdNotifier:
    """Sends state lines to systemd's notification socket, if there is one."""

    def __init__(self, address: str | None) -> None:
        self._address = address or None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SystemdNotifier:
        return cls(environ.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *lines: str) -> bool:
        """Send `lines` (e.g. READY, "STATUS=…") as one message; False when not sent."""
        if self._address is None:
            return False
        address = self._address
        if address.startswith("@"):
            address = "\0" + address[1:]  # the abstract namespace
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(address)
                sock.sendall("\n".join(lines).encode())
        except OSError as exc:
            # systemd would then time the start out; say why in the journal.
            log.warning("could not notify systemd at %s: %s", self._address, exc)
            return False
        return True
