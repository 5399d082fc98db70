// Dialectic chat through the official TypeScript SDK (@honcho-ai/sdk).
//
// Usage:  node chat.mjs BASE_URL WORKSPACE_ID
//
// The Python test (tests/sdk/test_typescript_sdk.py) seeds the workspace with one conclusion
// about alice and scripts the fake LLM's answers; this script asks, streams and checks.
// Exit 0 means every step passed.

import assert from 'node:assert/strict';
import process from 'node:process';

import { Honcho } from '@honcho-ai/sdk';

const [baseURL, workspaceId] = process.argv.slice(2);
if (!baseURL || !workspaceId) {
  console.error('usage: node chat.mjs BASE_URL WORKSPACE_ID');
  process.exit(2);
}

const honcho = new Honcho({ baseURL, workspaceId, maxRetries: 0 });
let step = 'start';

try {
  const alice = await honcho.peer('alice');

  step = 'chat';
  assert.equal(await alice.chat('What does alice drink?'), 'Green tea.');

  step = 'chat with evidence';
  const withEvidence = await alice.chat('Drink?', { includeEvidence: true, reasoningLevel: 'minimal' });
  assert.equal(withEvidence.content, 'Tea again.');
  assert.deepEqual(withEvidence.evidence.conclusions.map((c) => c.content), ['alice likes green tea']);

  step = 'chatStream';
  const stream = await alice.chatStream('Drink?', { reasoningLevel: 'high' });
  const pieces = [];
  for await (const piece of stream) pieces.push(piece);
  assert.ok(pieces.length > 1, `expected several chunks, got ${JSON.stringify(pieces)}`);
  assert.equal(pieces.join(''), 'Green tea, every single morning.');

  console.log('chat steps passed');
} catch (error) {
  console.error(`step "${step}" failed:`, error?.status ?? '', error?.message ?? error);
  process.exit(1);
}
