// Keeps every code block of README.md and docs/*.md identical to a file under docs/snippets/,
// so that what a page shows is what the tests compile and run (test/docs-*.test.ts). In a page a
// block sits between two markers, and `npm run docs` rewrites what lies between them with the
// file's content:
//
//   <!-- snippet: quick-start.ts -->
//   ```ts
//   (docs/snippets/quick-start.ts, byte for byte)
//   ```
//   <!-- /snippet -->
//
// Edit the file under docs/snippets/, never the block. `npm run docs -- --check` changes nothing
// and exits 1 when a page is out of date.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SNIPPETS = 'docs/snippets';

/** The pages whose code blocks are snippets: README.md and every docs/*.md. */
export function pages(root = ROOT): string[] {
  const docs = existsSync(join(root, 'docs')) ? readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort() : [];
  return ['README.md', ...docs.map((name) => `docs/${name}`)];
}

/** The fence language of a snippet file, by its extension. */
export function languageOf(name: string): string {
  if (/\.[cm]?ts$/.test(name)) return 'ts';
  if (/\.[cm]?js$/.test(name)) return 'js';
  throw new Error(`${SNIPPETS}/${name}: only .ts and .js snippets are supported`);
}

/** Languages whose blocks must be snippets (every other fence, sh or http, is left alone). */
export const CODE_LANGUAGES: ReadonlySet<string> = new Set(['ts', 'typescript', 'tsx', 'mts', 'cts', 'js', 'javascript', 'jsx', 'mjs', 'cjs']);

export const OPEN = /^<!-- snippet: ([\w./-]+) -->$/;
export const CLOSE = '<!-- /snippet -->';

export interface CodeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string, lower case ('' when none). */
  language: string;
  /** The lines between the fences, each ending with '\n'. */
  content: string;
  /** The snippet the block is marked as (the file name under docs/snippets), if it is marked. */
  snippet?: string;
  /** The line after the closing fence is the end marker. */
  closed: boolean;
}

/** Every fenced block of a page, with the snippet marker around it, if any. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})\s*([^`\s]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    let end = i + 1;
    while (end < lines.length && !(lines[end]!.startsWith(fence) && lines[end]!.trim() === fence)) end++;
    const marker = i > 0 ? OPEN.exec(lines[i - 1]!) : null;
    const block: CodeBlock = {
      line: i + 1,
      language: open[2]!.toLowerCase(),
      content: lines.slice(i + 1, end).map((line) => `${line}\n`).join(''),
      closed: lines[end + 1] === CLOSE,
    };
    if (marker) block.snippet = marker[1]!;
    blocks.push(block);
    i = end;
  }
  return blocks;
}

/** The page with each marked region rewritten from its file (`read` gives a snippet's content). */
export function render(markdown: string, read: (name: string) => string): string {
  return markdown.replace(/^<!-- snippet: ([\w./-]+) -->\n[\s\S]*?^<!-- \/snippet -->$/gm, (_region, name: string) => {
    const content = read(name);
    const body = content.endsWith('\n') ? content : `${content}\n`;
    return `<!-- snippet: ${name} -->\n\`\`\`${languageOf(name)}\n${body}\`\`\`\n${CLOSE}`;
  });
}

/** The snippet files, by name: the .ts and .js files of docs/snippets. */
export function snippetFiles(root = ROOT): string[] {
  return readdirSync(join(root, SNIPPETS)).filter((name) => /\.[cm]?[jt]s$/.test(name)).sort();
}

export function readSnippet(name: string, root = ROOT): string {
  return readFileSync(join(root, SNIPPETS, name), 'utf8');
}

/** Rewrites every page; returns the pages that changed (with `check`, writes nothing). */
export function update(options: { check?: boolean; root?: string } = {}): string[] {
  const root = options.root ?? ROOT;
  const changed: string[] = [];
  for (const page of pages(root)) {
    const file = join(root, page);
    const before = readFileSync(file, 'utf8');
    const after = render(before, (name) => readSnippet(name, root));
    if (after === before) continue;
    changed.push(page);
    if (!options.check) writeFileSync(file, after);
  }
  return changed;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const check = process.argv.includes('--check');
  const changed = update({ check });
  if (check && changed.length > 0) {
    console.error(`out of date (run npm run docs): ${changed.join(', ')}`);
    process.exitCode = 1;
  } else {
    console.log(changed.length === 0 ? 'every page is up to date' : `rewrote ${changed.join(', ')}`);
  }
}
