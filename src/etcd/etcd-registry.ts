/**
 * The Registry contract (registry.ts) on a real etcd v3 cluster, with the
 * `etcd3` client: conditional writes are transactions, an etcd lease is a
 * lease grant, and a watch is one gRPC watch stream over the subnets prefix.
 */
import type { Etcd3, IEvent, IKeyValue, IRequestOp, ICompare, IWatchResponse } from 'etcd3';
import { describeError, prefixRangeEnd } from './etcd-client.js';
import {
  DEFAULT_PREFIX,
  KeyLayout,
  NO_LEASE,
  type Grant,
  type Registry,
  type SubnetChange,
  type SubnetEntry,
  type WatchHandle,
  type WatchMessage,
} from './registry.js';

export class EtcdRegistry implements Registry {
  readonly keys: KeyLayout;

  constructor(
    /** Replaced when the credentials are reloaded (etcd-store.ts); etcd lease IDs stay valid across clients. */
    public client: Etcd3,
    prefix = DEFAULT_PREFIX,
  ) {
    this.keys = new KeyLayout(prefix);
  }

  async getConfig(): Promise<string | undefined> {
    const res = await this.client.kv.range({ key: Buffer.from(this.keys.configKey) });
    return res.kvs[0]?.value.toString();
  }

  async putConfig(text: string): Promise<void> {
    await this.client.kv.put({ key: Buffer.from(this.keys.configKey), value: Buffer.from(text) });
  }

  async ping(): Promise<void> {
    await this.client.kv.range({ key: Buffer.from(this.keys.configKey), count_only: true });
  }

  async listSubnets(): Promise<{ entries: SubnetEntry[]; revision: number }> {
    const key = Buffer.from(this.keys.subnetsPrefix);
    const res = await this.client.kv.range({ key, range_end: prefixRangeEnd(key) });
    return { entries: res.kvs.map(toEntry), revision: Number(res.header.revision) };
  }

  async getSubnet(key: string): Promise<SubnetEntry | undefined> {
    const res = await this.client.kv.range({ key: Buffer.from(key) });
    return res.kvs[0] === undefined ? undefined : toEntry(res.kvs[0]);
  }

  async grant(ttlSeconds: number): Promise<Grant> {
    const res = await this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 });
    return { id: res.ID, ttl: Number(res.TTL) };
  }

  async revoke(leaseId: string): Promise<void> {
    if (leaseId === NO_LEASE) return;
    await this.client.leaseClient.leaseRevoke({ ID: leaseId }).catch(() => undefined);
  }

  async remaining(leaseId: string): Promise<number> {
    const res = await this.client.leaseClient.leaseTimeToLive({ ID: leaseId });
    return Number(res.TTL);
  }

  async create(key: string, value: string, leaseId: string): Promise<boolean> {
    return this.#txn([{ key: Buffer.from(key), target: 'Version', result: 'Equal', version: 0 }], key, value, leaseId);
  }

  async replace(key: string, value: string, leaseId: string, modRevision: number): Promise<boolean> {
    return this.#txn([{ key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: modRevision }], key, value, leaseId);
  }

  async deleteIfUnchanged(key: string, modRevision: number): Promise<boolean> {
    const res = await this.client.kv.txn({
      compare: [{ key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: modRevision }],
      success: [{ request_delete_range: { key: Buffer.from(key) } }],
    });
    return res.succeeded;
  }

  async #txn(compare: ICompare[], key: string, value: string, leaseId: string): Promise<boolean> {
    const put: IRequestOp = { request_put: { key: Buffer.from(key), value: Buffer.from(value), lease: leaseId } };
    const res = await this.client.kv.txn({ compare, success: [put] });
    return res.succeeded;
  }

  watchSubnets(fromRevision: number, onMessage: (message: WatchMessage) => void): WatchHandle {
    type Stream = Awaited<ReturnType<Etcd3['watchClient']['watch']>>;
    let stream: Stream | undefined;
    let over = false;
    const close = () => {
      over = true;
      try {
        stream?.cancel();
      } catch {
        // already closed
      }
    };
    const deliver = (message: WatchMessage) => {
      if (over) return;
      if (message.kind === 'broken' || message.kind === 'compacted') close();
      onMessage(message);
    };
    this.client.watchClient.watch().then(
      (opened) => {
        stream = opened;
        if (over) return close();
        opened.on('error', (error) => deliver({ kind: 'broken', reason: describeError(error) }));
        opened.on('end', () => deliver({ kind: 'broken', reason: 'the watch stream ended' }));
        opened.on('data', (res: IWatchResponse) => {
          let message: WatchMessage;
          try {
            message = toMessage(res);
          } catch (error) {
            // Never let a surprising response escape into the gRPC stream's emitter.
            message = { kind: 'broken', reason: `unreadable watch response: ${describeError(error)}` };
          }
          deliver(message);
        });
        const key = Buffer.from(this.keys.subnetsPrefix);
        opened.write({ create_request: { key, range_end: prefixRangeEnd(key), start_revision: fromRevision, progress_notify: true } });
      },
      (error: unknown) => deliver({ kind: 'broken', reason: describeError(error) }),
    );
    return { cancel: close };
  }
}

/** One response of the stream: created, canceled (compacted?), changes, or a progress notification. */
function toMessage(res: IWatchResponse): WatchMessage {
  if (res.canceled) {
    const compacted = Number(res.compact_revision);
    return compacted > 0 ? { kind: 'compacted', compactRevision: compacted } : { kind: 'broken', reason: res.cancel_reason || 'the watch was canceled' };
  }
  if (res.created) return { kind: 'created' };
  if (res.events.length > 0) {
    return { kind: 'changes', changes: res.events.map(toChange), revision: Number(res.events[res.events.length - 1].kv.mod_revision) };
  }
  // No events: a progress notification, as of the header's revision.
  return { kind: 'progress', revision: Number(res.header.revision) };
}

function toChange(ev: IEvent): SubnetChange {
  if (ev.type === 'Delete') return { type: 'delete', key: ev.kv.key.toString(), revision: Number(ev.kv.mod_revision) };
  return { type: 'put', entry: toEntry(ev.kv) };
}

function toEntry(kv: IKeyValue): SubnetEntry {
  return { key: kv.key.toString(), value: kv.value.toString(), leaseId: kv.lease || NO_LEASE, modRevision: Number(kv.mod_revision) };
}
