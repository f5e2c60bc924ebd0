/**
 * The gossip store's shared key as the configuration gives it: hex (32 or
 * more digits) or base64, at least 16 bytes either way.
 */
export const MIN_KEY_BYTES = 16;

/** The key's bytes, or a sentence saying what is allowed. */
export function decodeSharedKey(text: string): Uint8Array | string {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length % 2 === 0 && trimmed.length >= MIN_KEY_BYTES * 2) {
    return Uint8Array.from(Buffer.from(trimmed, 'hex'));
  }
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) && trimmed.length % 4 === 0) {
    const bytes = Buffer.from(trimmed, 'base64');
    if (bytes.length >= MIN_KEY_BYTES) return Uint8Array.from(bytes);
  }
  return `must be at least ${MIN_KEY_BYTES} bytes, as hex (${MIN_KEY_BYTES * 2}+ digits) or base64 (e.g. from \`openssl rand -base64 32\`)`;
}
