// Smoke test: the official TypeScript SDK (@honcho-ai/sdk) against a live honcho-server.
//
// Usage:  node smoke.mjs BASE_URL WORKSPACE_ID
//    or:  HONCHO_URL=... HONCHO_WORKSPACE_ID=... node smoke.mjs
//
// The workspace should be fresh (unused): the script asserts exact peer and session sets.
// Every check is a node:assert/strict assertion; the first failure prints the step that
// failed (with the SDK error's status and body, if any) and exits 1. Exit 0 means all passed.
//
// Plain ESM JavaScript on purpose: no TypeScript compiler is needed to run it.

import assert from 'node:assert/strict';
import process from 'node:process';

import { Honcho, HonchoError, Message, NotFoundError, Page, Peer, Session } from '@honcho-ai/sdk';

const baseURL = process.argv[2] ?? process.env.HONCHO_URL;
const workspaceId = process.argv[3] ?? process.env.HONCHO_WORKSPACE_ID;
if (!baseURL || !workspaceId) {
  console.error('usage: node smoke.mjs BASE_URL WORKSPACE_ID (or set HONCHO_URL and HONCHO_WORKSPACE_ID)');
  process.exit(2);
}

const honcho = new Honcho({
  baseURL,
  workspaceId,
  apiKey: process.env.HONCHO_API_KEY || undefined,
  // No retries: a 5xx must fail the smoke test, not be papered over by a lucky retry.
  maxRetries: 0,
  timeout: 30_000,
});

let current = '(setup)';
let passed = 0;

async function step(name, fn) {
  current = name;
  await fn();
  passed += 1;
  console.log(`ok ${passed} - ${name}`);
}

const ids = (items) => items.map((item) => item.id).sort();
const sameInstant = (actual, expected, what) =>
  assert.equal(
    new Date(actual).getTime(),
    new Date(expected).getTime(),
    `${what}: ${actual} is not the same instant as ${expected}`,
  );

async function collect(page) {
  const out = [];
  for await (const item of page) out.push(item);
  return out;
}

async function main() {
  let alice;
  let bob;
  let carol;
  let session;
  let other;
  let created;

  await step('workspace get-or-create and metadata round trip', async () => {
    assert.equal(honcho.workspaceId, workspaceId);
    assert.deepEqual(await honcho.getMetadata(), {});
    await honcho.setMetadata({ suite: 'ts-smoke', nested: { n: 1, list: [1, 'two', null] } });
    assert.deepEqual(await honcho.getMetadata(), {
      suite: 'ts-smoke',
      nested: { n: 1, list: [1, 'two', null] },
    });
    assert.deepEqual(honcho.metadata, { suite: 'ts-smoke', nested: { n: 1, list: [1, 'two', null] } });
  });

  await step('workspaces() lists this workspace', async () => {
    const page = await honcho.workspaces({ filters: { id: workspaceId } });
    assert.ok(page instanceof Page);
    assert.deepEqual(page.items, [workspaceId]);
    assert.equal(page.total, 1);
  });

  await step('create peers with metadata and configuration', async () => {
    alice = await honcho.peer('alice', { metadata: { role: 'user', age: 30 } });
    assert.ok(alice instanceof Peer);
    assert.equal(alice.id, 'alice');
    assert.equal(alice.workspaceId, workspaceId);
    assert.deepEqual(alice.metadata, { role: 'user', age: 30 });
    assert.ok(alice.createdAt, 'peer.createdAt is set after get-or-create');
    assert.ok(!Number.isNaN(Date.parse(alice.createdAt)), `bad createdAt ${alice.createdAt}`);

    bob = await honcho.peer('bob', {
      metadata: { role: 'assistant' },
      configuration: { observeMe: false },
    });
    assert.deepEqual(bob.metadata, { role: 'assistant' });
    assert.equal(bob.configuration?.observeMe, false);

    carol = await honcho.peer('carol');
    assert.deepEqual(carol.metadata ?? {}, {});
  });

  await step('peer get-or-create is idempotent and keeps metadata', async () => {
    const again = await honcho.peer('alice');
    assert.deepEqual(again.metadata, { role: 'user', age: 30 });
    sameInstant(again.createdAt, alice.createdAt, 'alice createdAt on re-fetch');
  });

  await step('peer metadata get/set', async () => {
    assert.deepEqual(await alice.getMetadata(), { role: 'user', age: 30 });
    await alice.setMetadata({ role: 'user', tier: 'gold' });
    assert.deepEqual(alice.metadata, { role: 'user', tier: 'gold' });
    assert.deepEqual(await alice.getMetadata(), { role: 'user', tier: 'gold' });
    assert.deepEqual((await honcho.peer('alice')).metadata, { role: 'user', tier: 'gold' });
  });

  await step('peer configuration get/set', async () => {
    assert.equal((await bob.getConfiguration()).observeMe, false);
    await carol.setConfiguration({ observeMe: false });
    assert.equal((await carol.getConfiguration()).observeMe, false);
    await carol.setConfiguration({ observeMe: true });
    assert.equal((await carol.getConfiguration()).observeMe, true);
  });

  await step('create session with metadata and an initial peer', async () => {
    session = await honcho.session('s-main', {
      metadata: { topic: 'smoke' },
      peers: ['carol'],
    });
    assert.ok(session instanceof Session);
    assert.equal(session.id, 's-main');
    assert.deepEqual(session.metadata, { topic: 'smoke' });
    assert.ok(session.createdAt, 'session.createdAt is set after get-or-create');
    assert.equal(session.isActive, true);
    assert.deepEqual(ids(await session.peers()), ['carol']);
  });

  await step('add peers with session peer configs', async () => {
    await session.addPeers([
      [alice, { observeMe: true, observeOthers: true }],
      [bob, { observeMe: false, observeOthers: false }],
    ]);
    const members = await session.peers();
    assert.deepEqual(ids(members), ['alice', 'bob', 'carol']);
    assert.ok(members.every((p) => p instanceof Peer));
    assert.deepEqual(members.find((p) => p.id === 'alice').metadata, { role: 'user', tier: 'gold' });
  });

  await step('read and write session peer configs', async () => {
    assert.deepEqual(await session.getPeerConfiguration(alice), {
      observeMe: true,
      observeOthers: true,
    });
    assert.deepEqual(await session.getPeerConfiguration('bob'), {
      observeMe: false,
      observeOthers: false,
    });
    await session.setPeerConfiguration(bob, { observeOthers: true });
    const bobConfig = await session.getPeerConfiguration(bob);
    assert.equal(bobConfig.observeOthers, true);
    await session.setPeerConfiguration('carol', { observeMe: false, observeOthers: true });
    assert.deepEqual(await session.getPeerConfiguration('carol'), {
      observeMe: false,
      observeOthers: true,
    });
  });

  const custom = '2021-03-04T05:06:07.123Z';

  await step('add messages with metadata and a custom created_at', async () => {
    const before = Date.now();
    created = await session.addMessages([
      alice.message('Hi Bob, I had oatmeal for breakfast.', { metadata: { topic: 'food', n: 1 } }),
      bob.message('Oatmeal is a fine choice.', { metadata: { topic: 'food', n: 2 } }),
      alice.message('Back in 2021 I ate cereal.', { metadata: { topic: 'history' }, createdAt: custom }),
      carol.message('Hello both!'),
    ]);
    assert.equal(created.length, 4);
    assert.ok(created.every((m) => m instanceof Message));
    assert.equal(new Set(created.map((m) => m.id)).size, 4, 'message ids are unique');
    assert.deepEqual(
      created.map((m) => [m.peerId, m.content]),
      [
        ['alice', 'Hi Bob, I had oatmeal for breakfast.'],
        ['bob', 'Oatmeal is a fine choice.'],
        ['alice', 'Back in 2021 I ate cereal.'],
        ['carol', 'Hello both!'],
      ],
    );
    for (const m of created) {
      assert.equal(typeof m.id, 'string');
      assert.equal(m.sessionId, 's-main');
      assert.equal(m.workspaceId, workspaceId);
      assert.ok(Number.isInteger(m.tokenCount) && m.tokenCount > 0, `tokenCount ${m.tokenCount}`);
    }
    assert.deepEqual(created[0].metadata, { topic: 'food', n: 1 });
    assert.deepEqual(created[3].metadata, {});
    sameInstant(created[2].createdAt, custom, 'custom created_at');
    const stamped = new Date(created[0].createdAt).getTime();
    assert.ok(stamped >= before - 60_000 && stamped <= Date.now() + 60_000, `server time ${created[0].createdAt}`);
  });

  await step('add a second batch so listing spans pages', async () => {
    const more = await session.addMessages(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? bob : alice).message(`filler ${i}`, { metadata: { filler: true, i } })),
    );
    assert.equal(more.length, 6);
    created = [...created, ...more];
  });

  await step('list messages: first page, totals and ordering', async () => {
    const page = await session.messages();
    assert.ok(page instanceof Page);
    assert.equal(page.total, 10);
    assert.equal(page.length, 10);
    assert.equal(page.page, 1);
    assert.equal(page.hasNextPage, false);
    assert.deepEqual([...page.items.map((m) => m.id)].sort(), [...created.map((m) => m.id)].sort());
    const listed = page.items.find((m) => m.id === created[2].id);
    sameInstant(listed.createdAt, custom, 'custom created_at in listing');
    assert.deepEqual(listed.metadata, { topic: 'history' });

    const reversed = await session.messages({ reverse: true });
    assert.deepEqual(
      reversed.items.map((m) => m.id),
      [...page.items.map((m) => m.id)].reverse(),
      'reverse: true lists the same messages in the opposite order',
    );
  });

  await step('list messages: pagination via getNextPage and async iteration', async () => {
    const all = (await session.messages()).items.map((m) => m.id);
    const first = await session.messages({ size: 3 });
    assert.equal(first.size, 3);
    assert.equal(first.total, 10);
    assert.equal(first.pages, 4);
    assert.equal(first.length, 3);
    assert.equal(first.hasNextPage, true);

    const walked = [];
    let page = first;
    let count = 0;
    while (page) {
      count += 1;
      walked.push(...page.items.map((m) => m.id));
      page = await page.getNextPage();
    }
    assert.equal(count, 4);
    assert.deepEqual(walked, all, 'pages of 3 concatenate to the unpaged listing');

    const iterated = await collect(await session.messages({ size: 3 }));
    assert.deepEqual(iterated.map((m) => m.id), all, 'for await over a Page walks all pages');
    assert.deepEqual((await (await session.messages({ size: 4 })).toArray()).map((m) => m.id), all);

    const third = await session.messages({ page: 3, size: 3 });
    assert.equal(third.page, 3);
    assert.deepEqual(third.items.map((m) => m.id), all.slice(6, 9));
  });

  await step('list messages with filters', async () => {
    const food = await session.messages({ filters: { metadata: { topic: 'food' } } });
    assert.deepEqual(ids(food.items), [created[0].id, created[1].id].sort());
    const byCarol = await session.messages({ filters: { peer_id: 'carol' } });
    assert.deepEqual(byCarol.items.map((m) => m.content), ['Hello both!']);
  });

  await step('get a message and update its metadata', async () => {
    const fetched = await session.getMessage(created[1].id);
    assert.ok(fetched instanceof Message);
    assert.equal(fetched.id, created[1].id);
    assert.equal(fetched.content, 'Oatmeal is a fine choice.');
    assert.equal(fetched.peerId, 'bob');
    assert.deepEqual(fetched.metadata, { topic: 'food', n: 2 });

    const updated = await session.updateMessage(fetched, { topic: 'food', n: 2, edited: true });
    assert.ok(updated instanceof Message);
    assert.deepEqual(updated.metadata, { topic: 'food', n: 2, edited: true });
    assert.equal(updated.content, fetched.content);
    sameInstant(updated.createdAt, fetched.createdAt, 'createdAt after metadata update');

    const byId = await session.updateMessage(created[3].id, { greeting: true });
    assert.deepEqual(byId.metadata, { greeting: true });
    assert.deepEqual((await session.getMessage(created[1].id)).metadata, {
      topic: 'food',
      n: 2,
      edited: true,
    });
  });

  await step('a missing message surfaces as NotFoundError', async () => {
    await assert.rejects(
      () => session.getMessage('no-such-message-id'),
      (err) => {
        assert.ok(err instanceof NotFoundError, `expected NotFoundError, got ${err?.constructor?.name}: ${err?.message}`);
        assert.ok(err instanceof HonchoError);
        assert.equal(err.status, 404);
        return true;
      },
    );
  });

  await step('session metadata get/set', async () => {
    assert.deepEqual(await session.getMetadata(), { topic: 'smoke' });
    await session.setMetadata({ topic: 'smoke', stage: 2, tags: ['a', 'b'] });
    assert.deepEqual(session.metadata, { topic: 'smoke', stage: 2, tags: ['a', 'b'] });
    assert.deepEqual(await session.getMetadata(), { topic: 'smoke', stage: 2, tags: ['a', 'b'] });
    assert.deepEqual((await honcho.session('s-main')).metadata, { topic: 'smoke', stage: 2, tags: ['a', 'b'] });
  });

  await step('second session via setPeers', async () => {
    other = await honcho.session('s-other');
    assert.deepEqual(await other.peers(), []);
    await other.setPeers(['alice', [carol, { observeOthers: true }]]);
    assert.deepEqual(ids(await other.peers()), ['alice', 'carol']);
    await other.setPeers([bob]);
    assert.deepEqual(ids(await other.peers()), ['bob']);
  });

  await step('list peers of the workspace', async () => {
    const page = await honcho.peers();
    assert.ok(page instanceof Page);
    assert.equal(page.total, 3);
    assert.deepEqual(ids(page.items), ['alice', 'bob', 'carol']);
    assert.ok(page.items.every((p) => p instanceof Peer));
    assert.deepEqual(page.items.find((p) => p.id === 'bob').metadata, { role: 'assistant' });

    const small = await honcho.peers({ size: 2 });
    assert.equal(small.length, 2);
    assert.equal(small.pages, 2);
    assert.deepEqual(ids(await collect(small)), ['alice', 'bob', 'carol']);

    const users = await honcho.peers({ filters: { metadata: { role: 'user' } } });
    assert.deepEqual(ids(users.items), ['alice']);
  });

  await step('list sessions of the workspace and of a peer', async () => {
    const page = await honcho.sessions();
    assert.ok(page instanceof Page);
    assert.equal(page.total, 2);
    assert.deepEqual(ids(page.items), ['s-main', 's-other']);
    assert.ok(page.items.every((s) => s instanceof Session));
    assert.deepEqual(page.items.find((s) => s.id === 's-main').metadata, {
      topic: 'smoke',
      stage: 2,
      tags: ['a', 'b'],
    });

    const bobSessions = await bob.sessions({ size: 1 });
    assert.equal(bobSessions.total, 2);
    assert.deepEqual(ids(await collect(bobSessions)), ['s-main', 's-other']);
    // Like upstream Honcho, a peer's session list covers every session it ever joined:
    // alice was replaced out of s-other by setPeers but still lists it.
    assert.deepEqual(ids((await alice.sessions()).items), ['s-main', 's-other']);
  });

  await step('remove a peer from a session', async () => {
    await session.removePeers(carol);
    assert.deepEqual(ids(await session.peers()), ['alice', 'bob']);
    // Leaving keeps the membership history (upstream semantics), so s-main is still listed.
    assert.deepEqual(ids((await carol.sessions()).items), ['s-main', 's-other']);
    // The peer itself still exists in the workspace, and its messages stay in the session.
    assert.deepEqual(ids((await honcho.peers()).items), ['alice', 'bob', 'carol']);
    const carolMessages = await session.messages({ filters: { peer_id: 'carol' } });
    assert.equal(carolMessages.total, 1);
  });
}

try {
  await main();
  console.log(`all ${passed} smoke steps passed against ${baseURL} (workspace ${workspaceId})`);
} catch (err) {
  console.error(`\nFAILED in step: ${current}`);
  if (err instanceof HonchoError) {
    console.error(`${err.constructor.name} (HTTP ${err.status}): ${err.message}`);
    if (err.body !== undefined) console.error(`response body: ${JSON.stringify(err.body, null, 2)}`);
  }
  console.error(err?.stack ?? err);
  process.exitCode = 1;
}
