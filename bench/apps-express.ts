// The Express peer and diagnostics of bench/server.ts (bench/README.md, "Variants"):
// express-session, bare-express plus one no-op layer, and wx.required on the route alone. bare-express,
// its floor and wx-session on Express are bench/apps-frameworks.ts.
import { createServer } from 'node:http';
import express from 'express';
import expressSession from 'express-session';
import { nothing, type BenchDeps, type Builders, type Built } from './apps-shared.js';

declare module 'express-session' {
  interface SessionData {
    openid?: string;
  }
}

const wxExpress = async (deps: BenchDeps) => ((await import(deps.lib('adapters/express.js'))) as typeof import('../adapters/express.js')).wxSession;

/** GET /me answering a constant, optionally behind one no-op layer (diagnostic: what a layer costs). */
function bareExpress({ openid }: BenchDeps, extraLayer: boolean): Built {
  const app = express();
  if (extraLayer) app.use((_req, _res, next) => next());
  app.get('/me', (_req, res) => {
    res.json({ openid });
  });
  return { server: createServer(app), prepare: nothing };
}

/** Diagnostic: wx.required on the route alone (it authenticates by itself), no app.use(wx). */
async function wxExpressRoute(deps: BenchDeps): Promise<Built> {
  const { core } = await deps.core('memory');
  const wx = (await wxExpress(deps))(core);
  const app = express();
  app.post('/wx/login', wx.login);
  app.get('/me', wx.required, (req, res) => {
    res.json({ openid: req.wxSession!.openid });
  });
  return { server: createServer(app), prepare: deps.wxLogin };
}

function expressSessionApp({ openid, secret, cookieLogin }: BenchDeps): Built {
  const app = express();
  // express-session's own MemoryStore (it warns that it is not for production: it is the baseline).
  app.use(expressSession({ secret, resave: false, saveUninitialized: false }));
  app.post('/login', (req, res) => {
    req.session.openid = openid;
    res.json({ ok: true });
  });
  app.get('/me', (req, res) => {
    const mine = req.session.openid;
    if (!mine) {
      res.status(401).json({ code: 'NO_SESSION' });
      return;
    }
    res.json({ openid: mine });
  });
  return { server: createServer(app), prepare: cookieLogin };
}

export function expressBuilders(deps: BenchDeps): Builders {
  return {
    'express-session': () => expressSessionApp(deps),
    'bare-express-mw': () => bareExpress(deps, true),
    'wx-express-route': () => wxExpressRoute(deps),
  };
}
