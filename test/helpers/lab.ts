// The lab for a test that builds namespaces: it needs root (CI runs as root;
// a skip there would hide a failure), and the lab goes when the test ends.
import type { Test } from 'tap';
import { Lab } from '../../src/lab/netns.js';

export function rootLab(t: Test | typeof import('tap').default): Lab | undefined {
  if (process.getuid?.() !== 0) {
    t.fail('this test needs root (CI runs as root)');
    return undefined;
  }
  const lab = new Lab();
  t.teardown(() => lab.dispose());
  return lab;
}
