// Builds dist/esm and dist/cjs (each with .d.ts) from the same sources with tsc.
// src/client (wx-session/client) runs inside WeChat, not Node: its own projects compile it to
// ES2017 without Node types, checked against minigame-api-typings (tsconfig.client*.json).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync('dist', { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.cjs.json', 'tsconfig.client.json', 'tsconfig.client.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
}
// The root package is "type": "module"; this marks the CommonJS tree as such.
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
