// The same suite under node:test: node --import tsx --test my-store.node-test.ts
import { afterEach, describe, it } from 'node:test';
import { testStore } from 'wx-session/testing';
import { MapStore } from './my-store.js';

testStore(() => new MapStore(), { describe, it, afterEach, title: 'MapStore' });
