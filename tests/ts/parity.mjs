// Parity with the newest SDKs (issue 12) through the official TypeScript SDK (@honcho-ai/sdk).
//
// Usage:  node parity.mjs BASE_URL WORKSPACE_ID SCENARIO [ARGS...]
//
//   read-your-writes N   create a conclusion, then at once query for it, N times; prints the
//                        misses and exits 1 if there was any
//   derived NURSE_ID     after the Python test ran a derivation: derived(), sourceIds,
//                        timesDerived and getMany() on alice's conclusions
//   card N               an N-entry peer card round trip (own card and card of another peer)
//
// The Python tests (tests/sdk/test_sdk_read_your_writes.py) start the server, build the
// state and run this. Exit 0 means every step passed.

import assert from 'node:assert/strict';
import process from 'node:process';

import { Honcho } from '@honcho-ai/sdk';

const [baseURL, workspaceId, scenario, arg] = process.argv.slice(2);
if (!baseURL || !workspaceId || !scenario) {
  console.error('usage: node parity.mjs BASE_URL WORKSPACE_ID SCENARIO [ARG]');
  process.exit(2);
}

const honcho = new Honcho({ baseURL, workspaceId, maxRetries: 0, timeout: 60_000 });
let step = 'start';

async function readYourWrites(iterations) {
  const alice = await honcho.peer('alice');
  const misses = [];
  for (let i = 0; i < iterations; i += 1) {
    step = `iteration ${i}`;
    const content = `alice (ts) noted item ${i}: a ${['red', 'blue', 'green', 'gold'][i % 4]} ${
      ['kite', 'lamp', 'boat', 'drum', 'vase'][i % 5]} bought on day ${i * 7 + 3}`;
    const [created] = await alice.conclusions.create({ content });
    const found = await alice.conclusions.query(content, 1);
    if (found.length !== 1 || found[0].id !== created.id) misses.push(i);
  }
  console.log(`misses: ${JSON.stringify(misses)}`);
  assert.deepEqual(misses, [], `${misses.length} of ${iterations} queries missed the new conclusion`);
}

async function derived(nurseId) {
  const alice = await honcho.peer('alice');
  step = 'derived(nurse)';
  const page = await alice.conclusions.derived(nurseId);
  const byContent = Object.fromEntries(page.items.map((c) => [c.content, c]));
  assert.deepEqual(Object.keys(byContent).sort(), [
    'alice is a nurse living in Portugal',
    'alice sleeps during the day',
  ]);
  const portugal = byContent['alice is a nurse living in Portugal'];
  assert.equal(portugal.level, 'deductive');
  assert.equal(portugal.sourceIds.length, 2);
  assert.ok(portugal.sourceIds.includes(nurseId));
  assert.equal(portugal.timesDerived, 1);

  step = 'getMany(sourceIds)';
  const premises = await alice.conclusions.getMany(portugal.sourceIds);
  assert.deepEqual(premises.map((c) => c.content).sort(), [
    'alice moved to Lisbon last spring',
    'alice works night shifts as a nurse',
  ]);
  const lisbon = premises.find((c) => c.content.includes('Lisbon'));
  assert.deepEqual(lisbon.sourceIds, []);
  assert.equal(lisbon.timesDerived, 2);

  step = 'workspace getMany and get';
  assert.equal((await honcho.conclusions.getMany(portugal.sourceIds)).length, 2);
  assert.deepEqual((await alice.conclusions.get(portugal.id)).sourceIds, portugal.sourceIds);

  step = 'derived of a leaf, of an unknown id';
  assert.equal((await alice.conclusions.derived(portugal.id)).items.length, 0);
  assert.equal((await alice.conclusions.derived('no-such-conclusion')).items.length, 0);
}

async function card(entries) {
  const carol = await honcho.peer('carol');
  const dave = await honcho.peer('dave');
  step = 'own card';
  const own = Array.from({ length: entries }, (_, i) => `ATTRIBUTE: fact number ${i}`);
  assert.deepEqual(await carol.setCard(own), own);
  assert.deepEqual(await carol.getCard(), own);
  step = 'card of another peer';
  const ofDave = Array.from({ length: entries }, (_, i) => `RELATIONSHIP: ${i}`);
  assert.deepEqual(await carol.setCard(ofDave, dave), ofDave);
  assert.deepEqual(await carol.getCard('dave'), ofDave);
  assert.deepEqual(await carol.getCard(), own);
}

try {
  if (scenario === 'read-your-writes') await readYourWrites(Number(arg ?? 100));
  else if (scenario === 'derived') await derived(arg);
  else if (scenario === 'card') await card(Number(arg ?? 500));
  else throw new Error(`unknown scenario ${scenario}`);
  console.log(`${scenario} steps passed`);
} catch (error) {
  console.error(`step "${step}" failed:`, error?.status ?? '', error?.message ?? error);
  process.exit(1);
}
