/** The CNI_* environment a runtime sets for each call (spec 1.0.0, "Parameters"). Pure. */
import { CNI_CODE, CniError } from './errors.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';
const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION'];

export interface CniEnv {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as given, passed on to the delegates. */
  args: string;
  /** Where delegated plugins are looked for. */
  path: string[];
}

// The spec's container ID: letters, digits, and . _ - after the first; it also names a state file, so nothing else.
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
// Linux interface names: at most 15 bytes, no '/', no whitespace, not "." or "..".
const IFNAME = /^[^/\s:]{1,15}$/;

function missing(name: string, why: string): CniError {
  return new CniError(CNI_CODE.INVALID_ENVIRONMENT, `${name} is not set`, `${name} must be set for this command: ${why}`);
}

/** Reads the command; VERSION needs nothing else. */
export function cniCommand(env: NodeJS.ProcessEnv): CniCommand {
  const command = env.CNI_COMMAND;
  if (command === undefined || command === '') throw missing('CNI_COMMAND', `one of ${COMMANDS.join(', ')}`);
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(CNI_CODE.INVALID_ENVIRONMENT, `unknown CNI_COMMAND "${command}"`, `CNI_COMMAND must be one of ${COMMANDS.join(', ')}`);
  }
  return command as CniCommand;
}

/** Reads and checks what ADD, DEL and CHECK need (CNI_NETNS may be empty on DEL, as the spec allows). */
export function parseCniEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = cniCommand(env);
  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId === '') throw missing('CNI_CONTAINERID', 'it names the container');
  if (!CONTAINER_ID.test(containerId)) {
    throw new CniError(
      CNI_CODE.INVALID_ENVIRONMENT,
      `invalid CNI_CONTAINERID "${containerId}"`,
      'CNI_CONTAINERID must start with a letter or digit and hold only letters, digits, ".", "_" and "-"',
    );
  }
  const netns = env.CNI_NETNS ?? '';
  if (netns === '' && command !== 'DEL') throw missing('CNI_NETNS', "the container's network namespace (a path such as /run/netns/NAME)");
  const ifname = env.CNI_IFNAME ?? '';
  if (ifname === '') throw missing('CNI_IFNAME', 'the interface name inside the container');
  if (!IFNAME.test(ifname) || ifname === '.' || ifname === '..') {
    throw new CniError(
      CNI_CODE.INVALID_ENVIRONMENT,
      `invalid CNI_IFNAME "${ifname}"`,
      'CNI_IFNAME must be an interface name: 1 to 15 characters, no "/", ":" or spaces',
    );
  }
  const path = (env.CNI_PATH ?? '').split(':').filter((dir) => dir !== '');
  if (path.length === 0) throw missing('CNI_PATH', 'where the bridge and host-local plugins are');
  return { command, containerId, netns, ifname, args: env.CNI_ARGS ?? '', path };
}
