// The two deletes beyond upstream (one message; erasing a peer) through the official
// TypeScript SDK's generic HTTP helper (`honcho.http`), which reaches routes it has no method
// for.
//
// Usage:  node deletes.mjs BASE_URL WORKSPACE_ID   (a fresh workspace)
// Exit 0 and "deletes steps passed" when every assertion held.

import assert from 'node:assert/strict';
import process from 'node:process';

import { Honcho } from '@honcho-ai/sdk';

const [baseURL, workspaceId] = process.argv.slice(2);
if (!baseURL || !workspaceId) {
  console.error('usage: node deletes.mjs BASE_URL WORKSPACE_ID');
  process.exit(2);
}
const honcho = new Honcho({ baseURL, workspaceId, maxRetries: 0, timeout: 30_000 });
const w = `/v3/workspaces/${workspaceId}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const session = await honcho.session('s1');
  const created = await session.addMessages([
    alice.message('alice one'),
    bob.message('bob one'),
    alice.message('alice two'),
  ]);

  // one message: 204, gone at once, the others keep their order
  await honcho.http.delete(`${w}/sessions/s1/messages/${created[1].id}`);
  let page = await session.messages();
  assert.deepEqual(page.items.map((m) => m.id), [created[0].id, created[2].id]);

  // a peer: 202 with a message, then its messages go; bob stays
  await session.addMessages([bob.message('bob two')]);
  const accepted = await honcho.http.delete(`${w}/peers/alice`);
  assert.deepEqual(accepted, { message: 'Peer erasure accepted' });
  for (let i = 0; i < 200; i += 1) {
    page = await session.messages();
    if (page.items.every((m) => m.peerId === 'bob')) break;
    await sleep(50);
  }
  assert.deepEqual(page.items.map((m) => m.content), ['bob two']);
  const peers = await honcho.peers();
  assert.deepEqual(peers.items.map((p) => p.id), ['bob']);
  console.log('deletes steps passed');
} catch (error) {
  console.error('FAILED:', error?.status ?? '', error?.message ?? error, error?.body ?? '');
  process.exit(1);
}
