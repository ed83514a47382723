// Module resolution hooks (node:module `register`) that load the NestJS test app a second time on
// NestJS 10, in the same process as NestJS 11: `import('wx-session-nest10:app')` is
// harness/apps-nestjs.ts tagged `?nest10`; a tagged module's `@nestjs/*`, `rxjs` and
// `reflect-metadata` resolve from this folder (where the root `npm install` put Nest 10), and its
// imports of the Nest app and adapter files are tagged too. Everything else (the core, the player
// routes) resolves as usual, so both copies share one wx-session core and one WxSessionError.
const TAG = 'nest10';
const HERE = new URL('./package.json', import.meta.url).href;
const APP = new URL('../apps-nestjs.ts', import.meta.url);
/** The files loaded once per Nest major: those that import Nest. */
const PER_MAJOR = /\/(harness\/apps-nestjs|adapters\/nestjs|adapters\/nestjs-routes)\.ts$/;
const FROM_NEST10 = /^(@nestjs\/|rxjs(\/|$)|reflect-metadata(\/|$))/;

const tagged = (url) => url !== undefined && url.startsWith('file:') && new URL(url).searchParams.has(TAG);

function tag(url) {
  const copy = new URL(url);
  copy.searchParams.set(TAG, '');
  return copy.href;
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'wx-session-nest10:app') {
    const app = await nextResolve(APP.href, context);
    return { ...app, url: tag(app.url) };
  }
  if (!tagged(context.parentURL)) return nextResolve(specifier, context);
  if (FROM_NEST10.test(specifier)) return nextResolve(specifier, { ...context, parentURL: HERE });
  const resolved = await nextResolve(specifier, context);
  return PER_MAJOR.test(new URL(resolved.url).pathname) ? { ...resolved, url: tag(resolved.url) } : resolved;
}
