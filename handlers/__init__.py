"""Command handlers, one module (and one Router) per command family."""

from __future__ import annotations

from bot.routing.router import Router
from handlers import (
    activities,
    admin,
    archive,
    digest,
    evidence,
    exports,
    feedback,
    identity,
    lesson_studies,
    me,
    notices,
    reflections,
    resources,
    review_settings,
    reviews,
    signins,
    summaries,
    teams,
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
        reviews.router,
        review_settings.router,
        me.router,
        summaries.router,
        exports.router,
        archive.router,
        digest.router,
        resources.router,
        evidence.router,
        lesson_studies.router,
        feedback.router,
        teams.router,
        admin.router,
    )
    root.include(help_router(root))
    return root
