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

import {
  Conclusion,
  ConflictError,
  Honcho,
  HonchoError,
  Message,
  NotFoundError,
  Page,
  Peer,
  Session,
  SessionContext,
} from '@honcho-ai/sdk';

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

const NANOID = /^[A-Za-z0-9_-]{21}$/;
const EXPLICIT_HEADER = '## Explicit Observations\n\n';
// `[YYYY-MM-DD HH:MM:SS] content` — the server's rendering of an explicit conclusion.
const explicitLine = (conclusion) =>
  `[${new Date(conclusion.createdAt).toISOString().slice(0, 19).replace('T', ' ')}] ${conclusion.content}`;

async function rejectsWith(fn, ErrorClass, status) {
  await assert.rejects(fn, (err) => {
    assert.ok(err instanceof ErrorClass, `expected ${ErrorClass.name}, got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, status);
    return true;
  });
}

// The newest messages whose token counts fit `budget`, oldest first; the walk stops at the
// first message that would overflow.
function newestFitting(messages, budget) {
  const taken = [];
  let used = 0;
  for (const m of [...messages].reverse()) {
    if (used + m.tokenCount > budget) break;
    used += m.tokenCount;
    taken.unshift(m);
  }
  return taken;
}

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

  let ownConclusions;
  let aboutBob;

  await step('conclusions: create for self and about another peer', async () => {
    ownConclusions = await alice.conclusions.create([
      { content: 'Alice eats oatmeal for breakfast', sessionId: 's-main' },
      { content: 'Alice is a morning person' },
    ]);
    assert.equal(ownConclusions.length, 2);
    assert.ok(ownConclusions.every((c) => c instanceof Conclusion));
    assert.deepEqual(
      ownConclusions.map((c) => [c.content, c.observerId, c.observedId, c.sessionId, c.level]),
      [
        ['Alice eats oatmeal for breakfast', 'alice', 'alice', 's-main', 'explicit'],
        ['Alice is a morning person', 'alice', 'alice', null, 'explicit'],
      ],
    );
    assert.ok(ownConclusions.every((c) => NANOID.test(c.id)), 'conclusion ids are nanoids');
    assert.ok(ownConclusions.every((c) => !Number.isNaN(Date.parse(c.createdAt))));

    aboutBob = await alice.conclusionsOf(bob).create({ content: 'Bob approves of oatmeal', sessionId: session });
    assert.deepEqual(
      aboutBob.map((c) => [c.content, c.observerId, c.observedId, c.sessionId]),
      [['Bob approves of oatmeal', 'alice', 'bob', 's-main']],
    );
  });

  await step('conclusions: list, get and representation per peer pair', async () => {
    const own = await alice.conclusions.list();
    assert.ok(own instanceof Page);
    assert.equal(own.total, 2);
    assert.deepEqual(ids(own.items), ids(ownConclusions));
    const inMain = await alice.conclusions.list({ session: 's-main' });
    assert.deepEqual(inMain.items.map((c) => c.content), ['Alice eats oatmeal for breakfast']);
    assert.deepEqual(ids((await alice.conclusionsOf('bob').list()).items), ids(aboutBob));
    assert.deepEqual((await bob.conclusions.list()).items, []);
    assert.equal((await alice.conclusions.get(ownConclusions[1].id)).content, 'Alice is a morning person');

    const rep = await alice.representation();
    assert.ok(rep.startsWith(EXPLICIT_HEADER), `representation: ${JSON.stringify(rep)}`);
    assert.deepEqual(
      rep.slice(EXPLICIT_HEADER.length).split('\n').filter(Boolean).sort(),
      ownConclusions.map(explicitLine).sort(),
    );
    assert.equal(await alice.conclusions.representation(), rep);
    const bobRep = `${EXPLICIT_HEADER}${explicitLine(aboutBob[0])}\n`;
    assert.equal(await alice.representation({ target: bob }), bobRep);
    assert.equal(await alice.conclusionsOf(bob).representation(), bobRep);
    assert.equal(await bob.representation({ target: 'carol' }), '');

    const ctx = await alice.context({ target: 'bob' });
    assert.deepEqual([ctx.peerId, ctx.targetId, ctx.representation, ctx.peerCard], ['alice', 'bob', bobRep, null]);
  });

  await step('conclusions: delete', async () => {
    await alice.conclusions.delete(ownConclusions[0].id);
    const own = await alice.conclusions.list();
    assert.deepEqual(ids(own.items), [ownConclusions[1].id]);
    await rejectsWith(() => alice.conclusions.get(ownConclusions[0].id), NotFoundError, 404);
    await rejectsWith(() => alice.conclusions.delete(ownConclusions[0].id), NotFoundError, 404);
    assert.equal(await alice.representation(), `${EXPLICIT_HEADER}${explicitLine(ownConclusions[1])}\n`);
  });

  let budgeted;

  await step('session context: token budget, chronological, newest last', async () => {
    const everything = await session.context();
    assert.ok(everything instanceof SessionContext);
    assert.equal(everything.sessionId, 's-main');
    assert.deepEqual(everything.messages.map((m) => m.id), created.map((m) => m.id));
    assert.equal(everything.summary, null);
    assert.equal(everything.peerRepresentation, null);

    const lastThree = created.slice(-3).reduce((sum, m) => sum + m.tokenCount, 0);
    for (const budget of [1, lastThree - 1, lastThree, lastThree + 1, 40]) {
      const ctx = await session.context({ tokens: budget });
      const expected = newestFitting(created, budget);
      assert.deepEqual(ctx.messages.map((m) => m.id), expected.map((m) => m.id), `tokens=${budget}`);
      const used = ctx.messages.reduce((sum, m) => sum + m.tokenCount, 0);
      assert.ok(used <= budget, `tokens=${budget}: ${used} used`);
      if (ctx.messages.length) assert.equal(ctx.messages.at(-1).id, created.at(-1).id, 'newest last');
      assert.equal(ctx.length, ctx.messages.length);
    }
    budgeted = await session.context({ tokens: lastThree, summary: true });
    assert.deepEqual(budgeted.messages.map((m) => m.content), ['filler 3', 'filler 4', 'filler 5']);
    assert.deepEqual((await session.context({ tokens: 1 })).messages, []);
  });

  await step('session context: toOpenAI and toAnthropic', async () => {
    assert.deepEqual(budgeted.toOpenAI(bob), [
      { role: 'assistant', name: 'bob', content: 'filler 3' },
      { role: 'user', name: 'alice', content: 'filler 4' },
      { role: 'assistant', name: 'bob', content: 'filler 5' },
    ]);
    assert.deepEqual(budgeted.toOpenAI('alice'), [
      { role: 'user', name: 'bob', content: 'filler 3' },
      { role: 'assistant', name: 'alice', content: 'filler 4' },
      { role: 'user', name: 'bob', content: 'filler 5' },
    ]);
    assert.deepEqual(budgeted.toAnthropic('bob'), [
      { role: 'assistant', content: 'filler 3' },
      { role: 'user', content: 'alice: filler 4' },
      { role: 'assistant', content: 'filler 5' },
    ]);

    await alice.setCard(['IDENTITY: Alice']);
    const lastThree = created.slice(-3).reduce((sum, m) => sum + m.tokenCount, 0);
    const targeted = await session.context({ tokens: 5_000, peerTarget: alice });
    const rep = `${EXPLICIT_HEADER}${explicitLine(ownConclusions[1])}\n`;
    assert.equal(targeted.peerRepresentation, rep);
    assert.deepEqual(targeted.peerCard, ['IDENTITY: Alice']);
    assert.deepEqual(targeted.messages.map((m) => m.id), created.map((m) => m.id));
    const openai = targeted.toOpenAI(bob);
    assert.deepEqual(openai.slice(0, 2), [
      { role: 'system', content: `<peer_representation>${rep}</peer_representation>` },
      { role: 'system', content: '<peer_card>IDENTITY: Alice</peer_card>' },
    ]);
    assert.equal(openai.length, 2 + created.length);
    const anthropic = targeted.toAnthropic(bob);
    assert.deepEqual(anthropic[0], { role: 'user', content: `<peer_representation>${rep}</peer_representation>` });
    assert.deepEqual(anthropic.at(-1), { role: 'assistant', content: 'filler 5' });

    // Bob's view of alice: his own (empty) representation and no card.
    const perspective = await session.context({ peerTarget: 'alice', peerPerspective: 'bob', tokens: lastThree });
    assert.equal(perspective.peerRepresentation, '');
    assert.equal(perspective.peerCard, null);
    assert.deepEqual(perspective.messages.map((m) => m.id), created.slice(-3).map((m) => m.id));
  });

  let copy;
  let partial;

  await step('clone a session, whole and up to a message', async () => {
    copy = await session.clone();
    assert.ok(copy instanceof Session);
    assert.ok(NANOID.test(copy.id), `clone id ${copy.id}`);
    assert.notEqual(copy.id, 's-main');
    assert.equal(copy.isActive, true);
    assert.deepEqual(copy.metadata, { topic: 'smoke', stage: 2, tags: ['a', 'b'] });
    const copied = (await copy.messages()).items;
    assert.deepEqual(
      copied.map((m) => [m.peerId, m.content, m.tokenCount, m.sessionId]),
      created.map((m) => [m.peerId, m.content, m.tokenCount, copy.id]),
    );
    assert.ok(copied.every((m) => !created.some((o) => o.id === m.id)), 'copies get new ids');
    sameInstant(copied[2].createdAt, custom, 'custom created_at in the clone');
    assert.deepEqual(ids(await copy.peers()), ['alice', 'bob']);

    partial = await session.clone(created[3].id);
    assert.ok(NANOID.test(partial.id) && partial.id !== copy.id);
    assert.deepEqual(
      (await partial.messages()).items.map((m) => m.content),
      created.slice(0, 4).map((m) => m.content),
    );
    assert.deepEqual(ids((await honcho.sessions()).items), ids([{ id: 's-main' }, { id: 's-other' }, copy, partial]));
    await rejectsWith(() => session.clone('no-such-message-id'), NotFoundError, 404);
  });

  await step('delete sessions: hidden at once; workspace delete needs no active sessions', async () => {
    const copiedIds = (await copy.messages()).items.map((m) => m.id);
    await copy.delete();
    await partial.delete();
    assert.deepEqual(ids((await honcho.sessions()).items), ['s-main', 's-other']);
    assert.deepEqual((await copy.messages()).items, []);
    await rejectsWith(() => copy.getMessage(copiedIds[0]), NotFoundError, 404);
    await rejectsWith(() => copy.delete(), NotFoundError, 404);
    await rejectsWith(() => copy.clone(), NotFoundError, 404);
    assert.equal((await session.messages()).total, 10, 'the source session is untouched');
    await rejectsWith(() => honcho.deleteWorkspace(workspaceId), ConflictError, 409);
    assert.deepEqual((await honcho.workspaces({ filters: { id: workspaceId } })).items, [workspaceId]);
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
