/**
 * The gossip keyring file: one key per line (hex or base64), the first signs,
 * every one verifies. Read at start and again on SIGHUP, so keys rotate
 * without a restart (docs/security.md has the steps).
 */
import { readFileSync } from 'node:fs';

/** The keys in `file`, in order; throws naming the file when it holds none. */
export function readKeyFile(file: string): string[] {
  const keys = readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  if (keys.length === 0) throw new Error(`store.keyFile ${file}: holds no key; give one key per line (hex or base64, at least 16 bytes)`);
  return keys;
}
