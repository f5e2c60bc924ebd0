// The Registry contract (src/etcd/registry.ts), run against both of its
// implementations: a real etcd (Debian's etcd-server on loopback) and the
// in-memory one on virtual time. What the keeper and the watch rely on must
// hold in both, so the fast tests on the memory registry say something about
// etcd: revisions, conditional writes, etcd leases and their TTLs, watches
// that replay history in order, and refusal below the compaction point.
import t, { type Test } from 'tap';
import { connectEtcd } from '../src/etcd/etcd-client.js';
import { EtcdRegistry } from '../src/etcd/etcd-registry.js';
import { MemoryRegistry } from '../src/etcd/memory-registry.js';
import type { Registry, WatchMessage } from '../src/etcd/registry.js';
import { EtcdServer, haveEtcd } from './helpers/etcd-server.js';
import { VirtualClock } from './helpers/virtual-clock.js';

if (!haveEtcd()) {
  t.fail('etcd and etcdctl are needed (Debian: apt-get install etcd-server etcd-client; .ci/run installs them)');
  process.exit(1);
}

/** One implementation, and what other hosts and operators do to it. */
interface Subject {
  registry: Registry;
  /** Unconditional writes, as etcdctl put and del. */
  put(key: string, value: string): Promise<void>;
  del(key: string): Promise<void>;
  compact(revision: number): Promise<void>;
  /** Lets `ms` pass: real time for etcd, virtual time for the memory registry. */
  wait(ms: number): Promise<void>;
}

const server = await EtcdServer.start();
t.teardown(() => server.dispose());
let prefixes = 0;

const makers: Record<string, (t: Test) => Subject> = {
  etcd: (t) => {
    const client = connectEtcd({ endpoints: [server.endpoint], callTimeoutMs: 2000 });
    t.teardown(() => client.close());
    return {
      registry: new EtcdRegistry(client, `/tulle-contract-${++prefixes}/network`),
      put: async (key, value) => void (await client.kv.put({ key: Buffer.from(key), value: Buffer.from(value) })),
      del: async (key) => void (await client.kv.deleteRange({ key: Buffer.from(key) })),
      compact: async (revision) => void (await client.kv.compact({ revision: String(revision), physical: true })),
      wait: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
  },
  memory: () => {
    const clock = new VirtualClock();
    const registry = new MemoryRegistry({ clock, prefix: `/tulle-contract-${++prefixes}/network` });
    return {
      registry,
      put: async (key, value) => void registry.put(key, value),
      del: async (key) => void registry.delete(key),
      compact: async (revision) => registry.compact(revision),
      wait: (ms) => clock.advance(ms),
    };
  },
};

/** A watch that records its messages; the subject's clock moves so they arrive. */
function record(t: Test, s: Subject, from: number) {
  const messages: WatchMessage[] = [];
  const handle = s.registry.watchSubnets(from, (m) => messages.push(m));
  t.teardown(() => handle.cancel());
  const until = async (what: string, done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) await s.wait(25);
    if (!done()) throw new Error(`no ${what}: ${JSON.stringify(messages)}`);
  };
  return { messages, handle, until };
}

/** Messages in a form that is the same for both: kinds, and changes as "put key value" / "delete key". */
function shown(messages: WatchMessage[], prefix: string): string[] {
  return messages.flatMap((m) =>
    m.kind === 'changes'
      ? m.changes.map((c) => (c.type === 'put' ? `put ${c.entry.key.slice(prefix.length)} ${c.entry.value}` : `delete ${c.key.slice(prefix.length)}`))
      : m.kind === 'progress'
        ? []
        : [m.kind],
  );
}

for (const [name, make] of Object.entries(makers)) {
  t.test(name, async (t) => {
    t.test('config, and conditional writes compared on existence and mod revision; one revision per write', async (t) => {
      const s = make(t);
      const r = s.registry;
      t.equal(await r.getConfig(), undefined);
      await r.putConfig('{"Network":"198.18.0.0/16"}');
      t.equal(await r.getConfig(), '{"Network":"198.18.0.0/16"}');
      await r.ping();

      const { entries, revision } = await r.listSubnets();
      t.same(entries, []);
      const key = r.keys.subnetKey('198.18.1.0/24');
      t.equal(await r.create(key, 'a', '0'), true);
      const a = await r.getSubnet(key);
      t.same(a, { key, value: 'a', leaseId: '0', modRevision: revision + 1 });
      t.equal(await r.create(key, 'b', '0'), false, 'create refuses a key that exists');
      t.equal(await r.replace(key, 'b', '0', a!.modRevision - 1), false, 'replace refuses a stale mod revision');
      t.equal(await r.replace(key, 'b', '0', a!.modRevision), true);
      const b = await r.getSubnet(key);
      t.equal(b?.value, 'b');
      t.equal(b?.modRevision, revision + 2);
      t.equal(await r.deleteIfUnchanged(key, a!.modRevision), false);
      t.equal(await r.deleteIfUnchanged(key, b!.modRevision), true);
      t.equal(await r.getSubnet(key), undefined);
      const after = await r.listSubnets();
      t.equal(after.revision, revision + 3);

      // Listed in key order (bytes), with the listing's revision.
      for (const subnet of ['198.18.2.0/24', '198.18.10.0/24', '198.18.1.0/24']) await r.create(r.keys.subnetKey(subnet), subnet, '0');
      await s.put(r.keys.configKey, 'not a subnet');
      const listed = await r.listSubnets();
      t.same(
        listed.entries.map((e) => e.value),
        ['198.18.1.0/24', '198.18.10.0/24', '198.18.2.0/24'],
      );
      t.equal(listed.revision, revision + 7);
    });

    t.test('etcd leases: granted TTL, time left, revoke takes the keys, expiry takes them too; a put needs a live lease', async (t) => {
      const s = make(t);
      const r = s.registry;
      const grant = await r.grant(30);
      t.equal(grant.ttl, 30);
      const left = await r.remaining(grant.id);
      t.ok(left >= 29 && left <= 30, `${left} s left`);
      const key = r.keys.subnetKey('198.18.1.0/24');
      t.equal(await r.create(key, 'a', grant.id), true);
      t.equal((await r.getSubnet(key))?.leaseId, grant.id);
      await r.revoke(grant.id);
      t.equal(await r.getSubnet(key), undefined, 'revoke deletes the keys attached');
      t.equal(await r.remaining(grant.id), -1);
      await r.revoke(grant.id); // gone already: fine
      await r.revoke('0');
      await t.rejects(r.create(key, 'a', grant.id), /requested lease not found/);

      const short = await r.grant(2);
      t.equal(await r.create(key, 'b', short.id), true);
      // etcd checks for expiry every 500 ms, and a loaded machine may take longer still: poll, bounded.
      for (let i = 0; i < 60 && (await r.getSubnet(key)) !== undefined; i++) await s.wait(250);
      t.equal(await r.getSubnet(key), undefined, 'the key went with its TTL');
      t.equal(await r.remaining(short.id), -1);
    });

    t.test('a watch reports every change after its start revision, in order, whole revisions, until cancelled', async (t) => {
      const s = make(t);
      const r = s.registry;
      const { revision } = await r.listSubnets();
      const k1 = r.keys.subnetKey('198.18.1.0/24');
      const k2 = r.keys.subnetKey('198.18.2.0/24');
      const k3 = r.keys.subnetKey('198.18.3.0/24');
      const w = record(t, s, revision + 1);
      await w.until('created', () => w.messages.length > 0);
      t.same(shown(w.messages, r.keys.subnetsPrefix), ['created']);

      const lease = await r.grant(60);
      await r.create(k1, 'one', '0');
      await r.create(k2, 'two', lease.id);
      await r.create(k3, 'three', lease.id);
      await r.putConfig('{}'); // outside the prefix: not reported
      await r.replace(k1, 'one again', '0', revision + 1);
      await r.revoke(lease.id); // both its keys, in one revision
      await s.del(k1);
      const expected = [
        'created',
        'put 198.18.1.0-24 one',
        'put 198.18.2.0-24 two',
        'put 198.18.3.0-24 three',
        'put 198.18.1.0-24 one again',
        'delete 198.18.2.0-24',
        'delete 198.18.3.0-24',
        'delete 198.18.1.0-24',
      ];
      await w.until('seven changes', () => shown(w.messages, r.keys.subnetsPrefix).length === expected.length);
      t.same(shown(w.messages, r.keys.subnetsPrefix), expected);
      const batches = w.messages.flatMap((m) => (m.kind === 'changes' ? [m] : []));
      const revisionOf = (c: (typeof batches)[number]['changes'][number]) => (c.type === 'put' ? c.entry.modRevision : c.revision);
      const revisions = batches.flatMap((m) => m.changes.map(revisionOf));
      t.same(
        revisions,
        [1, 2, 3, 5, 6, 6, 7].map((n) => revision + n),
        'the revision of each write; the config put is skipped; a revoke is one revision',
      );
      t.ok(
        batches.every((m) => m.revision === revisionOf(m.changes[m.changes.length - 1])),
        "a message's revision is its last change's",
      );
      t.ok(
        batches.every((m, i) => i === 0 || revisionOf(m.changes[0]) > batches[i - 1].revision),
        'no revision split across messages',
      );

      // Another watch from the start replays the same history; a cancelled one hears nothing more.
      const replay = record(t, s, revision + 1);
      await replay.until('the replay', () => shown(replay.messages, r.keys.subnetsPrefix).length === expected.length);
      t.same(shown(replay.messages, r.keys.subnetsPrefix), shown(w.messages, r.keys.subnetsPrefix));
      w.handle.cancel();
      const seen = w.messages.length;
      await r.create(k1, 'late', '0');
      await replay.until('the late put', () => shown(replay.messages, r.keys.subnetsPrefix).length === expected.length + 1);
      t.equal(w.messages.length, seen);
    });

    t.test('a watch from a compacted revision is refused with the compaction point; from there on it works', async (t) => {
      const s = make(t);
      const r = s.registry;
      const { revision } = await r.listSubnets();
      const key = r.keys.subnetKey('198.18.1.0/24');
      await r.create(key, 'a', '0');
      await s.put(key, 'b');
      const current = (await r.listSubnets()).revision;
      await s.compact(current);
      const old = record(t, s, revision + 1);
      await old.until('the refusal', () => old.messages.some((m) => m.kind === 'compacted'));
      const refusal = old.messages.find((m) => m.kind === 'compacted');
      t.same(refusal, { kind: 'compacted', compactRevision: current });
      t.equal(old.messages[old.messages.length - 1], refusal, 'nothing after it');

      const fresh = record(t, s, current);
      await fresh.until('the replay', () => shown(fresh.messages, r.keys.subnetsPrefix).length === 2);
      t.same(shown(fresh.messages, r.keys.subnetsPrefix), ['created', 'put 198.18.1.0-24 b']);
    });
  });
}

t.test('memory registry: bad arguments to its test controls are refused, naming the value and what is allowed', async (t) => {
  const registry = new MemoryRegistry({ clock: new VirtualClock() });
  t.throws(() => registry.failNext('grant', 0), /failNext: count 0 is not allowed; allowed: an integer, at least 1/);
  t.throws(() => registry.failNext('watchSubnets', 1, 'after'), /failNext: when "after" is not allowed for watchSubnets; allowed: "before"/);
  t.throws(() => registry.compact(5), /compact: revision 5 is not allowed; allowed: 1\.\.1, the current revision/);
  await t.rejects(registry.grant(0), /grant: ttlSeconds 0 is not allowed; allowed: an integer number of seconds, at least 1/);
});
