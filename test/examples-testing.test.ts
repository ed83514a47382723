// examples/testing/game-server.test.ts, the example of testing a game server with the mock WeChat
// (mocha + supertest against the Express example), runs with the suite: its describe() is
// registered by importing it.
import '../examples/testing/game-server.test.js';
