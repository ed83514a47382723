// The type tests compile user-shaped code against the declarations in dist/, reached through the
// package name with no paths of ours, as an installed package is seen: `npm run build` first, as
// `npm test` does. (At run time, under tsx, `wx-session` maps to src/ through tsconfig.json's paths.)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BUILT = ['dist/esm/src/index.js', 'dist/esm/src/index.d.ts', 'dist/cjs/src/index.js', 'dist/cjs/src/index.d.ts'];

/** Fails the calling suite, saying what to do, when dist/ is missing or half there. */
export function requireBuilt(): void {
  before(() => {
    const missing = BUILT.filter((file) => !existsSync(fileURLToPath(new URL(`../../${file}`, import.meta.url))));
    if (missing.length > 0) throw new Error(`${missing.join(', ')} missing: run \`npm run build\` first (npm test does)`);
  });
}
