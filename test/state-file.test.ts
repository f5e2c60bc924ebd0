// The host's state file: one format, both parts kept when either is saved,
// files of earlier versions read, a broken file reported and not fatal.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostState } from '../src/lease/state-file.js';

const dir = mkdtempSync(join(tmpdir(), 'tulle-state-file-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const lease = { network: '198.18.0.0/16', subnet: '198.18.7.0/24', backendType: 'vxlan', vtepMac: '02:00:00:00:00:07', publicIP: '192.0.2.7' };
const record = { hostId: 'h7', subnet: 0xc6120700, claimedAt: 5, version: 3, expiresAt: 99, released: false, publicIP: '192.0.2.7', backend: 1 };

t.test("the daemon's part and a store's part are saved into one document, neither overwriting the other", async (t) => {
  const d = join(dir, 'both');
  const state = new HostState(d);
  t.equal(state.lease, undefined, 'nothing saved yet');
  state.saveStoreRecord('gossip', record);
  state.saveLease(lease);
  state.saveStoreRecord('gossip', { ...record, version: 4 });
  const doc = JSON.parse(readFileSync(join(d, 'lease.json'), 'utf8'));
  t.same(doc, { format: 1, lease, stores: { gossip: { ...record, version: 4 } } });
  t.equal(statSync(join(d, 'lease.json')).mode & 0o777, 0o600, 'readable by root only');
  const again = new HostState(d);
  t.same(again.lease, lease, 'a new process reads the lease back');
  t.same(again.storeRecord('gossip'), { ...record, version: 4 }, "and the store's record");
});

t.test('files written before the format had a version are read', async (t) => {
  const d = join(dir, 'old');
  mkdirSync(d);
  writeFileSync(join(d, 'lease.json'), JSON.stringify(lease));
  t.same(new HostState(d).lease, lease, "the daemon's flat lease");
  writeFileSync(join(d, 'lease.json'), JSON.stringify(record));
  const old = new HostState(d);
  t.equal(old.lease, undefined);
  t.same(old.storeRecord('gossip'), record, "the gossip store's bare record");
});

t.test('a broken or unknown file is reported, and the host starts afresh', async (t) => {
  const d = join(dir, 'broken');
  new HostState(d).saveLease(lease);
  for (const [text, why] of [
    ['{"subnet": "198.18', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['{"format": 9}', /format 9 is not one this version reads \(1\)/],
    ['{"x": 1}', /not a lease this version knows/],
  ] as const) {
    writeFileSync(join(d, 'lease.json'), text);
    const warnings: string[] = [];
    const state = new HostState(d, (message) => warnings.push(message));
    t.equal(state.lease, undefined, `${text}: no lease`);
    t.match(warnings, [why], `${text}: the warning says why`);
  }
});

t.test('the host id is made once and kept; a bad one names the file', async (t) => {
  const d = join(dir, 'id');
  const id = new HostState(d).hostId();
  t.match(id, /^[0-9a-f-]{36}$/);
  t.equal(new HostState(d).hostId(), id, 'the same id the next time');
  writeFileSync(join(d, 'host-id'), 'not a valid id!\n');
  t.throws(() => new HostState(d).hostId(), /host-id: "not a valid id!" is not a valid host id/);
});
