// Runs every ```ts example in docs/library.md as a program of its own.
//
// Each block is written to a temporary .ts file under test/.docs-tmp/<pid>/
// (removed at the end) with its 'tulle/wire' import pointed at
// packages/wire/src/index.ts (the @tulle/wire package's source), then imported: tap's TypeScript loader transpiles it.
// The block's code is preceded by blank lines so that a stack trace's line
// numbers are those of docs/library.md. A block that throws fails its subtest.
// The loader only strips types, so a last subtest type-checks the blocks with
// the project's compiler settings, as a reader's editor would.
import t from 'tap';
import { mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DOC = new URL('../docs/library.md', import.meta.url);
const WIRE_URL = new URL('../packages/wire/src/index.ts', import.meta.url);
const WIRE = WIRE_URL.href;
const TMP_ROOT = new URL('./.docs-tmp/', import.meta.url);
const TMP = new URL(`./${process.pid}/`, TMP_ROOT);

/** How many examples docs/library.md has: fewer found means the extractor (or the doc) broke. */
const MIN_BLOCKS = 14;

interface Block {
  heading: string;
  /** 1-based line of the block's first code line in the markdown. */
  line: number;
  code: string;
}

function extractBlocks(markdown: string): Block[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: Block[] = [];
  let heading = '(no heading)';
  let fence: { marker: string; ts: boolean; line: number; code: string[] } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i];
    if (fence === undefined) {
      const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(text);
      if (open !== null) {
        const lang = open[2].toLowerCase();
        fence = { marker: open[1], ts: lang === 'ts' || lang === 'typescript', line: i + 2, code: [] };
        continue;
      }
      const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
      if (h !== null) heading = h[1];
      continue;
    }
    const close = new RegExp(`^ {0,3}${fence.marker[0] === '`' ? '`' : '~'}{${fence.marker.length},}\\s*$`).exec(text);
    if (close !== null) {
      if (fence.ts) blocks.push({ heading, line: fence.line, code: fence.code.join('\n') + '\n' });
      fence = undefined;
      continue;
    }
    fence.code.push(text);
  }
  if (fence !== undefined) throw new Error(`docs/library.md: the code fence opened at line ${fence.line - 1} is never closed`);
  return blocks;
}

const SPECIFIER = /(['"])tulle\/wire\1/g;
const IMPORTS_WIRE = /from\s+(['"])tulle\/wire\1/;
const IMPORTS_ASSERT = /from\s+(['"])node:assert\/strict\1/;

/** The block's code, moved down to its line in the markdown; imports of 'tulle/wire' rewritten when `rewrite`. */
function prepare(block: Block, rewrite: boolean): string {
  const code = rewrite ? block.code.replace(SPECIFIER, JSON.stringify(WIRE)) : block.code;
  return '\n'.repeat(block.line - 1) + code;
}

const blocks = extractBlocks(readFileSync(DOC, 'utf8'));
t.ok(blocks.length >= MIN_BLOCKS, `found ${blocks.length} ts blocks in docs/library.md, expected at least ${MIN_BLOCKS}`);

rmSync(TMP, { recursive: true, force: true });
mkdirSync(TMP, { recursive: true });
t.teardown(() => {
  rmSync(TMP, { recursive: true, force: true });
  try {
    if (readdirSync(TMP_ROOT).length === 0) rmdirSync(TMP_ROOT);
  } catch {
    // another run still uses it, or it is gone already
  }
});

const seen = new Map<string, number>();
let ran = 0;
blocks.forEach((block, index) => {
  const n = (seen.get(block.heading) ?? 0) + 1;
  seen.set(block.heading, n);
  const name = n === 1 ? block.heading : `${block.heading} (${n})`;
  t.test(name, async (t) => {
    t.match(block.code, IMPORTS_WIRE, `the example at docs/library.md:${block.line} imports from 'tulle/wire'`);
    t.match(block.code, IMPORTS_ASSERT, `the example at docs/library.md:${block.line} checks its claims with node:assert/strict`);
    const file = new URL(`library-md-block-${String(index + 1).padStart(2, '0')}.ts`, TMP);
    writeFileSync(file, prepare(block, true));
    await import(file.href);
    ran++;
  });
});

t.test('every example ran', async (t) => {
  t.equal(ran, blocks.length, 'each extracted block ran to completion');
  t.ok(ran >= MIN_BLOCKS, `${ran} examples ran, expected at least ${MIN_BLOCKS}`);
});

t.test('every example type-checks', async (t) => {
  const { default: ts } = await import('typescript');
  const files = blocks.map((block, index) => {
    const file = fileURLToPath(new URL(`library-md-check-${String(index + 1).padStart(2, '0')}.ts`, TMP));
    writeFileSync(file, prepare(block, false));
    return file;
  });
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
    typeRoots: [fileURLToPath(new URL('../node_modules/@types', import.meta.url))],
    paths: { 'tulle/wire': [fileURLToPath(WIRE_URL)] },
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file === undefined || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `docs/library.md:${line + 1} (${d.file.fileName.split('/').pop()}): ${text}`;
  });
  t.same(problems, [], 'no type errors in the examples');
});
