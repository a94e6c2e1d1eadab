"""Wiring the playground channel to a bot: who can speak, which groups show, how time moves.

Used twice: by `jiaoyan-bot playground` (a simulated clock the page moves, `bot.cli.playground`)
and by `serve` when no WeCom channel is configured (the real clock, `/playground` on this
machine only).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.base import IncomingSink, Sender
from bot.channels.playground.hub import PlaygroundHub
from bot.channels.playground.routes import Choice, ClockControl, Deliver, PlaygroundRoutes
from bot.core.clock import Clock
from bot.core.messages import Channel, Incoming
from bot.core.settings import Settings
from bot.pipeline.delivery import LOCAL_CHANNELS
from bot.runtime.app import App, create_app
from storage import Storage
from storage.models import Member, Role

PLAYGROUND_PATH = "/playground/"
# Who comes first in the speaker list: the district's staff, then each alliance's people.
_ROLE_ORDER = {Role.ADMIN: 0, Role.STAFF: 1, Role.LEADER: 2, Role.TEACHER: 3}


@dataclass
class RosterDirectory:
    """The page's choices, read from the roster and the bound groups."""

    storage: Storage

    def members(self) -> list[Choice]:
        roster = self.storage.roster
        alliances = {a.id: a.name for a in roster.alliances()}
        people = [m for m in roster.all_members() if m.active and m.userid]

        def order(member: Member) -> tuple[int, int, str, int, str]:
            staff = member.role in (Role.ADMIN, Role.STAFF)
            return (
                0 if staff else 1,
                member.alliance_id or 0,
                member.school_name or "",
                _ROLE_ORDER[member.role],
                member.name,
            )

        return [
            Choice(
                value=member.userid or "",
                label=f"{member.name}（{_place(member, alliances)}，{member.role.label}）",
            )
            for member in sorted(people, key=order)
        ]

    def groups(self) -> list[Choice]:
        alliances = {a.id: a.name for a in self.storage.roster.alliances()}
        choices = []
        for chat in self.storage.chats.for_alliances(None):
            if chat.channel not in {c.value for c in LOCAL_CHANNELS}:
                continue
            alliance = alliances.get(chat.alliance_id, "")
            label = chat.chat_id if alliance in chat.chat_id else f"{chat.chat_id}（{alliance}）"
            choices.append(Choice(value=chat.chat_id, label=label))
        return choices

    def name(self, userid: str) -> str:
        member = self.storage.roster.member_by_userid(userid)
        return member.name if member else userid


def _place(member: Member, alliances: dict[int, str]) -> str:
    if member.school_name:
        return member.school_name
    return alliances.get(member.alliance_id or 0, "未分配")


def playground_hub(settings: Settings, storage: Storage, clock: Clock) -> PlaygroundHub:
    return PlaygroundHub(clock, settings.zone, RosterDirectory(storage).name)


def playground_senders(hub: PlaygroundHub) -> dict[Channel, Sender]:
    """The hub delivers the playground's messages and those of groups bound from the
    terminal console (the demo district's): both are local, shown on the page."""
    return {Channel.PLAYGROUND: hub, Channel.CONSOLE: hub.sender_for(Channel.CONSOLE)}


def playground_app(
    settings: Settings, storage: Storage, clock: Clock, *, leave_other_channels: bool = False
) -> tuple[PlaygroundHub, App]:
    """The bot with the page as its private channel and as the sender of local groups.
    `leave_other_channels`: WeCom groups' messages stay queued (a copied database)."""
    hub = playground_hub(settings, storage, clock)
    app = create_app(
        settings,
        clock=clock,
        storage=storage,
        senders=playground_senders(hub),
        private_channel=Channel.PLAYGROUND,
        leave_other_channels=leave_other_channels,
    )
    return hub, app


def playground_routes(
    settings: Settings,
    storage: Storage,
    clock: Clock,
    hub: PlaygroundHub,
    deliver: Deliver,
    *,
    clock_control: ClockControl | None = None,
    local_only: bool = False,
) -> PlaygroundRoutes:
    return PlaygroundRoutes(
        hub=hub,
        directory=RosterDirectory(storage),
        deliver=deliver,
        clock=clock,
        zone=settings.zone,
        clock_control=clock_control,
        local_only=local_only,
    )


def submit_to(sink: IncomingSink) -> Deliver:
    """A `Deliver` that only queues the message, as a WeCom callback does (`serve`: the
    outbox worker pushes the answers to the page when they are ready)."""

    async def deliver(incoming: Incoming) -> None:
        await sink.submit(incoming)

    return deliver
