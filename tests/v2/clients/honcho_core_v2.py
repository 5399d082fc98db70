"""The Stainless ``honcho-core`` 1.8.0 client (the v2 routes, raw) against a live server.
Runs in the v2 client venv; argv: base URL, workspace, API key. Prints its findings as JSON."""

from __future__ import annotations

import json
import sys

from honcho_core import Honcho, NotFoundError, UnprocessableEntityError

base_url, ws, api_key = sys.argv[1:4]
client = Honcho(base_url=base_url, api_key=api_key, max_retries=0)
w = client.workspaces

workspace = w.get_or_create(id=ws, metadata={"tier": "old"})
assert workspace.id == ws and workspace.metadata == {"tier": "old"}
assert ws in [x.id for x in w.list(filters={"id": ws})]
for peer in ("alice", "bob"):
    w.peers.get_or_create(ws, id=peer)
session = w.sessions.get_or_create(ws, id="s1", peers={"alice": {}, "bob": {}})
assert session.id == "s1" and session.is_active

made = w.sessions.messages.create(
    "s1",
    workspace_id=ws,
    messages=[
        {"peer_id": "alice", "content": "I moved to Lisbon last spring."},
        {"peer_id": "bob", "content": "How is the weather there?"},
        {"peer_id": "alice", "content": "Sunny, and I hike every weekend."},
    ],
)
assert [m.peer_id for m in made] == ["alice", "bob", "alice"]
page = w.sessions.messages.list("s1", workspace_id=ws, filters={"peer_id": "alice"})
assert page.items[0].content == "I moved to Lisbon last spring."
assert page.total == 2
one = w.sessions.messages.retrieve(made[1].id, workspace_id=ws, session_id="s1")
assert one.content == "How is the weather there?"

context = w.sessions.get_context("s1", workspace_id=ws, tokens=15)
assert 0 < len(context.messages) < 3 and context.messages[-1].id == made[-1].id
assert w.sessions.summaries("s1", workspace_id=ws).id == "s1"
assert any("Lisbon" in m.content for m in w.sessions.search("s1", workspace_id=ws, query="Lisbon"))

w.peers.set_card("alice", workspace_id=ws, peer_card=["Name: Alice", "Lives in Lisbon"])
assert w.peers.card("alice", workspace_id=ws).peer_card == ["Name: Alice", "Lives in Lisbon"]
obs = w.observations.create(
    ws,
    observations=[
        {
            "content": "alice lives in Lisbon",
            "observer_id": "alice",
            "observed_id": "alice",
            "session_id": "s1",
        }
    ],
)
assert obs[0].session_id == "s1"
rep = w.peers.working_representation("alice", workspace_id=ws, session_id="s1")
assert [o["content"] for o in rep["explicit"]] == ["alice lives in Lisbon"]
peer_context = w.peers.get_context("alice", workspace_id=ws)
assert peer_context.peer_card == ["Name: Alice", "Lives in Lisbon"]
assert peer_context.representation is not None
assert peer_context.representation.explicit[0].session_name == "s1"
with_rep = w.sessions.get_context("s1", workspace_id=ws, peer_target="alice")
assert with_rep.peer_representation is not None
assert with_rep.peer_representation.explicit[0].content == "alice lives in Lisbon"
assert with_rep.peer_card == ["Name: Alice", "Lives in Lisbon"]

answer = w.peers.chat("alice", workspace_id=ws, query="Where does alice live?")
assert answer.content == "Alice loves hiking.", answer
status = w.deriver_status(ws)
assert status.pending_work_units == 0
w.trigger_dream(ws, observer="alice", dream_type="consolidate")

clone = w.sessions.clone("s1", workspace_id=ws, message_id=made[1].id)
clone_messages = w.sessions.messages.list(clone.id, workspace_id=ws)
assert [m.content for m in clone_messages.items] == [m.content for m in made[:2]]

# errors keep their meaning: an absent message is a 404, a bad body a 422
try:
    w.sessions.messages.retrieve("nope", workspace_id=ws, session_id="s1")
    raise AssertionError("expected a 404")
except NotFoundError:
    pass
try:
    w.sessions.messages.create("s1", workspace_id=ws, messages=[])
    raise AssertionError("expected a 422")
except UnprocessableEntityError:
    pass

listed = w.sessions.messages.list("s1", workspace_id=ws)
print(json.dumps({"messages": [m.content for m in listed.items]}))
