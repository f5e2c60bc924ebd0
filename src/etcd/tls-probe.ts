/**
 * Why a TLS connection to etcd fails, in words. gRPC reports only "14
 * UNAVAILABLE: No connection established" with OpenSSL's last line (and for
 * a name mismatch not even the names the certificate holds), so on such a
 * failure one TLS handshake is made here with the same CA, certificate and
 * key, and what it shows is said with the file and the setting to fix.
 */
import { checkServerIdentity, connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';

export interface ProbeTarget {
  /** "https://127.0.0.1:2379" */
  endpoint: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  caFile?: string;
  certFile?: string;
}

/** How long a probe may take: a server that accepts TCP and then says nothing is no TLS problem of ours. */
const PROBE_MS = 3000;
/** TLS 1.3: the server judges the client certificate after the handshake is done on our side; its alert comes within a round trip. */
const ALERT_WAIT_MS = 500;

/** A sentence saying what is wrong with TLS to `endpoint`, or undefined when the handshake works (or the server is not reached). */
export function probeTls(target: ProbeTarget): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(target.endpoint.includes('://') ? target.endpoint : `https://${target.endpoint}`);
  } catch {
    return Promise.resolve(undefined);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 2379);
  return new Promise((resolve) => {
    let socket: TLSSocket | undefined;
    const finish = (answer: string | undefined) => {
      clearTimeout(timer);
      socket?.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish(undefined), PROBE_MS);
    socket = connect({
      host,
      port,
      ca: target.ca,
      cert: target.cert,
      key: target.key,
      // Checked below, so that the answer can say what the certificate holds.
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      ...(isIP(host) === 0 ? { servername: host } : {}),
    });
    socket.on('error', (error: NodeJS.ErrnoException) => finish(alertAnswer(error, target)));
    socket.once('secureConnect', () => {
      const s = socket!;
      const peer = s.getPeerCertificate();
      const code = s.authorized ? undefined : String((s.authorizationError as unknown as NodeJS.ErrnoException).code ?? s.authorizationError);
      if (code !== undefined && code !== 'ERR_TLS_CERT_ALTNAME_INVALID') return finish(verifyAnswer(code, peer, target));
      if (code !== undefined || checkServerIdentity(host, peer) !== undefined)
        return finish(`the etcd server certificate at ${target.endpoint} is for ${certNames(peer)}, not ${host}`);
      s.on('data', () => {});
      setTimeout(() => finish(undefined), ALERT_WAIT_MS);
    });
  });
}

/** The server certificate did not verify against the CA. */
function verifyAnswer(code: string, peer: PeerCertificate, target: ProbeTarget): string {
  const where = `the etcd server certificate at ${target.endpoint}`;
  const ca = target.caFile !== undefined ? `the CA in store.tls.caFile (${target.caFile})` : 'a CA this system trusts (give store.tls.caFile)';
  if (code === 'CERT_HAS_EXPIRED') return `${where} expired on ${new Date(peer.valid_to).toISOString()}`;
  if (code === 'CERT_NOT_YET_VALID') return `${where} is not valid before ${new Date(peer.valid_from).toISOString()}`;
  return `${where} is not signed by ${ca} (${code}; it was issued by ${peer.issuer?.CN !== undefined ? `"${peer.issuer.CN}"` : 'an unnamed issuer'})`;
}

/** The server ended the handshake with an alert (it refused our certificate), or the connection failed. */
function alertAnswer(error: NodeJS.ErrnoException, target: ProbeTarget): string | undefined {
  const text = `${error.code ?? ''} ${error.message}`;
  const cert = target.certFile !== undefined ? `the client certificate store.tls.certFile (${target.certFile})` : 'no client certificate';
  if (/WRONG_VERSION_NUMBER|wrong version number|packet length too long/i.test(text))
    return `etcd at ${target.endpoint} does not speak TLS: use http:// for it, or turn TLS on in etcd (--cert-file, --key-file)`;
  if (/CERTIFICATE_REQUIRED|certificate required/i.test(text) || (target.certFile === undefined && /ALERT_(BAD|UNKNOWN)/i.test(text)))
    return `etcd at ${target.endpoint} requires a client certificate (its --client-cert-auth): give store.tls.certFile and store.tls.keyFile`;
  if (/CERTIFICATE_EXPIRED|certificate expired/i.test(text)) return `etcd at ${target.endpoint} refused ${cert}: it has expired`;
  if (/ALERT_UNKNOWN_CA|unknown ca|ALERT_BAD_CERTIFICATE|bad certificate|DECRYPT_ERROR|ALERT_UNSUPPORTED_CERTIFICATE/i.test(text))
    return `etcd at ${target.endpoint} refused ${cert}: it is not signed by a CA etcd trusts (its --trusted-ca-file), or not valid now`;
  return undefined; // not reached, reset, refused: not a TLS problem
}

/** What a certificate is for: its subjectAltName entries, else its common name. */
function certNames(peer: PeerCertificate): string {
  const alt = peer.subjectaltname
    ?.split(',')
    .map((s) => s.trim().replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
  if (alt !== undefined && alt.length > 0) return alt.map((n) => `'${n}'`).join(', ');
  return peer.subject?.CN !== undefined ? `'${peer.subject.CN}'` : 'no name';
}
