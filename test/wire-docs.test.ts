// Every export of @tulle/wire has a TSDoc comment: what an editor shows on hover and what a reader of the .d.ts
// files sees. The TypeScript compiler lists the exports of packages/wire/src/index.ts (and of each namespace it
// exports, such as vxlan or icmp) and each must carry a comment with some text.
import t from 'tap';
import ts from 'typescript';
import { fileURLToPath } from 'node:url';

const INDEX = fileURLToPath(new URL('../packages/wire/src/index.ts', import.meta.url));

const program = ts.createProgram([INDEX], {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  types: [],
  noEmit: true,
});
const checker = program.getTypeChecker();

/**
 * The comment text of a declaration's own JSDoc blocks (an `export * as x` line carries its comment itself). The
 * entry point's @packageDocumentation block, which the compiler attaches to the first statement, is not one.
 */
function jsDocText(node: ts.Node): string {
  return ts
    .getJSDocCommentsAndTags(node)
    .filter(ts.isJSDoc)
    .filter((doc) => !doc.tags?.some((tag) => tag.tagName.text === 'packageDocumentation'))
    .map((doc) => ts.getTextOfJSDocComment(doc.comment) ?? '')
    .join('')
    .trim();
}

interface Export {
  name: string;
  documented: boolean;
}

/** Each export of `module`, namespaces' members included, and whether it has a comment with text. */
function exportsOf(module: ts.Symbol, prefix: string): Export[] {
  const found: Export[] = [];
  for (const exported of checker.getExportsOfModule(module)) {
    const name = prefix + exported.getName();
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const namespaceExport = exported.declarations?.find(ts.isNamespaceExport);
    if (namespaceExport !== undefined) {
      // export * as vxlan from './vxlan.js': the namespace's comment is on that line; its members are exports too.
      found.push({ name, documented: jsDocText(namespaceExport.parent) !== '' });
      found.push(...exportsOf(target, `${name}.`));
      continue;
    }
    found.push({ name, documented: (target.declarations ?? []).some((declaration) => jsDocText(declaration) !== '') });
  }
  return found;
}

const source = program.getSourceFile(INDEX);
const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source);
const all = moduleSymbol === undefined ? [] : exportsOf(moduleSymbol, '');

t.test('the compiler lists the exports', async (t) => {
  t.ok(moduleSymbol, 'packages/wire/src/index.ts is a module');
  // The namespaces and a few names every version has: the listing reaches into namespaces and re-exports.
  const names = new Set(all.map((e) => e.name));
  for (const name of ['vxlan', 'vxlan.template', 'icmp', 'ipv4.parse', 'RX_VERIFY', 'WireError', 'OuterTemplate', 'checksum']) t.ok(names.has(name), name);
  t.ok(all.length > 150, `${all.length} exports`);
});

t.test('every export has a TSDoc comment', async (t) => {
  t.same(
    all.filter((e) => !e.documented).map((e) => e.name),
    [],
    'exports without a doc comment',
  );
});
