// my-store.spec.ts: the conformance suite MemoryStore and RedisStore pass, run on MapStore.
// Run with: npx mocha -n import=tsx my-store.spec.ts
import { testStore } from 'wx-session/testing';
import { MapStore } from './my-store.js';

describe('MapStore', () => {
  testStore(() => new MapStore());
});
