// @honcho-ai/core 1.8.0 (the Stainless TypeScript client of the v2 API) against a live server.
// argv: base URL, workspace, API key. Asserts each step; prints its findings as one JSON line.
import assert from "node:assert/strict";
import Honcho from "@honcho-ai/core";

const [baseURL, ws, apiKey] = process.argv.slice(2);
const client = new Honcho({ baseURL, apiKey, maxRetries: 0 });
const w = client.workspaces;

const workspace = await w.getOrCreate({ id: ws, metadata: { from: "ts" } });
assert.equal(workspace.id, ws);
for (const id of ["alice", "bob"]) await w.peers.getOrCreate(ws, { id });
const session = await w.sessions.getOrCreate(ws, { id: "s1", peers: { alice: {}, bob: {} } });
assert.equal(session.is_active, true);

const made = await w.sessions.messages.create(ws, "s1", {
  messages: [
    { peer_id: "alice", content: "I moved to Lisbon last spring." },
    { peer_id: "bob", content: "Do you miss Berlin?" },
    { peer_id: "alice", content: "Not the winters." },
  ],
});
assert.equal(made.length, 3);
const byAlice = await w.sessions.messages.list(ws, "s1", { filters: { peer_id: "alice" } });
assert.equal(byAlice.items.length, 2);
assert.equal(byAlice.total, 2);
const reversed = await w.sessions.messages.list(ws, "s1", { reverse: true, size: 1 });
assert.equal(reversed.items[0].content, "Not the winters.");

const context = await w.sessions.getContext(ws, "s1", { tokens: 12 });
assert.ok(context.messages.length > 0 && context.messages.length < 3, `${context.messages.length}`);
assert.equal(context.messages.at(-1).id, made.at(-1).id);

const hits = await w.sessions.search(ws, "s1", { query: "Berlin" });
assert.ok(hits.some((m) => m.content.includes("Berlin")));
const peerHits = await w.peers.search(ws, "alice", { query: "Lisbon" });
assert.ok(peerHits.every((m) => m.peer_id === "alice") && peerHits.length > 0);

const observations = await w.observations.create(ws, {
  observations: [
    { content: "alice lives in Lisbon", observer_id: "alice", observed_id: "alice", session_id: "s1" },
  ],
});
assert.equal(observations[0].session_id, "s1");
const listed = await w.observations.list(ws, { filters: { observer_id: "alice" } });
assert.equal(listed.items.length, 1);
const rep = await w.peers.workingRepresentation(ws, "alice", {});
assert.deepEqual(rep.explicit.map((o) => o.content), ["alice lives in Lisbon"]);
assert.equal(rep.explicit[0].session_name, "s1");
const withRep = await w.sessions.getContext(ws, "s1", { peer_target: "alice", tokens: 2000 });
assert.equal(withRep.peer_representation.explicit[0].content, "alice lives in Lisbon");

const answer = await w.peers.chat(ws, "alice", { query: "Where does alice live?" });
assert.equal(answer.content, "Alice loves hiking.");
const status = await w.deriverStatus(ws);
assert.equal(status.pending_work_units, 0);

let notFound = null;
try {
  await w.sessions.messages.retrieve(ws, "s1", "nope");
} catch (err) {
  notFound = err;
}
assert.ok(notFound instanceof Honcho.NotFoundError, String(notFound));

const all = await w.sessions.messages.list(ws, "s1");
console.log(JSON.stringify({ messages: all.items.map((m) => m.content) }));
