// The other userspace overlays in the bench's lab (CI installs them): each
// comes up on three hosts, every pair reaches every other (socat: its two),
// and each row gets throughput, RTT and the CPU of its own processes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/util/package-root.js';
import { rootLab } from './helpers/lab.js';

const OTHERS = ['socat', 'wireguard-go', 'nebula', 'tinc'];

if (rootLab(t)) {
  const out = mkdtempSync(join(tmpdir(), 'tulle-bench-out-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const r = spawnSync(
    process.execPath,
    [
      join(packageRoot(), 'dist', 'src', 'cli', 'main.js'),
      'bench',
      '--systems',
      OTHERS.join(','),
      '--hosts',
      '3',
      '--duration',
      '1',
      '--reps',
      '1',
      '--out',
      out,
    ],
    { encoding: 'utf8', timeout: 400_000 },
  );
  t.equal(r.status, 0, `exit 0 (stderr tail: ${r.stderr.slice(-1500)})`);
  const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  t.same(json.skipped, [], 'none skipped: CI installs all four');
  t.same(json.errors, [], 'no errors (every pair of hosts reachable, every test ran)');
  for (const id of OTHERS) {
    const row = json.rows.find((x: { system: string }) => x.system === id);
    t.ok(row, `${id} measured`);
    if (!row) continue;
    t.equal(row.kind, 'other');
    t.ok(row.tcp1_gbps > 0 && row.rtt_ms > 0 && row.udp_kpps > 0, `${id}: ${row.tcp1_gbps} Gb/s, ${row.rtt_ms} ms, ${row.udp_kpps} kpps`);
    t.ok(row.cpu_pct > 0, `${id}: its processes' CPU measured (${row.cpu_pct}% of a core)`);
    t.ok(row.gbps_per_core > 0, `${id}: ${row.gbps_per_core} Gb/s per core`);
    t.ok(row.ratios.vs_kernel_vxlan.tcp1_gbps > 0, `${id}: ratio to kernel-vxlan`);
    t.ok(row.mtu >= 1428, `${id}: MTU ${row.mtu} carries 1400-byte UDP payloads unfragmented`);
  }
  const sample = (id: string) => json.samples.find((s: { system: string }) => s.system === id);
  t.equal(sample('socat').cpu_per_process.length, 2, 'socat runs on hosts 1 and 2 only');
  t.equal(sample('tinc').cpu_per_process.length, 3, 'tinc on all three');
  t.match(sample('wireguard-go').reachability.matrix, /from \\ to/, 'a reachability matrix for three hosts');
  t.match(readFileSync(join(out, 'results.md'), 'utf8'), /socat: socat is point to point: it covers hosts 1 and 2 only\./);
}
