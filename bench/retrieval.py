"""Retrieval quality benchmark: recall@1/5/10 and MRR of the server's search, per scope and type.

    .venv/bin/python bench/retrieval.py                 # ~2 min on 2 busy cores
    .venv/bin/python bench/retrieval.py --pad 10000     # + latency on 10k messages (~5 min more)

What it does:

1. Starts a throwaway embedded PostgreSQL (or uses ``--database-url``), migrates it, and runs
   this checkout's app in-process (its own worker embeds messages with the local model;
   deriver and summaries off) behind an ASGI client: the same code path as HTTP requests.
2. Loads ``bench/data/conversations.txt`` (see ``bench/data/README.md``): eight users chatting
   with one assistant over dated sessions, in one workspace, plus conclusions about each user
   (observer = observed = the user), created in session order and dated like their session's
   last message. Waits until every message is embedded.
3. Asks every question in four scopes and scores the top 10 against the gold evidence:

   - ``peer``: ``POST …/peers/{user}/search`` (the user's own messages);
   - ``session``: ``POST …/sessions/{s}/search``, for questions whose evidence lies in one
     session ``s``;
   - ``conclusions``: ``POST …/conclusions/query`` on the user's collection;
   - ``workspace``: ``POST …/search``, unscoped: every user's and the assistant's messages.

   recall@1 = the first result is gold evidence; recall@5/10 = the share of the gold evidence
   in the top 5/10 (multi-hop questions have two pieces); MRR = 1 / rank of the first gold
   result (0 if none in the top 10). "newer first" (knowledge-update questions) = the current
   fact ranks above every stale one it replaced (a stale fact absent from the list counts as
   below). For the workspace scope it also counts how often the first result is an assistant
   message or another user's.

   Two baselines score the same candidates (the scope's messages or conclusions) offline:
   BM25 (k1 1.2, b 0.75, stop words dropped, crude suffix stemming) and plain cosine over the
   same model's embeddings (each message embedded whole).
4. Latency p50 of each scope's request (in-process: no network, JSON included, the query
   embedded afresh), the time spent in database statements per request (client-side wall
   time of every statement, so it includes the round trip and any wait for the CPU), and
   PostgreSQL's own execution time per request (``pg_stat_database.active_time``).
   ``--pad N`` then adds N filler messages (other peers, other sessions) and measures
   latency again at that size.

The machine is shared: latencies are noisy; quality numbers are deterministic for one model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "conversations.txt"
WORKSPACE = "retrieval-bench"
ASSISTANT = "assistant"
TYPES = ("single", "preference", "multihop", "temporal", "knowledge")
SCOPES = ("peer", "session", "conclusions", "workspace")
K = 10

# --- the data ---------------------------------------------------------------------------------


@dataclass
class Msg:
    user: str
    session: str
    peer: str
    content: str
    created_at: datetime
    tag: str | None = None
    id: str = ""


@dataclass
class Concl:
    user: str
    session: str
    tag: str
    content: str
    id: str = ""


@dataclass
class Question:
    user: str
    type: str
    text: str
    gold: list[str]
    stale: list[str] = field(default_factory=list)


@dataclass
class Data:
    messages: list[Msg] = field(default_factory=list)
    conclusions: list[Concl] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)

    def tagged(self, user: str, tag: str) -> Msg:
        return next(m for m in self.messages if m.user == user and m.tag == tag)

    def concluded(self, user: str, tag: str) -> Concl | None:
        return next((c for c in self.conclusions if c.user == user and c.tag == tag), None)


_LINE = re.compile(r"^(U|A|C)(?:#([\w-]+))?:\s*(.+)$")
_QUESTION = re.compile(r"^@q (\w+) ([\w,-]+)(?:>([\w,-]+))?:\s*(.+)$")


def parse(path: Path) -> Data:
    data = Data()
    user = session = ""
    clock = datetime.now(UTC)
    sessions: dict[str, int] = defaultdict(int)
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        if line.startswith("@user "):
            user = line.split()[1]
        elif line.startswith("@session "):
            sessions[user] += 1
            session = f"{user}-s{sessions[user]}"
            clock = datetime.fromisoformat(line.split(maxsplit=1)[1]).replace(tzinfo=UTC)
        elif q := _QUESTION.match(line):
            kind, gold, stale, text = q.groups()
            assert kind in TYPES, line
            data.questions.append(
                Question(user, kind, text, gold.split(","), stale.split(",") if stale else [])
            )
        elif m := _LINE.match(line):
            who, tag, text = m.groups()
            if who == "C":
                data.conclusions.append(Concl(user, session, tag, text))
                continue
            clock += timedelta(minutes=1)
            peer = user if who == "U" else ASSISTANT
            data.messages.append(Msg(user, session, peer, text, clock, tag))
        else:
            raise ValueError(f"unparsed line: {line}")
    for question in data.questions:
        for tag in question.gold + question.stale:
            data.tagged(question.user, tag)  # raises if a tag is unknown
    return data


# --- offline baselines ------------------------------------------------------------------------

_STOP_WORDS = """
a an the and or but if of to in on at by for with from as is are was were be been being
am do does did has have had i me my we our you your he him his she her they them their it
its this that these those what which who whom whose when where why how there here so not no
can could would should will shall may might must just about into over after before than
then too very also up out any all some more most such only own same s t don now nowadays
currently lately these days still
"""
STOP = set(_STOP_WORDS.split())
_WORD = re.compile(r"[a-z0-9]+")


def stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOP]


def bm25_rank(query: str, docs: dict[str, str]) -> list[str]:
    tokenised = {i: terms(t) for i, t in docs.items()}
    n = len(docs)
    avg = sum(len(t) for t in tokenised.values()) / max(n, 1)
    df: dict[str, int] = defaultdict(int)
    for toks in tokenised.values():
        for t in set(toks):
            df[t] += 1
    scores: dict[str, float] = {}
    for i, toks in tokenised.items():
        s = 0.0
        for t in set(terms(query)):
            tf = toks.count(t)
            if tf:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                s += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(toks) / avg))
        if s > 0:
            scores[i] = s
    return sorted(scores, key=lambda i: -scores[i])[:K]


def cosine_rank(qvec: np.ndarray, ids: list[str], matrix: np.ndarray) -> list[str]:
    sims = matrix @ qvec
    order = np.argsort(-sims, kind="stable")[:K]
    return [ids[j] for j in order]


# --- scoring ----------------------------------------------------------------------------------


@dataclass
class Score:
    r1: list[float] = field(default_factory=list)
    r5: list[float] = field(default_factory=list)
    r10: list[float] = field(default_factory=list)
    mrr: list[float] = field(default_factory=list)
    newer: list[float] = field(default_factory=list)

    def add(self, ranked: list[str], gold: set[str], stale: set[str]) -> None:
        self.r1.append(float(bool(ranked) and ranked[0] in gold))
        self.r5.append(len(gold & set(ranked[:5])) / len(gold))
        self.r10.append(len(gold & set(ranked[:10])) / len(gold))
        first = next((n for n, i in enumerate(ranked, 1) if i in gold), None)
        self.mrr.append(1 / first if first else 0.0)
        if stale:
            old = min((n for n, i in enumerate(ranked, 1) if i in stale), default=math.inf)
            self.newer.append(float(first is not None and first < old))

    def row(self) -> dict[str, float | int | None]:
        def mean(xs: list[float]) -> float | None:
            return round(statistics.fmean(xs), 3) if xs else None

        return {
            "n": len(self.r1),
            "r@1": mean(self.r1),
            "r@5": mean(self.r5),
            "r@10": mean(self.r10),
            "mrr": mean(self.mrr),
            "newer_first": mean(self.newer),
        }


@dataclass
class Case:
    scope: str
    question: Question
    gold: set[str]
    stale: set[str]
    request: tuple[str, dict[str, Any]]
    candidates: list[str]  # ids the baselines rank


def cases(data: Data) -> Iterator[Case]:
    by_user = defaultdict(list)
    for m in data.messages:
        by_user[m.user].append(m)
    for q in data.questions:
        gold_msgs = [data.tagged(q.user, t) for t in q.gold]
        gold = {m.id for m in gold_msgs}
        stale = {data.tagged(q.user, t).id for t in q.stale}
        body = {"query": q.text, "limit": K}
        mine = [m.id for m in by_user[q.user] if m.peer == q.user]
        yield Case("peer", q, gold, stale, (f"peers/{q.user}/search", body), mine)
        sessions = {m.session for m in gold_msgs}
        if len(sessions) == 1:
            (s,) = sessions
            in_session = [m.id for m in data.messages if m.session == s]
            yield Case("session", q, gold, set(), (f"sessions/{s}/search", body), in_session)
        concl = [c for t in q.gold if (c := data.concluded(q.user, t)) is not None]
        if concl:
            stale_c = {c.id for t in q.stale if (c := data.concluded(q.user, t)) is not None}
            pair = {"observer_id": q.user, "observed_id": q.user}
            cbody = {"query": q.text, "top_k": K, "filters": pair}
            theirs = [c.id for c in data.conclusions if c.user == q.user]
            yield Case(
                "conclusions",
                q,
                {c.id for c in concl},
                stale_c,
                ("conclusions/query", cbody),
                theirs,
            )
        everyone = [m.id for m in data.messages]
        yield Case("workspace", q, gold, stale, ("search", body), everyone)


def shares_no_word(data: Data, q: Question) -> bool:
    asked = set(terms(q.text)) - {q.user}
    said = set().union(*(terms(data.tagged(q.user, t).content) for t in q.gold))
    return not (asked & said)


# --- the server -------------------------------------------------------------------------------


class DbTimer:
    """Wall time of every statement on the app's engine (client side, round trip included)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.total = 0.0
        self.statements = 0
        self._started: list[float] = []
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)

    def _before(self, *args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, *args: Any) -> None:
        if self._started:
            self.total += time.perf_counter() - self._started.pop()
            self.statements += 1


async def wait_embedded(engine: Any, expected: int, limit_s: float = 1800) -> None:
    from sqlalchemy import text

    deadline = time.monotonic() + limit_s
    while True:
        async with engine.connect() as conn:
            done = await conn.scalar(
                text(
                    "SELECT count(DISTINCT message_id) FROM message_embeddings"
                    " WHERE workspace_name = :w"
                ),
                {"w": WORKSPACE},
            )
        if int(done or 0) >= expected:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {done}/{expected} messages embedded")
        await asyncio.sleep(0.5)


async def load(client: httpx.AsyncClient, data: Data) -> None:
    base = f"/v3/workspaces/{WORKSPACE}"
    r = await client.post("/v3/workspaces", json={"id": WORKSPACE})
    r.raise_for_status()
    sessions: dict[str, list[Msg]] = defaultdict(list)
    for m in data.messages:
        sessions[m.session].append(m)
    for name, msgs in sessions.items():
        body = {
            "messages": [
                {"peer_id": m.peer, "content": m.content, "created_at": m.created_at.isoformat()}
                for m in msgs
            ]
        }
        r = await client.post(f"{base}/sessions/{name}/messages", json=body)
        r.raise_for_status()
        for m, created in zip(msgs, r.json(), strict=True):
            m.id = created["id"]
        concl = [c for c in data.conclusions if c.session == name]
        if concl:
            items = [
                {
                    "content": c.content,
                    "observer_id": c.user,
                    "observed_id": c.user,
                    "session_id": c.session,
                }
                for c in concl
            ]
            r = await client.post(f"{base}/conclusions", json={"conclusions": items})
            r.raise_for_status()
            for c, created in zip(concl, r.json(), strict=True):
                c.id = created["id"]


async def date_conclusions(engine: Any, data: Data) -> None:
    """Stamp each conclusion with the time of its session's last message, as if the deriver
    had drawn it then (the API stamps them with the time of the load, seconds apart)."""
    from sqlalchemy import text

    last = {m.session: m.created_at for m in data.messages}
    async with engine.begin() as conn:
        for c in data.conclusions:
            await conn.execute(
                text("UPDATE conclusions SET created_at = :t WHERE id = :id"),
                {"t": last[c.session], "id": c.id},
            )


FILLER_SUBJECTS = (
    "the meeting",
    "my cousin",
    "our landlord",
    "the weather",
    "the new cafe",
    "that podcast",
    "the football match",
    "my laptop",
    "the bus",
    "the garden",
)
FILLER_VERBS = ("was", "seemed", "turned out", "felt", "looked", "sounded", "got")
FILLER_OBJECTS = (
    "a bit strange today",
    "better than expected",
    "really loud",
    "quite boring",
    "surprisingly cheap",
    "late again",
    "full of people",
    "way too expensive",
    "nicer than last week",
    "impossible to follow",
)


async def pad(client: httpx.AsyncClient, n: int) -> None:
    rng = random.Random(13)
    base = f"/v3/workspaces/{WORKSPACE}"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for batch in range(0, n, 100):
        msgs = []
        for i in range(batch, min(n, batch + 100)):
            text = (
                f"{rng.choice(FILLER_SUBJECTS).capitalize()} {rng.choice(FILLER_VERBS)} "
                f"{rng.choice(FILLER_OBJECTS)}, {rng.choice(FILLER_SUBJECTS)} too (note {i})."
            )
            when = start + timedelta(minutes=i)
            msgs.append(
                {"peer_id": f"filler{i % 40}", "content": text, "created_at": when.isoformat()}
            )
        r = await client.post(
            f"{base}/sessions/filler-{batch // 500}/messages", json={"messages": msgs}
        )
        r.raise_for_status()


async def ask(
    client: httpx.AsyncClient, timer: DbTimer, case: Case
) -> tuple[list[dict[str, Any]], float, float]:
    path, body = case.request
    db_before = timer.total
    started = time.perf_counter()
    r = await client.post(f"/v3/workspaces/{WORKSPACE}/{path}", json=body)
    elapsed = time.perf_counter() - started
    r.raise_for_status()
    return r.json(), elapsed * 1000, (timer.total - db_before) * 1000


PG_STATS_FLUSH_S = 11  # an idle backend reports its statistics within 10 s


async def pg_active_ms(engine: Any) -> float:
    """Milliseconds PostgreSQL spent executing statements in this database so far
    (``pg_stat_database.active_time``), once every backend has reported."""
    from sqlalchemy import text

    await asyncio.sleep(PG_STATS_FLUSH_S)
    async with engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT active_time FROM pg_stat_database WHERE datname = current_database()")
        )
    return float(value or 0.0)


async def latency(
    client: httpx.AsyncClient, timer: DbTimer, all_cases: list[Case], engine: Any
) -> dict[str, dict[str, float]]:
    """Per scope: p50 of the request (in-process; the query-vector cache emptied first, so
    each request embeds its query), p50 of its statements' client-side wall time, and
    PostgreSQL's own execution time per request (active_time over the loop ÷ requests; the
    idle worker's few polls are included)."""
    from honcho_server.services.semantic import QUERY_CACHE

    out: dict[str, dict[str, float]] = {}
    for scope in SCOPES:
        walls, dbs = [], []
        mine = [c for c in all_cases if c.scope == scope]
        before = await pg_active_ms(engine)
        QUERY_CACHE.clear()  # each query embedded afresh, as a new question would be
        for case in mine:
            _, wall, db = await ask(client, timer, case)
            walls.append(wall)
            dbs.append(db)
        pg = (await pg_active_ms(engine) - before) / len(mine)
        out[scope] = {
            "p50_ms": round(statistics.median(walls), 1),
            "db_ms_p50": round(statistics.median(dbs), 1),
            "pg_ms_mean": round(pg, 2),
        }
    return out


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    from honcho_server.app import create_app
    from honcho_server.settings import Settings

    data = parse(DATA)
    settings = Settings(
        _env_file=None,
        database_url=url,
        embed_messages=True,
        deriver_enabled=False,
        summary_enabled=False,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=120
        ) as client:
            print(
                f"loading {len(data.messages)} messages, {len(data.conclusions)} "
                f"conclusions, {len(data.questions)} questions",
                flush=True,
            )
            await load(client, data)
            await date_conclusions(app.state.engine, data)
            await wait_embedded(app.state.engine, len(data.messages))
            if args.sweep:
                await sweep(args, app, client, data)
            return await evaluate(args, app, client, data)


async def evaluate(
    args: argparse.Namespace, app: Any, client: httpx.AsyncClient, data: Data
) -> dict[str, Any]:
    embedder = app.state.embedder
    msg_ids = [m.id for m in data.messages]
    msg_text = {m.id: m.content for m in data.messages}
    msg_peer = {m.id: m.peer for m in data.messages}
    con_text = {c.id: c.content for c in data.conclusions}
    vectors = np.asarray(
        await embedder.embed(
            [m.content for m in data.messages] + [c.content for c in data.conclusions]
        ),
        dtype=np.float32,
    )
    index = {i: n for n, i in enumerate(msg_ids + [c.id for c in data.conclusions])}
    qvecs = np.asarray(await embedder.embed([q.text for q in data.questions]), dtype=np.float32)
    qindex = {id(q): n for n, q in enumerate(data.questions)}

    timer = DbTimer(app.state.engine)
    all_cases = list(cases(data))
    systems = ("server", "bm25", "cosine")
    scores: dict[tuple[str, str, str], Score] = defaultdict(Score)
    ws_first = {"assistant": 0, "other_user": 0, "n": 0}
    for case in all_cases:
        found, _, _ = await ask(client, timer, case)
        ranked = {"server": [r["id"] for r in found]}
        texts = con_text if case.scope == "conclusions" else msg_text
        ranked["bm25"] = bm25_rank(case.question.text, {i: texts[i] for i in case.candidates})
        matrix = vectors[[index[i] for i in case.candidates]]
        ranked["cosine"] = cosine_rank(qvecs[qindex[id(case.question)]], case.candidates, matrix)
        for system in systems:
            for group in ("all", case.question.type):
                scores[(case.scope, system, group)].add(ranked[system], case.gold, case.stale)
        if case.scope == "workspace" and found:
            ws_first["n"] += 1
            top = msg_peer.get(found[0]["id"])
            if top == ASSISTANT:
                ws_first["assistant"] += 1
            elif top != case.question.user:
                ws_first["other_user"] += 1

    result: dict[str, Any] = {
        "questions": len(data.questions),
        "messages": len(data.messages),
        "conclusions": len(data.conclusions),
        "no_shared_word": sum(shares_no_word(data, q) for q in data.questions),
        "scores": {f"{s}/{sys_}/{g}": v.row() for (s, sys_, g), v in sorted(scores.items())},
        "workspace_first": ws_first,
    }
    if args.sweep:
        return result
    result["latency"] = await latency(client, timer, all_cases, app.state.engine)
    if args.pad:
        print(f"padding with {args.pad} filler messages", flush=True)
        await pad(client, args.pad)
        await wait_embedded(app.state.engine, len(data.messages) + args.pad)
        async with app.state.engine.begin() as conn:
            from sqlalchemy import text

            await conn.execute(text("ANALYZE"))
        result["latency_padded"] = await latency(client, timer, all_cases, app.state.engine)
    return result


async def sweep(args: argparse.Namespace, app: Any, client: httpx.AsyncClient, data: Data) -> None:
    """Score the server under each set of ranking weights in ``--sweep`` (a JSON list of
    overrides of :class:`honcho_server.services.ranking.Weights`)."""
    from honcho_server.services import ranking

    default, concl = ranking.DEFAULT_WEIGHTS, ranking.CONCLUSION_WEIGHTS
    for overrides in json.loads(args.sweep.read_text()):
        mine = {k: v for k, v in overrides.items() if not k.startswith("conclusion_")}
        theirs = {k[11:]: v for k, v in overrides.items() if k.startswith("conclusion_")}
        ranking.DEFAULT_WEIGHTS = ranking.Weights(**{**default.__dict__, **mine})
        ranking.CONCLUSION_WEIGHTS = ranking.Weights(**{**concl.__dict__, **theirs})
        result = await evaluate(args, app, client, data)
        cells = []
        for scope in SCOPES:
            row = result["scores"][f"{scope}/server/all"]
            know = result["scores"].get(f"{scope}/server/knowledge", {})
            cells.append(
                f"{scope[:4]} {row['r@1']:.3f}/{row['mrr']:.3f} nf{row['newer_first'] or 0:.2f}"
                f" k{know.get('r@1') or 0:.2f}"
            )
        ws = result["workspace_first"]
        print(overrides, " | ".join(cells), f"asst {ws['assistant']}", flush=True)
    ranking.DEFAULT_WEIGHTS, ranking.CONCLUSION_WEIGHTS = default, concl


def report(result: dict[str, Any]) -> None:
    print(
        f"\n{result['questions']} questions ({result['no_shared_word']} share no content word "
        f"with their evidence), {result['messages']} messages, {result['conclusions']} "
        "conclusions\n"
    )
    scores = result["scores"]
    print(
        f"{'scope':12} {'system':7} {'n':>4} {'r@1':>6} {'r@5':>6} {'r@10':>6} {'MRR':>6} "
        f"{'newer':>6}"
    )
    for scope in SCOPES:
        for system in ("server", "cosine", "bm25"):
            row = scores.get(f"{scope}/{system}/all")
            if row:
                print(
                    f"{scope:12} {system:7} {row['n']:>4} {row['r@1']:>6} {row['r@5']:>6} "
                    f"{row['r@10']:>6} {row['mrr']:>6} {row['newer_first'] or '':>6}"
                )
    print("\nserver recall@1 / MRR by question type")
    print(f"{'scope':12} " + " ".join(f"{t:>16}" for t in TYPES))
    for scope in SCOPES:
        cells = []
        for t in TYPES:
            row = scores.get(f"{scope}/server/{t}")
            cells.append(f"{row['r@1']:.2f}/{row['mrr']:.2f} (n{row['n']})" if row else "-")
        print(f"{scope:12} " + " ".join(f"{c:>16}" for c in cells))
    ws = result["workspace_first"]
    if ws["n"]:
        print(
            f"\nworkspace search #1 is an assistant message in {ws['assistant']}/{ws['n']}, "
            f"another user's in {ws['other_user']}/{ws['n']}"
        )
    for key in ("latency", "latency_padded"):
        if key in result:
            print(
                f"\n{key} (in-process, 1 client): "
                + ", ".join(
                    f"{s} p50 {v['p50_ms']} ms (statements {v['db_ms_p50']} ms, "
                    f"Postgres {v['pg_ms_mean']} ms)"
                    for s, v in result[key].items()
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="an existing, empty-able PostgreSQL database")
    parser.add_argument("--pad", type=int, default=0, help="filler messages for latency")
    parser.add_argument("--json", type=Path, help="write the full result here")
    parser.add_argument("--sweep", type=Path, help="JSON list of ranking weight overrides")
    args = parser.parse_args()
    from honcho_server.db.migrate import upgrade

    embedded = tmp = None
    url = args.database_url
    if url is None:
        from honcho_server.db.embedded.server import EmbeddedPostgres

        tmp = Path(tempfile.mkdtemp(prefix="honcho-retrieval-"))
        tmp.chmod(0o711)
        embedded = EmbeddedPostgres(tmp)
        url = embedded.start()
    try:
        upgrade(url)
        result = asyncio.run(run(args, url))
    finally:
        if embedded is not None:
            embedded.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
