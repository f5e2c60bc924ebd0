/** The real message authenticator: HMAC-SHA256 over (label length, label, datagram), first 16 bytes kept. */
import { createHmac } from 'node:crypto';
import type { Keyring, MacFn } from './envelope.js';

export const hmacSha256: MacFn = (key, label, data) => {
  const h = createHmac('sha256', key);
  h.update(Uint8Array.of(label.length & 255));
  h.update(label);
  h.update(data);
  return h.digest();
};

/** Smallest key accepted, bytes (HMAC-SHA256 keys shorter than the hash weaken it). */
export const MIN_KEY_BYTES = 16;

/**
 * Parses keys given as base64 or hex strings; the first signs. Throws naming
 * the key's position when one is malformed or too short.
 */
export function parseKeyring(keys: readonly string[]): Keyring {
  if (keys.length === 0) throw new Error('keyring: at least one key is needed (base64 or hex, ≥ 16 bytes)');
  const parsed = keys.map((k, i) => {
    const bytes = /^[0-9a-fA-F]+$/.test(k) && k.length % 2 === 0 ? Buffer.from(k, 'hex') : Buffer.from(k, 'base64');
    if (bytes.length < MIN_KEY_BYTES)
      throw new Error(`keyring key #${i + 1}: ${bytes.length} bytes after decoding; must be at least ${MIN_KEY_BYTES} (base64 or hex)`);
    return new Uint8Array(bytes);
  });
  return { keys: parsed, mac: hmacSha256 };
}
