/**
 * The etcd client's credentials as the configuration names them: a CA
 * file, a client certificate and key (TLS), a user name and password
 * (etcd's own authentication). The files are read here, at start and again
 * on SIGHUP, and checked before gRPC sees them: gRPC reports a bad PEM or a
 * key that does not fit its certificate only as a failed connection, with
 * no word about which file is wrong.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Where the credentials come from (the etcd store's keys in the configuration). */
export interface EtcdCredentialSources {
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  username?: string;
  /** The password itself: from the environment (TULLE_ETCD_PASSWORD) or the configuration file, never argv. */
  password?: string;
  passwordFile?: string;
}

/** What the etcd client is given. */
export interface EtcdCredentials {
  /** Present for TLS: PEM bytes; no `ca` means the system's CAs. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
  /** When the client certificate runs out, for the log. */
  certExpires?: Date;
}

/** One problem, at a path below `store` (e.g. ["tls", "caFile"]); `value` is the file named, never a secret. */
export interface CredentialProblem {
  path: string[];
  message: string;
  value?: string;
}

/** The configuration's name of a key below `store`, as messages show it. */
export const settingName = (path: readonly string[]): string => `store.${path.join('.')}`;

export function hasCredentials(src: EtcdCredentialSources): boolean {
  const tls = src.tls ?? {};
  return [tls.caFile, tls.certFile, tls.keyFile, src.username, src.password, src.passwordFile].some((v) => v !== undefined);
}

export function usesTls(src: EtcdCredentialSources): boolean {
  const tls = src.tls ?? {};
  return [tls.caFile, tls.certFile, tls.keyFile].some((v) => v !== undefined);
}

/** Keys that go together or exclude each other; reads nothing. */
export function pairingProblems(src: EtcdCredentialSources): CredentialProblem[] {
  const problems: CredentialProblem[] = [];
  const tls = src.tls ?? {};
  if (tls.certFile !== undefined && tls.keyFile === undefined)
    problems.push({ path: ['tls', 'keyFile'], message: `is missing: ${settingName(['tls', 'certFile'])} needs the key of its certificate` });
  if (tls.keyFile !== undefined && tls.certFile === undefined)
    problems.push({ path: ['tls', 'certFile'], message: `is missing: ${settingName(['tls', 'keyFile'])} needs the certificate it is the key of` });
  if (src.password !== undefined && src.passwordFile !== undefined)
    problems.push({ path: ['passwordFile'], message: 'is given together with store.password (TULLE_ETCD_PASSWORD): give one' });
  const hasPassword = src.password !== undefined || src.passwordFile !== undefined;
  if (src.username !== undefined && !hasPassword)
    problems.push({ path: ['passwordFile'], message: 'is missing: store.username needs a password, from store.passwordFile or TULLE_ETCD_PASSWORD' });
  if (src.username === undefined && hasPassword)
    problems.push({ path: ['username'], message: 'is missing: a password is given (store.passwordFile or TULLE_ETCD_PASSWORD) but no user name' });
  return problems;
}

/** Reads and checks every file named; `problems` is empty when `credentials` can be used. */
export function readCredentials(src: EtcdCredentialSources, now = new Date()): { credentials: EtcdCredentials; problems: CredentialProblem[] } {
  const problems = pairingProblems(src);
  const credentials: EtcdCredentials = {};
  const tls = src.tls ?? {};
  const file = (path: string[], name: string | undefined): string | undefined => {
    if (name === undefined) return undefined;
    try {
      return readFileSync(name, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
      problems.push({ path, message: `cannot be read: ${why}`, value: name });
      return undefined;
    }
  };
  if (usesTls(src)) {
    credentials.tls = {};
    const caText = file(['tls', 'caFile'], tls.caFile);
    if (caText !== undefined) {
      const why = certificatesProblem(caText);
      if (why !== undefined) problems.push({ path: ['tls', 'caFile'], message: why, value: tls.caFile });
      else credentials.tls.ca = Buffer.from(caText);
    }
    const certText = file(['tls', 'certFile'], tls.certFile);
    const keyText = file(['tls', 'keyFile'], tls.keyFile);
    let leaf: X509Certificate | undefined;
    if (certText !== undefined) {
      const why = certificatesProblem(certText);
      if (why !== undefined) problems.push({ path: ['tls', 'certFile'], message: why, value: tls.certFile });
      else {
        leaf = new X509Certificate(pemBlocks(certText)[0]);
        const from = new Date(leaf.validFrom);
        const to = new Date(leaf.validTo);
        if (to.getTime() < now.getTime())
          problems.push({ path: ['tls', 'certFile'], message: `the client certificate expired on ${to.toISOString()}`, value: tls.certFile });
        else if (from.getTime() > now.getTime())
          problems.push({ path: ['tls', 'certFile'], message: `the client certificate is not valid before ${from.toISOString()}`, value: tls.certFile });
        credentials.tls.cert = Buffer.from(certText);
        credentials.certExpires = to;
      }
    }
    if (keyText !== undefined) {
      let key: KeyObject | undefined;
      try {
        key = createPrivateKey(keyText);
      } catch (error) {
        const encrypted = /ENCRYPTED|passphrase/i.test(keyText) || /passphrase/i.test((error as Error).message);
        problems.push({
          path: ['tls', 'keyFile'],
          message: encrypted ? 'is an encrypted key: give it unencrypted (e.g. openssl pkey -in key.pem -out plain.pem)' : 'is not a PEM private key',
          value: tls.keyFile,
        });
      }
      if (key !== undefined) {
        credentials.tls.key = Buffer.from(keyText);
        if (leaf !== undefined && !leaf.checkPrivateKey(key))
          problems.push({ path: ['tls', 'keyFile'], message: `is not the key of the certificate in store.tls.certFile (${tls.certFile})`, value: tls.keyFile });
      }
    }
  }
  if (src.username !== undefined) {
    let password = src.password;
    if (src.passwordFile !== undefined && src.password === undefined) {
      const text = file(['passwordFile'], src.passwordFile);
      // The file's last line break is not part of the password (echo and editors add one).
      password = text?.replace(/\r?\n$/, '');
      if (password === '') problems.push({ path: ['passwordFile'], message: 'is empty: it must hold the password', value: src.passwordFile });
    }
    if (password !== undefined && password !== '') credentials.auth = { username: src.username, password };
  }
  return { credentials, problems };
}

export class CredentialsError extends Error {
  constructor(readonly problems: CredentialProblem[]) {
    super(`etcd credentials:\n${problems.map((p) => `  - ${formatCredentialProblem(p)}`).join('\n')}`);
    this.name = 'CredentialsError';
  }
}

export function formatCredentialProblem(p: CredentialProblem): string {
  return `${settingName(p.path)}${p.value !== undefined ? ` (${p.value})` : ''}: ${p.message}`;
}

/** The PEM blocks of certificates in `text`. */
function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Why `text` is not one or more PEM certificates, or undefined when it is. */
function certificatesProblem(text: string): string | undefined {
  const blocks = pemBlocks(text);
  if (blocks.length === 0)
    return /PRIVATE KEY-----/.test(text) ? 'holds a private key, not a certificate' : 'is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)';
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      return `holds a PEM block that is not a valid certificate (block ${i + 1} of ${blocks.length})`;
    }
  }
  return undefined;
}
