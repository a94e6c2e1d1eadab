"""Command handlers, one module (and one Router) per command family."""

from __future__ import annotations

from bot.router import Router
from handlers import (
    activities,
    admin,
    digest,
    identity,
    me,
    notices,
    reflections,
    signins,
    summaries,
)
from handlers.help import help_router


def build_router() -> Router:
    """The root router with every command; help sees them all."""
    root = Router("root")
    root.include(
        identity.router,
        notices.router,
        activities.router,
        signins.router,
        reflections.router,
        me.router,
        summaries.router,
        admin.router,
        digest.router,
    )
    root.include(help_router(root))
    return root
