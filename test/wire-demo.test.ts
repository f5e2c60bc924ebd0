// `tulle lab wire-demo` builds its own namespace, shows tulle's encapsulation
// against a kernel vxlan device, and cleans up.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { leftoverNamespaces } from '../src/lab/netns.js';
import { packageRoot } from '../src/util/package-root.js';

if (process.getuid?.() !== 0) {
  t.fail('the wire demo needs root (CI runs as root)');
} else {
  const run = spawnSync(process.execPath, [join(packageRoot(), 'dist', 'src', 'cli', 'main.js'), 'lab', 'wire-demo'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(run.status, 0, `exit 0 (stderr: ${run.stderr})`);
  t.match(run.stdout, /\| TypeScript \| 64\s+\| 64\s+\|/, 'all 64 TypeScript-encapsulated packets delivered by the kernel');
  t.match(run.stdout, /\| native\s+\| 64\s+\| 64\s+\|/, 'all 64 natively encapsulated packets delivered by the kernel');
  t.match(run.stdout, /payload\s+\| "hello from the kernel"/, "the kernel's VXLAN packet decoded");
  // Only this run's namespace: other labs may come and go on the machine meanwhile.
  const ns = /namespace (tulle-[0-9a-f]+-demo):/.exec(run.stdout)?.[1];
  t.ok(ns, 'the demo names its namespace');
  t.notOk(ns && leftoverNamespaces().includes(ns), 'no namespace left behind');
}
