// Constant-time comparison wherever a secret or a signature is compared (issue 6, "Secrets and
// timing"; SECURITY.md). Timings on a shared 2-core machine prove nothing, so this is shown two
// ways that can fail:
//   1. a review, as a test: every `===`/`!==` in the shipped sources whose operands name a secret,
//      a signature or a token is listed, and each must be either absent or explained below;
//   2. behaviour: token verification, rawData signatures and the access-token comparisons go
//      through crypto.timingSafeEqual (counted through the live binding Node keeps for `node:crypto`).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { expect } from 'chai';
import { createWxSession, verifyRawData } from '../src/index.js';
import { StableTokenSource } from '../src/wechat/access-token.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { coreOptions, SECRET } from '../harness/apps.js';
import { forgeToken } from './support/wire.js';
import { sha1Hex } from './support/keys.js';

const require = createRequire(import.meta.url);
const root = new URL('..', import.meta.url).pathname;

/** Names that hold a secret, a signature or a bearer token. */
const SECRETISH = /secret|sessionkey|session_key|signature|accesstoken|access_token|rejected|\btoken\b|\bsig\b|hmac|digest|\bexpected\b/i;
/** Comparisons that are not of a secret's content: against a literal, a type, a length, a status. */
const NOT_CONTENT = /^(undefined|null|true|false|-?\d[\d_.]*|'[^']*'|"[^"]*"|`[^`]*`)$|typeof|\.length$|\.size$|\.index$|\.status$|\.code$|errcode|\.kind$/i;

/** `a === b` or `a !== b`, its operands as written (punctuation around them included). */
const COMPARISON = /([\w.$#?!\[\]()'"`]+)\s*(===|!==)\s*([\w.$#?!\[\]()'"`-]+)/g;

/** Reviewed comparisons that stay, and why. Keyed by `file: comparison`. */
const REVIEWED: Record<string, string> = {
  'src/client/index.ts: tokens.current() === token':
    'the game client checks whether its stored token is still the one it sent, on the player\'s own device: no remote party can time it',
  'src/client/index.ts: refresh.token === token':
    'the game client matches a request\'s token to the key refresh under way for that token (one wx.login per session), on the player\'s own device: no remote party can time it',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(root, path)).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** `(a.b` -> `a.b`, `f())` -> `f()`: the operand without the punctuation around it. */
function operand(text: string): string {
  let out = text.replace(/^[(!]+/, '').replace(/[;,]+$/, '');
  while (out.endsWith(')') && out.split(')').length > out.split('(').length) out = out.slice(0, -1);
  return out;
}

/** Every `a === b` / `a !== b` on a secret, as `file: a op b`. */
function secretComparisons(): string[] {
  const found: string[] = [];
  for (const file of [...sourceFiles('src'), ...sourceFiles('adapters')]) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    for (const line of lines) {
      if (/^\s*(\/\/|\*|\/\*)/.test(line)) continue;
      for (const match of line.matchAll(COMPARISON)) {
        const left = operand(match[1]!);
        const right = operand(match[3]!);
        if (NOT_CONTENT.test(left) || NOT_CONTENT.test(right)) continue;
        if (SECRETISH.test(left) || SECRETISH.test(right)) found.push(`${file}: ${left} ${match[2]} ${right}`.replace(' !== ', ' === '));
      }
    }
  }
  return found;
}

describe('timing-safe comparisons', () => {
  it('review: no secret, signature or token is compared with === or !== in the shipped code, unless explained', () => {
    const unexplained = secretComparisons().filter((comparison) => !(comparison in REVIEWED));
    expect(unexplained, 'compare these with a timing-safe function (src/crypto.ts safeEqual), or explain them in REVIEWED').to.deep.equal([]);
  });

  it('review: the scan itself finds comparisons (it would catch a new one)', () => {
    const found = secretComparisons();
    expect(found).to.include('src/client/index.ts: tokens.current() === token');
    // A line the scan must flag, were it in a source file:
    const probe = 'if (signature !== expectedSignature) return false;';
    const match = [...probe.matchAll(COMPARISON)][0]!;
    expect(SECRETISH.test(operand(match[1]!)) && !NOT_CONTENT.test(operand(match[3]!))).to.equal(true);
  });

  describe('behaviour: the comparisons go through crypto.timingSafeEqual', () => {
    const crypto = require('node:crypto') as typeof import('node:crypto');
    const original = crypto.timingSafeEqual;
    let calls = 0;
    let mock: MockWeChat;
    before(async () => {
      mock = await startMockWeChat();
      crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
        calls += 1;
        return original(a, b);
      }) as typeof crypto.timingSafeEqual;
      syncBuiltinESMExports();
    });
    after(async () => {
      crypto.timingSafeEqual = original;
      syncBuiltinESMExports();
      await mock.close();
    });
    beforeEach(() => {
      calls = 0;
    });

    it('a token with a bad signature is compared in constant time (cookie-signature)', async () => {
      const core = createWxSession(coreOptions(mock));
      const forged = forgeToken('A'.repeat(43), 'not-the-signing-secret-0123456789abcdef');
      expect((await core.authenticate(forged)).code).to.equal('WX_SESSION_INVALID');
      expect(calls).to.be.at.least(1);
      expect(forged).to.not.equal(forgeToken('A'.repeat(43), SECRET));
    });

    it('verifyRawData compares signatures in constant time, for a wrong one as for the right one', () => {
      const key = 'HyVFkGl5F5OQWJZZaNzBBg==';
      const raw = '{"nickName":"Band"}';
      expect(verifyRawData(raw, sha1Hex(raw + key), key)).to.equal(true);
      expect(verifyRawData(raw, '0'.repeat(40), key)).to.equal(false);
      expect(verifyRawData(raw, 'short', key)).to.equal(false);
      expect(calls).to.equal(3);
    });

    it('a refused access token is recognised in constant time', async () => {
      let issued = 0;
      const source = new StableTokenSource(async () => ({ token: `access-token-${++issued}-0123456789abcdef`, expiresIn: 7200 }));
      const first = await source.get();
      calls = 0;
      const renewed = await source.renew(first);
      expect(renewed).to.not.equal(first);
      expect(calls, 'the refused token was compared with timingSafeEqual').to.be.at.least(1);
    });
  });
});
