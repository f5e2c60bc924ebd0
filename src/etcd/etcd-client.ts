/**
 * The etcd v3 client (the `etcd3` package) set up for a store that must
 * outlive etcd outages: every unary call has a deadline, so a stopped or
 * unreachable server fails calls instead of hanging them, and the package's
 * own retry and circuit-breaker policies are replaced by pass-throughs. Its
 * breaker refuses all calls for 5 s after three failures, which would delay
 * noticing that etcd is back; the store retries with its own backoff instead.
 */
import { Etcd3, type IOptions } from 'etcd3';
import type { EtcdCredentials } from './tls-files.js';

export interface ClientOptions {
  /** etcd client URLs or host:port, e.g. "http://127.0.0.1:2379". */
  endpoints: string[];
  /** Deadline for each unary call, ms. Watch streams have none. */
  callTimeoutMs?: number;
  /** TLS material and a user name and password (tls-files.ts); none: plain http:// without authentication. */
  credentials?: EtcdCredentials;
}

/** Runs each call once, as is: the store's backoff decides when to try again. */
const passThrough = { execute: async (fn: (context: unknown) => unknown) => fn({ signal: new AbortController().signal, attempt: 1 }) };
type Policy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

export function connectEtcd(options: ClientOptions): Etcd3 {
  const timeout = options.callTimeoutMs ?? 5000;
  const tls = options.credentials?.tls;
  const auth = options.credentials?.auth;
  return new Etcd3({
    hosts: options.endpoints,
    // Without a CA file gRPC takes the system's CAs (an empty root certificate means that to it).
    ...(tls !== undefined ? { credentials: { rootCertificate: tls.ca ?? (null as unknown as Buffer), certChain: tls.cert, privateKey: tls.key } } : {}),
    ...(auth !== undefined ? { auth: { username: auth.username, password: auth.password } } : {}),
    dialTimeout: timeout,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    faultHandling: {
      host: () => passThrough as unknown as Policy,
      global: passThrough as unknown as Policy,
    },
  });
}

/** The end of the key range that holds every key starting with `prefix` (etcd's WithPrefix). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key (etcd's convention for "no end")
}

/** One line for a log: the gRPC status message without the package's stack noise. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].slice(0, 200);
}
