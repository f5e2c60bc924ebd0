#!/usr/bin/env node
/**
 * npm run soak: 3 hosts on the gossip store and the vxlan backend under
 * steady TCP and UDP traffic for --minutes (10), sampled every
 * --sample-seconds (10). Writes soak.json, soak.md and soak.svg to --out
 * and exits 1 when a target fails (2: bad options, 4: not root).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../src/util/package-root.js';
import { soakChart } from './soak-chart.js';
import { parseSoakOptions, SOAK_USAGE, SoakUsageError, type SoakOptions } from './soak-options.js';
import { soakMarkdown } from './soak-report.js';
import { runSoak } from './soak-run.js';

let options: SoakOptions;
try {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(SOAK_USAGE);
    process.exit(0);
  }
  options = parseSoakOptions(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof SoakUsageError)) throw error;
  console.error(`soak: ${error.message}\n${SOAK_USAGE}`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('soak creates network namespaces, veth and TUN devices: run it as root');
  process.exit(4);
}
for (const built of [join('dist', 'src', 'cli', 'main.js'), join('dist', 'bench', 'soak-udp.js'), join('native', 'build', 'Release', 'tulle.node')]) {
  if (!existsSync(join(packageRoot(), built))) {
    console.error(`soak: ${built} is missing: run \`npm ci\` (or \`npm run build\`) first`);
    process.exit(2);
  }
}

const out = resolve(options.out);
mkdirSync(out, { recursive: true });
const tty = process.stderr.isTTY;
const command = `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, '');
try {
  const result = await runSoak(options, {
    command,
    // A sample line overwrites the last one on a terminal; elsewhere every line stays.
    say: (line) => process.stderr.write(tty && line.startsWith('[') ? `\r\x1b[2K${line}` : `${tty ? '\n' : ''}${line}\n`),
  });
  if (tty) process.stderr.write('\n');
  writeFileSync(join(out, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(out, 'soak.md'), soakMarkdown(result));
  writeFileSync(
    join(out, 'soak.svg'),
    soakChart(result.samples, {
      title: `tulle soak: 3 hosts, gossip, vxlan, ${options.minutes} min`,
      subtitle: `${result.started.slice(0, 10)} · ${result.machine.cores} cores, load ${result.load.mean.toFixed(1)} · TCP host1 → host2, UDP ${options.udpPps}/s host2 → host3`,
      warmupSeconds: options.warmupSeconds,
      liveHeap: result.verdict.daemons.map((d) => d.liveHeap.points),
    }),
  );
  process.stdout.write(soakMarkdown(result));
  process.stdout.write(`\nresults: ${['soak.json', 'soak.md', 'soak.svg'].map((f) => join(out, f)).join(', ')}\n`);
  process.exit(result.verdict.pass ? 0 : 1);
} catch (error) {
  console.error(`soak: ${(error as Error).stack ?? error}`);
  process.exit(1);
}
