// The login variants of bench/server.ts (bench/README.md, "Variants"), both on Express 5 with
// express.json() in front: bare-login makes the one code2Session call with fetch and answers;
// wx-login is wx-session's POST /wx/login (code2Session, a new session, a signed token).
import { createServer } from 'node:http';
import express from 'express';
import { nothing, type BenchDeps, type Builders, type Built } from './apps-shared.js';

/**
 * The baseline of a login: read the JSON body, make the same one code2Session call with fetch,
 * answer. No session, no token, no timeout handling.
 */
function bareLogin({ need }: BenchDeps): Built {
  const mockUrl = need('MOCK_URL');
  const appId = need('APP_ID');
  const appSecret = need('APP_SECRET');
  const app = express();
  app.use(express.json());
  app.post('/bare/login', (req, res, next) => {
    const code = (req.body as { code?: unknown } | undefined)?.code;
    if (typeof code !== 'string') {
      res.status(400).json({ code: 'WX_CODE_MISSING' });
      return;
    }
    const query = new URLSearchParams({ appid: appId, secret: appSecret, js_code: code, grant_type: 'authorization_code' });
    fetch(`${mockUrl}/sns/jscode2session?${query.toString()}`)
      .then((upstream) => upstream.json() as Promise<Record<string, unknown>>)
      .then((answer) => {
        if (answer.errcode) {
          res.status(401).json({ code: 'WX_CODE_INVALID', errcode: answer.errcode });
          return;
        }
        // WeChat's answer as it came, less session_key (which never leaves a server).
        const { session_key: _key, ...rest } = answer;
        res.json(rest);
      })
      .catch(next);
  });
  return { server: createServer(app), prepare: nothing };
}

async function wxLoginApp(deps: BenchDeps): Promise<Built> {
  const { wxSession } = (await import(deps.lib('adapters/express.js'))) as typeof import('../adapters/express.js');
  const { core } = await deps.core('memory');
  const app = express();
  app.use(express.json()); // as in bare-login: the adapter then takes the parsed body
  app.use(wxSession(core));
  return { server: createServer(app), prepare: nothing };
}

export function loginBuilders(deps: BenchDeps): Builders {
  return {
    'bare-login': () => bareLogin(deps),
    'wx-login': () => wxLoginApp(deps),
  };
}
