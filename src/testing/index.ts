export * from './mock-wechat.js';
export { testStore, sampleId, sampleRecord } from './store-suite.js';
export type { TestStoreOptions } from './store-suite.js';
