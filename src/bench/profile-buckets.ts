/**
 * Where CPU time goes, by kind of work (pure): each sample of a system-wide profile (`perf script` lines) is put
 * in one bucket by its function, library and process. The buckets are the cost model's terms: copies,
 * checksums, system calls, sleeping and waking, and the code around them.
 */

export const BUCKETS = ['copy', 'checksum', 'syscall', 'wakeup', 'tun', 'tunnel', 'stack', 'js', 'addon', 'apps'] as const;
export type Bucket = (typeof BUCKETS)[number];

export const BUCKET_LABELS: Record<Bucket, string> = {
  copy: 'copies (memcpy, copy to and from user space)',
  checksum: 'checksums',
  syscall: 'system-call entry and exit',
  wakeup: 'sleeping and waking (poll, scheduler)',
  tun: 'the TUN device',
  tunnel: 'kernel vxlan and UDP tunnel',
  stack: 'the rest of the kernel: IP, UDP, TCP, veth, buffers',
  js: "the overlay's own user space (tulle: Node, V8 and JavaScript)",
  addon: "tulle's addon (batches, headers, offload bookkeeping)",
  apps: 'other user space: the traffic generators (iperf3), and anything else the machine runs',
};

export interface ProfileSample {
  comm: string;
  pid: number;
  tid: number;
  sym: string;
  dso: string;
  /** The sample's address is in the kernel (the upper half of the address space). */
  kernel: boolean;
}

/** One line of `perf script -F comm,pid,tid,ip,sym,dso`: "comm pid/tid ip sym (dso)"; undefined for others. */
export function parseScriptLine(line: string): ProfileSample | undefined {
  // comm may hold spaces ("V8 DefaultWorke"), sym too ("foo(int, char)"): anchor on pid/tid, ip and "(dso)".
  const m = /^\s*(.*?)\s+(\d+)\/(\d+)\s+([0-9a-f]+)\s+(.*?)\s*\(([^()]*)\)\s*$/.exec(line);
  if (!m) return undefined;
  const ip = m[4];
  return {
    comm: m[1],
    pid: Number(m[2]),
    tid: Number(m[3]),
    sym: m[5] === '[unknown]' ? '' : m[5],
    dso: m[6],
    kernel: ip.length === 16 && ip.startsWith('ffff'),
  };
}

const IDLE = /^(swapper|cpuidle|intel_idle|default_idle|pv_native_safe_halt|native_safe_halt|acpi_idle|poll_idle|do_idle|mwait_idle|cpu_idle)/;
const CHECKSUM = /csum|checksum/i;
const COPY = /memcpy|memmove|copy_user|_copy_(to|from)_(iter|user)|copy_(to|from)_user|rep_movs|copy_page|copy_mc|skb_copy_bits/i;
const SYSCALL =
  /^(entry_SYSCALL|entry_SYSRETQ|do_syscall|syscall_|_*x64_sys_|x64_sys_call|_*sys_|_*do_sys_(?!poll)|ksys_|exit_to_user_mode|syscall_exit|_*fdget|_*fget|fput|restore_fpregs|switch_fpu|fpregs_|_*rseq|_*import_iovec|iovec_from_user|_*copy_msghdr|sockfd_lookup|__audit)/;
const WAKEUP =
  /^_*schedule|^schedule_|preempt_schedule|switch_to|finish_task_switch|prepare_task_switch|try_to_wake_up|ttwu|wake_up|^enqueue_|^dequeue_|pick_next|put_prev|set_next_|update_curr|update_load|update_rq|^psi_|select_task_rq|^sched_|^do_poll|do_sys_poll|^_*poll_|pollwake|(chr|sock|datagram|udp|tcp|unix_dgram)_poll$|futex|hrtimer|^tick_|^ep_poll|cpuacct|^account_|raw_spin_rq|native_sched_clock|reweight|^check_preempt|resched|^irqentry|^sysvec|^asm_sysvec/;
const TUN = /^tun_|^__tun_|tun_get_user|tun_put_user/;
const TUNNEL = /vxlan|udp_tunnel|iptunnel|^geneve/;

/**
 * The bucket of one sample, or undefined for an idle CPU. `overlay` holds the pids of the overlay's own
 * processes: their user-space time is the overlay's (`js`, `addon`), other processes' is the generators'.
 */
export function bucketOf(s: ProfileSample, overlay: ReadonlySet<number>): Bucket | undefined {
  if (s.pid === 0 || IDLE.test(s.sym)) return undefined;
  if (CHECKSUM.test(s.sym)) return 'checksum';
  if (COPY.test(s.sym)) return 'copy';
  if (s.kernel) {
    if (SYSCALL.test(s.sym)) return 'syscall';
    if (WAKEUP.test(s.sym)) return 'wakeup';
    if (TUN.test(s.sym)) return 'tun';
    if (TUNNEL.test(s.sym)) return 'tunnel';
    return 'stack';
  }
  if (!overlay.has(s.pid)) return 'apps';
  if (s.dso.endsWith('tulle.node')) return 'addon';
  return 'js';
}

export type BucketCounts = Record<Bucket, number>;

export function emptyCounts(): BucketCounts {
  return Object.fromEntries(BUCKETS.map((b) => [b, 0])) as BucketCounts;
}

export interface Profile {
  /** Samples per bucket (idle CPUs left out). */
  buckets: BucketCounts;
  /** Samples on an idle CPU. */
  idle: number;
  /** Samples per thread of the overlay's processes, by thread name ("tulle-duplex", "node", …), summed over tids. */
  overlayThreads: Record<string, number>;
  lines: number;
}

/** Counts a `perf script` output into buckets. */
export function profileOf(script: string, overlay: ReadonlySet<number>): Profile {
  const buckets = emptyCounts();
  const overlayThreads: Record<string, number> = {};
  let idle = 0;
  let lines = 0;
  for (const line of script.split('\n')) {
    const s = parseScriptLine(line);
    if (!s) continue;
    lines++;
    const b = bucketOf(s, overlay);
    if (b === undefined) {
      idle++;
      continue;
    }
    buckets[b]++;
    if (overlay.has(s.pid)) overlayThreads[s.comm] = (overlayThreads[s.comm] ?? 0) + 1;
  }
  return { buckets, idle, overlayThreads, lines };
}
