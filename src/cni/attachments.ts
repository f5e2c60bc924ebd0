/**
 * What DEL needs per container, kept on disk (flannel keeps the same in
 * /var/lib/cni/flannel): the delegate configuration ADD used, so DEL releases
 * the same address through the same plugins after tulle or the host
 * restarted, whatever subnet.env says by then.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_CODE, CniError } from './errors.js';
import { isObject, type JsonObject } from './net-conf.js';

const FORMAT = 1;

export interface Attachment {
  containerId: string;
  ifname: string;
  delegate: JsonObject;
}

/** One file per attachment; "@" cannot be in a container ID, so the name splits back one way. */
export function attachmentFile(dataDir: string, containerId: string, ifname: string): string {
  return join(dataDir, `${containerId}@${ifname}.json`);
}

export function saveAttachment(dataDir: string, a: Attachment): void {
  const file = attachmentFile(dataDir, a.containerId, a.ifname);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.tmp`, JSON.stringify({ format: FORMAT, ...a }), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch (error) {
    throw new CniError(CNI_CODE.IO_FAILURE, `cannot record the attachment in ${dataDir}`, (error as Error).message);
  }
}

/** The attachment ADD recorded, or undefined when there is none. */
export function loadAttachment(dataDir: string, containerId: string, ifname: string): Attachment | undefined {
  const file = attachmentFile(dataDir, containerId, ifname);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CniError(CNI_CODE.IO_FAILURE, `cannot read ${file}`, (error as Error).message);
  }
  let saved: unknown;
  try {
    saved = JSON.parse(text);
  } catch {
    saved = undefined;
  }
  if (!isObject(saved) || saved.format !== FORMAT || !isObject(saved.delegate)) {
    throw new CniError(
      CNI_CODE.DECODE_FAILURE,
      `${file} is not an attachment record`,
      `expected {"format": ${FORMAT}, "delegate": {...}}; remove the file if the container is gone`,
    );
  }
  return { containerId, ifname, delegate: saved.delegate };
}

export function removeAttachment(dataDir: string, containerId: string, ifname: string): void {
  rmSync(attachmentFile(dataDir, containerId, ifname), { force: true });
}
