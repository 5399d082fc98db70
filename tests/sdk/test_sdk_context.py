"""Session context through the SDK: token budgets, summaries, peer views, LLM message formats.

Summaries are written by the deriver; these tests seed them straight into the database (the
same way the deriver stores them) and read everything else through the official client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from honcho import Honcho, Message, NotFoundError, Session, UnprocessableEntityError
from honcho.conclusions import Conclusion
from honcho.session_context import SessionContext
from sqlalchemy import text

from honcho_server.db.engine import create_engine, create_session_factory
from honcho_server.db.repositories.summaries import SummaryRepository
from honcho_server.db.session import unit_of_work
from honcho_server.settings import Settings
from honcho_server.tokens import count_tokens

TRIP = [
    ("alice", "Hi, I'm Alice and I'm planning a trip to Lisbon next spring."),
    ("bot", "Lisbon is lovely in spring. How long are you planning to stay there?"),
    ("alice", "About a week, starting on the third of May, with my sister."),
    ("bot", "Then book the tram 28 tour early; it sells out quickly in May."),
    ("alice", "Good tip. We also want to take a day trip to Sintra if possible."),
    ("bot", "Sintra is an easy train ride from Rossio station, about forty minutes."),
]
SUMMARY_TYPE = {"short": "honcho_chat_summary_short", "long": "honcho_chat_summary_long"}


@dataclass(frozen=True)
class Seeded:
    kind: str
    covers: int  # index of the last message the summary covers
    tokens: int
    content: str


async def _seed_summary(
    settings: Settings, ws: str, session: str, message: Message, seeded: Seeded
) -> None:
    """Store a summary as the deriver would (replacing any summary of that kind)."""
    assert settings.database_url is not None
    engine = create_engine(settings, settings.database_url)
    try:
        async with unit_of_work(create_session_factory(engine)) as db:
            internal = await db.scalar(
                text("SELECT id FROM messages WHERE public_id = :p"), {"p": message.id}
            )
            await SummaryRepository(db).save(
                ws,
                session,
                seeded.kind,
                content=seeded.content,
                message_id=int(internal),
                message_public_id=message.id,
                token_count=seeded.tokens,
                created_at=datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
            )
    finally:
        await engine.dispose()


def _conversation(honcho: Honcho, session_id: str, turns: list[tuple[str, str]]) -> list[Message]:
    session = honcho.session(session_id)
    created = session.add_messages([honcho.peer(p).message(c) for p, c in turns])
    assert all(m.token_count > 0 for m in created)
    return created


def _newest_fitting(messages: list[Message], budget: int) -> list[Message]:
    """The spec's walk: newest first, stop at the first message that would overflow."""
    taken: list[Message] = []
    used = 0
    for m in reversed(messages):
        if used + m.token_count > budget:
            break
        used += m.token_count
        taken.append(m)
    return taken[::-1]


def _expected(
    messages: list[Message], limit: int, seeded: list[Seeded], use_summary: bool = True
) -> tuple[Seeded | None, list[Message]]:
    """Reference model of §12.1 (without a peer target), with messages strictly after."""
    if limit <= 0:
        return None, []
    by_kind = {s.kind: s for s in seeded}
    short, long = by_kind.get("short"), by_kind.get("long")
    chosen = None
    if use_summary:
        cap = limit * 2 // 5
        short_tokens = short.tokens if short else 0
        if long is not None and long.tokens <= cap and long.tokens > short_tokens:
            chosen = long
        elif short is not None and 0 < short.tokens <= cap:
            chosen = short
    budget = limit - (chosen.tokens if chosen else 0)
    start = chosen.covers + 1 if chosen else 0
    return chosen, _newest_fitting(messages[start:], budget)


def _ids(messages: list[Message]) -> list[str]:
    return [m.id for m in messages]


def _assert_context(
    ctx: SessionContext,
    messages: list[Message],
    chosen: Seeded | None,
    expected: list[Message],
    limit: int,
) -> None:
    assert _ids(ctx.messages) == _ids(expected), f"tokens={limit}"
    assert [m.token_count for m in ctx.messages] == [m.token_count for m in expected]
    summary_tokens = 0
    if chosen is None:
        assert ctx.summary is None, f"tokens={limit}"
    else:
        assert ctx.summary is not None, f"tokens={limit}"
        assert ctx.summary.summary_type == SUMMARY_TYPE[chosen.kind]
        assert ctx.summary.content == chosen.content
        assert ctx.summary.message_id == messages[chosen.covers].id
        assert ctx.summary.token_count == chosen.tokens
        assert ctx.summary.created_at == "2025-06-01T12:00:00Z"
        summary_tokens = chosen.tokens
    assert summary_tokens + sum(m.token_count for m in ctx.messages) <= max(limit, 0)
    assert len(ctx) == len(ctx.messages) + (1 if chosen else 0)


def _stamp(conclusion: Conclusion) -> str:
    return conclusion.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _one_explicit(conclusion: Conclusion) -> str:
    return f"## Explicit Observations\n\n[{_stamp(conclusion)}] {conclusion.content}\n"


# --- token budget without summaries -----------------------------------------------------------


def test_context_without_budget_returns_every_message_in_order(honcho: Honcho) -> None:
    created = _conversation(honcho, "trip", TRIP)
    ctx = honcho.session("trip").context()
    assert isinstance(ctx, SessionContext)
    assert ctx.session_id == "trip"
    assert _ids(ctx.messages) == _ids(created)
    assert [(m.peer_id, m.content) for m in ctx.messages] == TRIP
    assert all(isinstance(m, Message) and m.session_id == "trip" for m in ctx.messages)
    assert ctx.summary is None and ctx.peer_representation is None and ctx.peer_card is None
    assert len(ctx) == len(TRIP)
    # The maximum budget is accepted; one more is refused by the server.
    assert _ids(honcho.session("trip").context(tokens=100_000).messages) == _ids(created)
    with pytest.raises(UnprocessableEntityError):
        honcho.session("trip").context(tokens=100_001)


def test_token_budget_keeps_the_newest_messages_that_fit(honcho: Honcho) -> None:
    turns = [
        ("alice", "first, tiny"),
        ("bot", "hello " * 60),  # large: the walk stops here
        ("alice", "short one"),
        ("bot", "another short reply"),
        ("alice", "the newest message"),
    ]
    created = _conversation(honcho, "budget", turns)
    session = honcho.session("budget")
    tail = sum(m.token_count for m in created[2:])
    limits = sorted(
        {
            1,
            created[-1].token_count - 1,
            created[-1].token_count,
            tail - 1,
            tail,
            tail + created[1].token_count - 1,  # the big one does not fit, so stop (no skip)
            tail + created[1].token_count,
            sum(m.token_count for m in created),
            10_000,
        }
        - {0}
    )
    for limit in limits:
        ctx = session.context(tokens=limit)
        chosen, expected = _expected(created, limit, [])
        _assert_context(ctx, created, chosen, expected, limit)
        if ctx.messages:
            assert ctx.messages[-1].id == created[-1].id  # newest last
    # The small first message would fit but lies behind the overflowing one.
    ctx = session.context(tokens=tail + created[1].token_count - 1)
    assert _ids(ctx.messages) == _ids(created[2:])
    # Newest alone over budget: nothing at all.
    assert session.context(tokens=created[-1].token_count - 1).messages == []


def test_context_of_an_unknown_session_is_empty(honcho: Honcho) -> None:
    honcho.peer("someone")  # the workspace exists
    ctx = Session("never-created", honcho).context(tokens=500)
    assert ctx.messages == [] and ctx.summary is None
    assert [s.id for s in honcho.sessions()] == []  # reading context created nothing


# --- summaries -------------------------------------------------------------------------------


async def test_short_summary_and_messages_strictly_after_it(
    honcho: Honcho, settings: Settings, ws: str
) -> None:
    created = _conversation(honcho, "trip", TRIP)
    short = Seeded("short", covers=2, tokens=10, content="Alice plans a week in Lisbon in May.")
    await _seed_summary(settings, ws, "trip", created[2], short)
    session = honcho.session("trip")

    ctx = session.context(tokens=1_000)
    assert ctx.summary is not None and ctx.summary.content == short.content
    assert _ids(ctx.messages) == _ids(created[3:])  # the covered message is not repeated
    _assert_context(ctx, created, short, created[3:], 1_000)

    # The summary's tokens come out of the budget before the messages are chosen.
    limit = short.tokens + created[5].token_count + created[4].token_count
    assert limit * 2 // 5 >= short.tokens
    ctx = session.context(tokens=limit)
    _assert_context(ctx, created, short, created[4:], limit)
    ctx = session.context(tokens=limit - 1)
    _assert_context(ctx, created, short, created[5:], limit - 1)

    # summary=False: no summary, and messages are taken from the session start again.
    ctx = session.context(tokens=1_000, summary=False)
    _assert_context(ctx, created, None, created, 1_000)

    # Too small a budget for the summary's 40 % share: messages only.
    ctx = session.context(tokens=24)
    chosen, expected = _expected(created, 24, [short])
    assert chosen is None
    _assert_context(ctx, created, None, expected, 24)
    ctx = session.context(tokens=25)  # floor(0.4 * 25) == 10: the summary fits exactly
    _assert_context(ctx, created, short, _newest_fitting(created[3:], 15), 25)


async def test_summary_choice_follows_the_forty_percent_rule(
    honcho: Honcho, settings: Settings, ws: str
) -> None:
    created = _conversation(honcho, "trip", TRIP)
    long = Seeded("long", covers=1, tokens=30, content="LONG: Alice asked about Lisbon.")
    short = Seeded("short", covers=3, tokens=10, content="SHORT: trip dates and tram tip.")
    await _seed_summary(settings, ws, "trip", created[1], long)
    await _seed_summary(settings, ws, "trip", created[3], short)
    session = honcho.session("trip")

    summaries = session.summaries()
    assert summaries.long_summary is not None and summaries.long_summary.token_count == 30
    assert summaries.short_summary is not None and summaries.short_summary.token_count == 10

    kinds = {}
    for limit in (1, 9, 24, 25, 30, 50, 74, 75, 76, 100, 200, 1_000, 100_000):
        ctx = session.context(tokens=limit)
        chosen, expected = _expected(created, limit, [long, short])
        _assert_context(ctx, created, chosen, expected, limit)
        kinds[limit] = chosen.kind if chosen else None
    # The boundaries themselves, spelled out.
    assert kinds[24] is None  # floor(9.6) = 9 < 10
    assert kinds[25] == "short" and kinds[74] == "short"  # long (30) over floor(0.4 L)
    assert kinds[75] == "long" and kinds[1_000] == "long"

    ctx = session.context(tokens=1_000)
    assert ctx.summary is not None and ctx.summary.content == long.content
    assert _ids(ctx.messages) == _ids(created[2:])

    # A long summary that is not longer than the short one is never preferred.
    long_but_smaller = Seeded("long", covers=1, tokens=8, content="LONG: terse.")
    await _seed_summary(settings, ws, "trip", created[1], long_but_smaller)
    ctx = session.context(tokens=1_000)
    _assert_context(ctx, created, short, created[4:], 1_000)
    ctx = session.context(tokens=24)  # short (10) over the share: the long one does not step in
    _assert_context(ctx, created, None, _expected(created, 24, [])[1], 24)

    # summary=False ignores both.
    ctx = session.context(tokens=1_000, summary=False)
    _assert_context(ctx, created, None, created, 1_000)


async def test_long_summary_alone(honcho: Honcho, settings: Settings, ws: str) -> None:
    created = _conversation(honcho, "trip", TRIP)
    long = Seeded("long", covers=4, tokens=12, content="Everything up to Sintra.")
    await _seed_summary(settings, ws, "trip", created[4], long)
    session = honcho.session("trip")
    for limit in (29, 30, 31, 500):
        chosen, expected = _expected(created, limit, [long])
        _assert_context(session.context(tokens=limit), created, chosen, expected, limit)
    assert _ids(session.context().messages) == [created[5].id]


async def test_async_context_matches_sync(honcho: Honcho, settings: Settings, ws: str) -> None:
    created = _conversation(honcho, "trip", TRIP)
    short = Seeded("short", covers=2, tokens=10, content="Alice plans a week in Lisbon in May.")
    await _seed_summary(settings, ws, "trip", created[2], short)
    session = honcho.session("trip")
    for limit, use_summary in ((1_000, True), (40, True), (40, False), (24, True)):
        ctx = await session.aio.context(tokens=limit, summary=use_summary)
        chosen, expected = _expected(created, limit, [short], use_summary)
        _assert_context(ctx, created, chosen, expected, limit)
        sync = session.context(tokens=limit, summary=use_summary)
        assert _ids(sync.messages) == _ids(ctx.messages) and sync.summary == ctx.summary
    ctx = await session.aio.context()
    assert ctx.summary is not None and _ids(ctx.messages) == _ids(created[3:])


# --- LLM message formats ----------------------------------------------------------------------


async def test_to_openai_and_to_anthropic_with_summary(
    honcho: Honcho, settings: Settings, ws: str
) -> None:
    created = _conversation(honcho, "trip", TRIP[:4])
    short = Seeded("short", covers=1, tokens=10, content="Alice is planning a Lisbon trip.")
    await _seed_summary(settings, ws, "trip", created[1], short)
    bot = honcho.peer("bot")
    ctx = honcho.session("trip").context(tokens=1_000)
    assert _ids(ctx.messages) == _ids(created[2:])

    openai = [
        {"role": "system", "content": "<summary>Alice is planning a Lisbon trip.</summary>"},
        {"role": "user", "name": "alice", "content": TRIP[2][1]},
        {"role": "assistant", "name": "bot", "content": TRIP[3][1]},
    ]
    assert ctx.to_openai(assistant=bot) == openai
    assert ctx.to_openai(assistant="bot") == openai
    anthropic = [
        {"role": "user", "content": "<summary>Alice is planning a Lisbon trip.</summary>"},
        {"role": "user", "content": f"alice: {TRIP[2][1]}"},
        {"role": "assistant", "content": TRIP[3][1]},
    ]
    assert ctx.to_anthropic(assistant=bot) == anthropic
    assert ctx.to_anthropic(assistant="bot") == anthropic

    # The roles follow whoever is called the assistant.
    assert ctx.to_openai(assistant=honcho.peer("alice"))[1:] == [
        {"role": "assistant", "name": "alice", "content": TRIP[2][1]},
        {"role": "user", "name": "bot", "content": TRIP[3][1]},
    ]
    assert ctx.to_anthropic(assistant="alice")[1:] == [
        {"role": "assistant", "content": TRIP[2][1]},
        {"role": "user", "content": f"bot: {TRIP[3][1]}"},
    ]

    # Without a summary there is no leading summary turn, and the whole history comes back.
    plain = honcho.session("trip").context(tokens=1_000, summary=False)
    assert plain.to_openai(assistant=bot) == [
        {"role": "assistant" if p == "bot" else "user", "name": p, "content": c}
        for p, c in TRIP[:4]
    ]
    assert plain.to_anthropic(assistant=bot) == [
        {"role": "assistant", "content": c}
        if p == "bot"
        else {"role": "user", "content": f"{p}: {c}"}
        for p, c in TRIP[:4]
    ]


# --- peer target: representation and card ----------------------------------------------------


def test_peer_target_representation_card_and_llm_formats(honcho: Honcho) -> None:
    created = _conversation(honcho, "trip", TRIP[:4])
    alice, bot = honcho.peer("alice"), honcho.peer("bot")
    (about_self,) = alice.conclusions.create([{"content": "Alice is travelling to Lisbon"}])
    (bots_view,) = bot.conclusions_of(alice).create([{"content": "Alice prefers trams"}])
    alice.set_card(["IDENTITY: Alice"])
    bot.set_card(["RELATIONSHIP: bot's user"], target=alice)
    session = honcho.session("trip")

    ctx = session.context(tokens=5_000, peer_target="alice")
    assert ctx.peer_representation == _one_explicit(about_self)
    assert ctx.peer_card == ["IDENTITY: Alice"]
    assert _ids(ctx.messages) == _ids(created)
    assert ctx.summary is None

    seen_by_bot = session.context(tokens=5_000, peer_target="alice", peer_perspective="bot")
    assert seen_by_bot.peer_representation == _one_explicit(bots_view)
    assert seen_by_bot.peer_card == ["RELATIONSHIP: bot's user"]

    rep = _one_explicit(bots_view)
    assert seen_by_bot.to_openai(assistant=bot) == [
        {"role": "system", "content": f"<peer_representation>{rep}</peer_representation>"},
        {"role": "system", "content": '<peer_card>["RELATIONSHIP: bot\'s user"]</peer_card>'},
        *[
            {"role": "assistant" if p == "bot" else "user", "name": p, "content": c}
            for p, c in TRIP[:4]
        ],
    ]
    anthropic = seen_by_bot.to_anthropic(assistant="bot")
    assert anthropic[:2] == [
        {"role": "user", "content": f"<peer_representation>{rep}</peer_representation>"},
        {"role": "user", "content": '<peer_card>["RELATIONSHIP: bot\'s user"]</peer_card>'},
    ]
    assert anthropic[2] == {"role": "user", "content": f"alice: {TRIP[0][1]}"}

    # A target nobody has observed yet: empty representation (None in the SDK), no card.
    bare = session.context(peer_target="bot", peer_perspective="alice")
    assert bare.peer_representation is None and bare.peer_card is None
    assert _ids(bare.messages) == _ids(created)


def test_peer_target_limited_to_session(honcho: Honcho) -> None:
    _conversation(honcho, "trip", TRIP[:2])
    honcho.session("elsewhere")
    alice = honcho.peer("alice")
    here, _, _ = alice.conclusions.create(
        [
            {"content": "Said in this session", "session_id": "trip"},
            {"content": "Workspace-level fact"},
            {"content": "Said in another session", "session_id": "elsewhere"},
        ]
    )
    alice.set_card(["IDENTITY: Alice"])
    session = honcho.session("trip")

    everything = session.context(peer_target="alice")
    assert everything.peer_representation is not None
    for fact in ("Said in this session", "Workspace-level fact", "Said in another session"):
        assert fact in everything.peer_representation
    assert everything.peer_card == ["IDENTITY: Alice"]

    limited = session.context(peer_target="alice", limit_to_session=True)
    assert limited.peer_representation == _one_explicit(here)
    assert limited.peer_card is None  # a session allowlist omits the card

    nothing = honcho.session("elsewhere").context(peer_target="bot", limit_to_session=True)
    assert nothing.peer_representation is None and nothing.peer_card is None


def test_peer_target_session_allowlist(honcho: Honcho) -> None:
    """`sessions=[...]` confines the representation to explicit facts from those sessions."""
    _conversation(honcho, "trip", TRIP[:2])
    honcho.session("elsewhere")
    honcho.session("private")
    alice = honcho.peer("alice")
    here, there, _, _ = alice.conclusions.create(
        [
            {"content": "Said in this session", "session_id": "trip"},
            {"content": "Said elsewhere", "session_id": "elsewhere"},
            {"content": "Said in private", "session_id": "private"},
            {"content": "Workspace-level fact"},
        ]
    )
    alice.set_card(["IDENTITY: Alice"])
    session = honcho.session("trip")

    only_here = session.context(peer_target="alice", sessions=["trip"])
    assert only_here.peer_representation == _one_explicit(here)
    assert only_here.peer_card is None  # an allowlist omits the card

    both = session.context(peer_target="alice", sessions=["trip", "elsewhere"])
    assert both.peer_representation is not None
    lines = both.peer_representation.split("\n")
    assert sorted(lines[2:4]) == sorted(
        [f"[{_stamp(here)}] {here.content}", f"[{_stamp(there)}] {there.content}"]
    )
    assert "Said in private" not in both.peer_representation
    assert "Workspace-level fact" not in both.peer_representation
    assert both.peer_card is None

    # The allowlist must include the session whose context is read.
    with pytest.raises(UnprocessableEntityError):
        session.context(peer_target="alice", sessions=["elsewhere"])


def test_peer_view_tokens_come_out_of_the_budget(honcho: Honcho) -> None:
    created = _conversation(honcho, "trip", TRIP)
    alice = honcho.peer("alice")
    alice.conclusions.create([{"content": "Alice is travelling to Lisbon with her sister"}])
    alice.set_card(["IDENTITY: Alice", "ATTRIBUTE: likes trams"])
    session = honcho.session("trip")
    full = session.context(peer_target="alice")
    assert full.peer_representation is not None and full.peer_card is not None
    view = count_tokens(full.peer_representation) + count_tokens("\n".join(full.peer_card))

    last_two = created[4].token_count + created[5].token_count
    ctx = session.context(tokens=view + last_two, peer_target="alice")
    assert _ids(ctx.messages) == _ids(created[4:])
    assert ctx.peer_representation == full.peer_representation
    ctx = session.context(tokens=view + last_two - 1, peer_target="alice")
    assert _ids(ctx.messages) == _ids(created[5:])
    # Nothing left for messages, but the representation and card are still returned.
    ctx = session.context(tokens=view, peer_target="alice")
    assert ctx.messages == [] and ctx.peer_card == full.peer_card
    assert ctx.peer_representation == full.peer_representation
    # Without a target the same budget buys more messages.
    assert _ids(session.context(tokens=view + last_two).messages) == _ids(
        _newest_fitting(created, view + last_two)
    )


async def test_peer_target_async_and_errors(honcho: Honcho) -> None:
    _conversation(honcho, "trip", TRIP[:2])
    alice = honcho.peer("alice")
    (fact,) = alice.conclusions.create([{"content": "Alice likes custard tarts"}])
    session = honcho.session("trip")
    ctx = await session.aio.context(peer_target="alice", tokens=2_000)
    assert ctx.peer_representation == _one_explicit(fact) and ctx.peer_card is None
    assert [m.content for m in ctx.messages] == [c for _, c in TRIP[:2]]

    # The observer must exist (unknown target without perspective, or unknown perspective).
    with pytest.raises(NotFoundError):
        session.context(peer_target="nobody")
    with pytest.raises(NotFoundError):
        await session.aio.context(peer_target="alice", peer_perspective="nobody")
    # The SDK refuses a perspective without a target before asking the server.
    with pytest.raises(ValueError):
        session.context(peer_perspective="alice")
