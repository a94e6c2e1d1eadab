"""What every channel adapter offers to the rest of the bot.

Channels never import handlers: they hand `Incoming` messages to an `IncomingSink`
(the pipeline) and deliver `Outgoing` messages the outbox worker gives them.
"""

from __future__ import annotations

from typing import Protocol

from bot.core.messages import Channel, Incoming, Outgoing


class SendError(Exception):
    """A delivery failed. `retryable` tells the outbox whether trying later can help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class RateLimited(SendError):
    """The target's quota is used up: try again in `retry_after` seconds, not an attempt.

    The outbox defers the target's queue instead of counting a failure, so a member who
    receives many messages never delays anyone else's.
    """

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:.1f} s", retryable=True)
        self.retry_after = retry_after


class IncomingSink(Protocol):
    async def submit(self, incoming: Incoming) -> bool:
        """Record the message durably and queue it; return False for a duplicate delivery."""
        ...


class Sender(Protocol):
    channel: Channel

    async def send(self, message: Outgoing) -> None:
        """Deliver one message or raise `SendError`."""
        ...
