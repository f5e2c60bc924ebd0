/**
 * A failed etcd call that the credentials explain, said in words: a TLS
 * handshake that fails (tls-probe.ts), a wrong password, a user without the
 * permission. Such a failure at start-up is a mistake in the configuration
 * and ends the start (connection.ts); later it is logged while the store
 * keeps retrying, as for an outage.
 */
import type { EtcdCredentialSources, EtcdCredentials } from './tls-files.js';
import { probeTls } from './tls-probe.js';

export interface FailureContext {
  endpoints: readonly string[];
  sources: EtcdCredentialSources;
  credentials: EtcdCredentials;
  prefix: string;
}

export async function explainFailure(error: unknown, ctx: FailureContext): Promise<string | undefined> {
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.constructor.name : '';
  const user = ctx.credentials.auth?.username;
  const passwordFrom = ctx.sources.passwordFile !== undefined ? `store.passwordFile (${ctx.sources.passwordFile})` : 'store.password (TULLE_ETCD_PASSWORD)';
  if (name === 'EtcdAuthenticationFailedError' || /authentication failed, invalid user ID or password/.test(message))
    return `etcd authentication failed for user '${user ?? '?'}': wrong user name or password (${passwordFrom})`;
  if (/authentication is not enabled/.test(message))
    return `store.username is set ('${user ?? '?'}') but etcd has authentication turned off (etcdctl auth enable): leave the user name and password out`;
  if (name === 'EtcdPermissionDeniedError' || /permission denied/.test(message)) {
    const who = user !== undefined ? `user '${user}'` : 'the user of the client certificate (its common name)';
    return `etcd refused ${who}: permission denied; it needs a role with readwrite on ${ctx.prefix}/ (etcdctl role grant-permission --prefix)`;
  }
  if (name === 'EtcdInvalidAuthTokenError' || /user name is empty|user name not found/.test(message))
    return `etcd authentication failed: ${message.split('\n')[0]} (store.username, ${passwordFrom})`;
  // A failed handshake shows as an unreachable server; only a TLS handshake can tell the two apart.
  const tls = ctx.credentials.tls;
  if (tls === undefined && !ctx.endpoints.some((e) => e.startsWith('https://'))) return undefined;
  if (!/UNAVAILABLE|No connection established|SSL|certificate|TLS/i.test(message)) return undefined;
  for (const endpoint of ctx.endpoints) {
    const answer = await probeTls({
      endpoint,
      ca: tls?.ca,
      cert: tls?.cert,
      key: tls?.key,
      caFile: ctx.sources.tls?.caFile,
      certFile: ctx.sources.tls?.certFile,
    });
    if (answer !== undefined) return answer;
  }
  // A TLS failure the handshake above did not reproduce (it may have been the server's only once): still said
  // as one, with OpenSSL's reason and without gRPC's wrapping, so that a start-up ends instead of retrying.
  const reason = /Last error: (?:Error(?: \[[A-Z_]+\])?: )?(.*?)(?:\. Resolution note|$)/s.exec(message)?.[1]?.split('\n')[0];
  // A connection that dropped during the handshake (a server restarting) is an outage, not a TLS problem.
  const dropped = /socket disconnected|ECONNRESET|EPIPE|timed? ?out/i;
  if (reason !== undefined && /SSL|TLS|certificate|alert/i.test(reason) && !dropped.test(reason))
    return `TLS to etcd at ${ctx.endpoints.join(', ')} failed: ${tidy(reason)}`;
  return undefined;
}

/** OpenSSL's "80DC…:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/…" → "sslv3 alert bad certificate". */
function tidy(reason: string): string {
  const openssl = /:SSL routines:[^:]*:([^:]+)/.exec(reason);
  return (openssl?.[1] ?? reason).trim();
}
