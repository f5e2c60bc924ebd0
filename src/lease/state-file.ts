/**
 * The host's state between runs: `<dir>/lease.json` and `<dir>/host-id`.
 *
 * One owner: a process opens one HostState for its state dir and everything
 * that keeps something there (the daemon's own lease and VTEP MAC, a store's
 * own record) goes through it. Each save rewrites the whole file from memory,
 * atomically (a temporary file renamed over it), so two parts saved at
 * different moments never overwrite each other and a reader, or a restart
 * after kill -9, sees the last whole state.
 *
 * One format (`format: 1`):
 *   { "format": 1,
 *     "lease":  { network, subnet, ipv6Subnet?, backendType, vtepMac?, publicIP },
 *     "stores": { "gossip": <the gossip store's own lease record> } }
 * Files written before the format had a version are read too: the daemon's
 * flat lease and the gossip store's bare record, so an upgrade keeps its lease.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/write-file.js';

export const LEASE_FILE = 'lease.json';
export const HOST_ID_FILE = 'host-id';
export const STATE_FORMAT = 1;

/** What the host keeps about its own lease between runs. */
export interface SavedLease {
  network: string;
  subnet: string;
  ipv6Subnet?: string;
  backendType: string;
  /** vxlan: the VTEP MAC, kept so peers' forwarding entries stay right across a restart. */
  vtepMac?: string;
  publicIP: string;
}

interface StateDocument {
  format: typeof STATE_FORMAT;
  lease?: SavedLease;
  stores?: Record<string, unknown>;
}

/** Host ids as the gossip layer accepts them (a stable name for this host). */
export const HOST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export type StateWarn = (message: string, fields: Record<string, unknown>) => void;

export class HostState {
  readonly dir: string;
  readonly file: string;
  #doc: StateDocument;

  /** Reads what an earlier run kept; an unreadable file is reported through `warn` and treated as none. */
  constructor(dir: string, warn?: StateWarn) {
    this.dir = dir;
    this.file = join(dir, LEASE_FILE);
    this.#doc = readDocument(this.file, warn);
  }

  /** The own lease the last run saved, if any. */
  get lease(): SavedLease | undefined {
    return this.#doc.lease;
  }

  /** What store `name` saved (its own format; the store checks it). */
  storeRecord(name: string): unknown {
    return this.#doc.stores?.[name];
  }

  saveLease(lease: SavedLease): void {
    this.#doc = { ...this.#doc, lease: { ...lease } };
    this.#write();
  }

  saveStoreRecord(name: string, record: unknown): void {
    this.#doc = { ...this.#doc, stores: { ...this.#doc.stores, [name]: record } };
    this.#write();
  }

  /**
   * The host's stable id: read from `host-id`, made and kept on first use. A
   * new one is derived from /etc/machine-id, the network namespace and this
   * state dir, so a host whose state dir is on a tmpfs (/run) gets the same id
   * after a reboot and an etcd store still knows its lease for its own; two
   * daemons in one namespace with their own state dirs get two ids. Without a
   * machine id, it is random.
   */
  hostId(): string {
    const file = join(this.dir, HOST_ID_FILE);
    if (existsSync(file)) {
      const id = readFileSync(file, 'utf8').trim();
      if (!HOST_ID.test(id))
        throw new Error(`${file}: "${id}" is not a valid host id (1–64 characters of A–Z a–z 0–9 . _ : -); remove the file to get a new one`);
      return id;
    }
    const id = derivedHostId(this.dir) ?? randomUUID();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(file, `${id}\n`, 0o600);
    return id;
  }

  #write(): void {
    writeFileAtomic(this.file, `${JSON.stringify(this.#doc, null, 2)}\n`, 0o600);
  }
}

function derivedHostId(dir: string): string | undefined {
  let machine: string;
  let netns: string;
  try {
    machine = readFileSync('/etc/machine-id', 'utf8').trim();
    netns = readlinkSync('/proc/self/ns/net');
  } catch {
    return undefined;
  }
  if (!/^[0-9a-f]{32}$/.test(machine)) return undefined;
  const h = createHash('sha256')
    .update(`tulle host id\0${machine}\0${netns}\0${resolve(dir)}`)
    .digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function readDocument(file: string, warn: StateWarn | undefined): StateDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { format: STATE_FORMAT }; // none yet
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    warn?.(`ignoring ${file}: not JSON (${(error as Error).message}); the host starts afresh`, { file });
    return { format: STATE_FORMAT };
  }
  if (!isObject(value)) {
    warn?.(`ignoring ${file}: not a JSON object; the host starts afresh`, { file });
    return { format: STATE_FORMAT };
  }
  if (value.format === STATE_FORMAT) {
    return {
      format: STATE_FORMAT,
      ...(isSavedLease(value.lease) ? { lease: value.lease } : {}),
      ...(isObject(value.stores) ? { stores: value.stores } : {}),
    };
  }
  if (value.format !== undefined) {
    warn?.(`ignoring ${file}: format ${JSON.stringify(value.format)} is not one this version reads (${STATE_FORMAT}); the host starts afresh`, { file });
    return { format: STATE_FORMAT };
  }
  // Before the format had a version: the daemon's flat lease, or the gossip store's bare record.
  if (isSavedLease(value)) return { format: STATE_FORMAT, lease: value };
  if (typeof value.hostId === 'string' && typeof value.subnet === 'number') return { format: STATE_FORMAT, stores: { gossip: value } };
  warn?.(`ignoring ${file}: not a lease this version knows; the host starts afresh`, { file });
  return { format: STATE_FORMAT };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSavedLease(value: unknown): value is SavedLease {
  return (
    isObject(value) &&
    typeof value.subnet === 'string' &&
    typeof value.network === 'string' &&
    typeof value.backendType === 'string' &&
    typeof value.publicIP === 'string' &&
    (value.vtepMac === undefined || typeof value.vtepMac === 'string') &&
    (value.ipv6Subnet === undefined || typeof value.ipv6Subnet === 'string')
  );
}
