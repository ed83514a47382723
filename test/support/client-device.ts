// For the wx-session/client tests: before each test a fresh game server (test/support/client.ts)
// and one device on it (a fake `wx` for OPENID and a session client on the built client, as a game
// imports it), closed after the test; and the counts the tests read.
import { createSessionClient, type SessionClient } from 'wx-session/client';
import { fakeWx, startGameServer, type FakeWx, type GameServer } from './client.js';

/** The client's default storage key. */
export const KEY = 'wx-session-token';
export const OPENID = 'oClientTestUser0000000000001';

export interface Device {
  app: GameServer;
  wx: FakeWx;
  client: SessionClient;
}

/**
 * Starts a game server and a device on it before each test and hands them to `use`, which keeps
 * them in the file's variables: `devicePerTest((device) => ({ app, wx, client } = device))`.
 */
export function devicePerTest(use: (device: Device) => void) {
  let app: GameServer | undefined;
  async function start(extra?: Parameters<typeof startGameServer>[0]): Promise<void> {
    app = await startGameServer(extra);
    const wx = fakeWx(app.mock, OPENID);
    use({ app, wx, client: createSessionClient({ baseUrl: app.url, wx }) });
  }
  beforeEach(() => start());
  afterEach(async () => {
    await app?.close();
  });
  return {
    /** A new server (closing the current one) with these core options, and a new device on it. */
    async restart(extra: Parameters<typeof startGameServer>[0]): Promise<void> {
      await app!.close();
      await start(extra);
    },
    /** POST /wx/login requests the game server received. */
    logins: () => app!.hitsTo('POST', '/wx/login').length,
    /** code2Session calls the mock WeChat received. */
    code2Sessions: () => app!.mock.callsTo('/sns/jscode2session').length,
  };
}
