// Several instances, one Redis (test/support/instances.ts): checks of many sessions on two
// instances at once make one stable_token call in total; the token is shared through Redis,
// sealed (SECURITY.md, "Store compromise").
import { expect } from 'chai';
import { accessTokenContext, Sealer } from '../src/seal.js';
import { SECRET } from '../harness/apps.js';
import { call, multiInstance } from './support/instances.js';

const STABLE = '/cgi-bin/stable_token';
const CHECK = '/wxa/checksession';

multiInstance(
  'one access token for all instances',
  (fleet) => {
    it('checks on many sessions on both instances at once make one stable_token call in total', async () => {
      const { mock } = fleet;
      // Fresh instances that check the session_key on every request, under a prefix of their own
      // (so no shared token exists yet).
      const more = { CHECK_INTERVAL: '0', PREFIX: `tok${Date.now()}:` };
      const [C, D] = await Promise.all([fleet.start('C', more), fleet.start('D', more)]);
      const users = await Promise.all([...Array.from({ length: 6 }, () => fleet.login(C)), ...Array.from({ length: 6 }, () => fleet.login(D))]);
      mock.resetCalls();

      const requests = users.flatMap((user) => [C, D].map((instance) => call(instance, 'GET', '/me', { token: user.token })));
      const answers = await Promise.all(requests);
      for (const answer of answers) expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
      // Every request did check its session's key (so each needed a token)...
      expect(mock.callsTo(CHECK).length).to.equal(requests.length);
      expect(mock.callsTo(CHECK).every((c) => c.errcode === 0)).to.equal(true);
      // ...and the two instances fetched the token once between them.
      expect(mock.callsTo(STABLE).length).to.equal(1);
      // Kept sealed (SECURITY.md, "Store compromise"): the instances' signing secret opens it.
      const stored = await fleet.admin.get(`${more.PREFIX}token:${mock.appId}`);
      expect(new Sealer([SECRET]).open(stored, accessTokenContext(mock.appId))).to.equal(mock.currentAccessToken());

      // A second wave uses the same token: still one call.
      const again = await Promise.all(users.flatMap((user) => [C, D].map((instance) => call(instance, 'GET', '/me', { token: user.token }))));
      for (const answer of again) expect(answer.status).to.equal(200);
      expect(mock.callsTo(STABLE).length).to.equal(1);
      expect(mock.callsTo(CHECK).length).to.equal(2 * requests.length);

      const ends = await Promise.all([C.stop(), D.stop()]);
      expect(ends.map((end) => end.code)).to.deep.equal([0, 0]);
    });
  },
  { withAB: false },
);
