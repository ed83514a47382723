export * from './mock-wechat.js';
