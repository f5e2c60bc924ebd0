// The cost model's pure parts: perf script lines into buckets, per-thread system-call counts, and the figures
// a test's records give (µs per packet by bucket, per byte, the rate the busiest thread allows).
import t from 'tap';
import { costFigures, costTables, medianFigures, perByteNs, type CostRecord } from '../src/bench/cost-model.js';
import { bucketOf, emptyCounts, parseScriptLine, profileOf } from '../src/bench/profile-buckets.js';
import { perThreadCounts, PROFILE_HZ, type ProfileWindow } from '../src/bench/profile.js';

const TULLE = new Set([4242]);
const line = (comm: string, pid: number, tid: number, ip: string, sym: string, dso: string) =>
  `${comm.padStart(16)} ${pid}/${tid} ${ip.padStart(16)} ${sym} (${dso})`;

t.test('perf script lines: names with spaces, unknown symbols, kernel or user addresses', async (t) => {
  t.same(parseScriptLine(line('V8 DefaultWorke', 4242, 4250, '1417b60', 'v8::internal::Foo(int, char)', '/usr/bin/node')), {
    comm: 'V8 DefaultWorke',
    pid: 4242,
    tid: 4250,
    sym: 'v8::internal::Foo(int, char)',
    dso: '/usr/bin/node',
    kernel: false,
  });
  t.match(parseScriptLine(line('tulle-duplex', 4242, 4251, 'ffffffff8161c003', 'tun_get_user', '[kernel.kallsyms]')), { kernel: true, sym: 'tun_get_user' });
  t.equal(parseScriptLine(line('tulle-duplex', 4242, 4251, '7f0012345678', '[unknown]', '[unknown]'))?.sym, '', 'JIT code has no symbol');
  t.equal(parseScriptLine('not a sample'), undefined);
  t.equal(parseScriptLine(''), undefined);
});

t.test('each sample goes to one bucket by what it was doing', async (t) => {
  const k = (sym: string, pid = 4242, comm = 'tulle-duplex') =>
    bucketOf(parseScriptLine(line(comm, pid, pid, 'ffffffff81000000', sym, '[kernel.kallsyms]'))!, TULLE);
  const u = (sym: string, dso: string, pid = 4242) => bucketOf(parseScriptLine(line('tulle-duplex', pid, pid, '7f0000001000', sym, dso))!, TULLE);
  t.equal(k('pv_native_safe_halt', 0, 'swapper'), undefined, 'an idle CPU is no bucket');
  t.equal(k('default_idle'), undefined);
  t.equal(k('csum_partial'), 'checksum');
  t.equal(k('csum_partial_copy_generic'), 'checksum', 'a copy that checksums counts as a checksum');
  t.equal(u('tulle::Checksum', '/work/x/native/build/Release/tulle.node'), 'checksum', "the addon's checksums too");
  t.equal(k('rep_movs_alternative'), 'copy');
  t.equal(k('_copy_to_iter'), 'copy');
  t.equal(u('__memmove_avx_unaligned_erms', '/usr/lib/x86_64-linux-gnu/libc.so.6'), 'copy');
  t.equal(k('entry_SYSCALL_64'), 'syscall');
  t.equal(k('__x64_sys_sendmmsg'), 'syscall');
  t.equal(k('syscall_exit_to_user_mode'), 'syscall');
  t.equal(k('__schedule'), 'wakeup');
  t.equal(k('try_to_wake_up'), 'wakeup');
  t.equal(k('schedule_hrtimeout_range'), 'wakeup');
  t.equal(k('__sk_mem_schedule'), 'stack', 'socket memory accounting is not the scheduler');
  t.equal(k('__udp_enqueue_schedule_skb'), 'stack');
  t.equal(k('do_sys_poll'), 'wakeup', 'poll is sleeping, not a system call of the data path');
  t.equal(k('tun_chr_poll'), 'wakeup');
  t.equal(k('tun_get_user'), 'tun');
  t.equal(k('vxlan_xmit_one'), 'tunnel');
  t.equal(k('udp_tunnel_xmit_skb'), 'tunnel');
  t.equal(k('ip_finish_output2'), 'stack');
  t.equal(k('__napi_poll'), 'stack', 'NAPI polling is the stack, not sleeping');
  t.equal(u('', '[unknown]'), 'js', "JIT code in tulle's process");
  t.equal(u('Builtins_CallFunction', '/usr/bin/node'), 'js');
  t.equal(u('tulle::EncapBatch', '/x/tulle.node'), 'addon');
  t.equal(u('iperf_send', '/usr/lib/libiperf.so.0', 999), 'apps', "another process's user space is the generators'");
  t.equal(k('tcp_sendmsg', 999, 'iperf3'), 'stack', 'kernel work counts by what it is, whoever ran it');
});

t.test('a profile counts buckets, idle CPUs and the overlay threads', async (t) => {
  const script = [
    line('swapper', 0, 0, 'ffffffff8224215b', 'pv_native_safe_halt', '[kernel.kallsyms]'),
    line('tulle-duplex', 4242, 4251, 'ffffffff81000000', 'tun_get_user', '[kernel.kallsyms]'),
    line('tulle-duplex', 4242, 4251, 'ffffffff81000000', 'csum_partial', '[kernel.kallsyms]'),
    line('node', 4242, 4242, '18c5b0c', 'Builtins_Foo', '/usr/bin/node'),
    line('iperf3', 999, 999, '7f00', 'iperf_send', '/usr/lib/libiperf.so.0'),
    'garbage',
  ].join('\n');
  const p = profileOf(script, TULLE);
  t.equal(p.lines, 5);
  t.equal(p.idle, 1);
  t.same(p.buckets, { ...emptyCounts(), tun: 1, checksum: 1, js: 1, apps: 1 });
  t.same(p.overlayThreads, { 'tulle-duplex': 2, node: 1 });
});

t.test('perf stat --per-thread lines', async (t) => {
  t.same(
    perThreadCounts(
      'tulle-duplex-27336,2636,,raw_syscalls:sys_enter,52253818,100.00,,\nnode-27338,<not counted>,,raw_syscalls:sys_enter,0,100.00,,\n# comment\n',
    ),
    {
      27336: 2636,
    },
  );
});

const window = (buckets: Partial<ReturnType<typeof emptyCounts>>, syscalls: Record<number, number> = {}): ProfileWindow => ({
  buckets: { ...emptyCounts(), ...buckets },
  idle: 0,
  overlayThreads: {},
  lines: 0,
  seconds: 2,
  hz: PROFILE_HZ,
  syscalls,
});

t.test('figures: µs per datagram by bucket, per thread, and the rate the busiest thread allows', async (t) => {
  // 100 kpps for 2 s: 200,000 datagrams; 999 samples/s → 1 sample ≈ 1.001 ms.
  const rec: CostRecord = {
    test: 'udp_small',
    size: 64,
    seconds: 4,
    rate: 100,
    profile: window({ tun: 999, js: 1998 }, { 11: 100_000 }),
    threads: [
      { pid: 1, tid: 11, name: 'tulle-duplex', cpu_s: 2, sleeps: 4000, host: 'a', packets: 400_000, bytes: 0 },
      { pid: 2, tid: 21, name: 'tulle-duplex', cpu_s: 3.2, sleeps: 0, host: 'b', packets: 400_000, bytes: 0 },
    ],
  };
  const c = costFigures(rec);
  t.equal(c.per_unit_us!.tun, 5, '1 s of TUN over 200,000 datagrams: 5 µs each');
  t.equal(c.per_unit_us!.js, 10);
  t.equal(c.total_us, 15);
  t.same(
    c.threads.map((x) => [x.host, x.us, x.sleeps_per_packet, x.limit]),
    [
      ['a', 5, 0.01, 200],
      ['b', 8, 0, 125],
    ],
  );
  t.equal(c.threads[0].syscalls_per_packet, 0.5, '100,000 calls over the window’s share (2 of 4 s) of 400,000 packets');
  t.equal(c.threads[1].syscalls_per_packet, null, 'no count: none');
  t.equal(c.limit, 125, 'the busiest thread sets the limit');
  t.equal(c.of_limit, 0.8);

  const tcp = costFigures({
    test: 'tcp1',
    size: null,
    seconds: 4,
    rate: 8,
    profile: window({ copy: 999 }),
    threads: [{ ...rec.threads[0], bytes: 4e9, packets: 1000 }],
  });
  t.equal(tcp.per_unit_us!.copy, 500, '8 Gb/s for 2 s is 2,000 MB: 1 s of copies is 500 µs per MB');
  t.equal(tcp.threads[0].us, 500, '2 s of CPU for 4,000 MB');
  t.equal(tcp.threads[0].limit, 16, 'at 500 µs per MB a thread allows 16 Gb/s');

  const twoThreads = costFigures({
    ...rec,
    threads: [
      { pid: 1, tid: 11, name: 'tulle-tx', cpu_s: 2, sleeps: 0, host: 'a', packets: 400_000, bytes: 0 },
      { pid: 1, tid: 12, name: 'tulle-rx', cpu_s: 0.01, sleeps: 90, host: 'a', packets: 100, bytes: 0 },
    ],
  });
  t.same(
    twoThreads.threads.map((x) => [x.name, x.carries, x.limit]),
    [
      ['tulle-tx', true, 200],
      ['tulle-rx', false, 10],
    ],
    "the sender's RX thread, with a few packets, has a cost but carries no traffic",
  );
  t.equal(twoThreads.limit, 200, 'so the limit is the TX thread’s');
  t.match(costTables([{ system: 's', figures: [twoThreads] }]), /\| tulle-rx \(a\) \| 100\.00 \| 0\.900 \| – \| 10\.0 kpps \(other direction\) \|/);

  const crossed = costFigures({ ...rec, crossed: 200 });
  t.equal(crossed.per_unit_us!.tun, 2.5, 'datagrams the receiving application dropped count as carried: twice as many, half the cost each');
  t.equal(crossed.measured, 100, 'the measured rate stays what was received');

  const bare = costFigures({ ...rec, profile: undefined });
  t.equal(bare.per_unit_us, null, 'without a profile, no breakdown');
  t.equal(bare.limit, 125, 'but the threads still set a limit');
});

t.test('per byte, medians over reps, and the tables', async (t) => {
  const small = costFigures({ test: 'udp_small', size: 64, seconds: 4, rate: 100, profile: window({ copy: 999 }), threads: [] });
  const large = costFigures({ test: 'udp', size: 1064, seconds: 4, rate: 100, profile: window({ copy: 2997 }), threads: [] });
  t.equal(perByteNs(small, large)!.copy, 10, '10 µs more for 1,000 bytes more: 10 ns per byte');
  t.equal(perByteNs(small, small), null, 'one size says nothing per byte');
  const reps = [50, 100, 70].map((rate) =>
    costFigures({
      test: 'udp',
      size: 1400,
      seconds: 4,
      rate,
      profile: window({ tun: 999 }),
      threads: [{ pid: 1, tid: 11, name: 'tulle-tx', cpu_s: 2, sleeps: 0, host: 'a', packets: 400_000, bytes: 0 }],
    }),
  );
  const m = medianFigures(reps);
  t.equal(m.measured, 70);
  t.equal(m.per_unit_us!.tun, 7.143, 'the median of 10, 5 and 7.143 µs');
  t.equal(m.threads[0].limit, 200);
  const md = costTables([{ system: 'tulle-vxlan', figures: [small, large] }]);
  t.match(md, /\| tulle-vxlan \| UDP 64 B, per datagram \| 5\.00 \|/);
  t.match(md, /\| tulle-vxlan \| 64→1064 B \| 10\.000 \|/);
  t.match(md, /Buckets: copies: copies/);
  t.equal(costTables([]), '', 'nothing measured: no tables');
});
