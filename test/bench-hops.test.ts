// The round trip hop by hop (src/bench/round-trip.ts) from perf script lines as perf 6.1 prints them: ping in
// host a (pid 9527) through tulle daemons a (9440) and b (9441), taken from a real trace and shifted in time.
import t from 'tap';
import { hopTable, medianHops, parseTrace, roundTripHops } from '../src/bench/round-trip.js';

type Line = [comm: string, pid: number, tid: number, us: number, event: string, detail: string];

/** One ping's events, starting at `at` µs (the real trace's offsets); `lost`: b never answers. */
function ping(at: number, lost = false): Line[] {
  const lines: Line[] = [
    ['ping', 9527, 9527, 0, 'syscalls:sys_enter_sendto', 'fd: 0x00000003, buff: 0x55f0f9be1b80, len: 0x00000040'],
    ['ping', 9527, 9527, 33, 'net:net_dev_queue', 'dev=tulle0 skbaddr=0xffff88812a84d100 len=84'],
    ['tulle-duplex', 9440, 9467, 76, 'syscalls:sys_exit_read', '0x5e'],
    ['tulle-duplex', 9440, 9467, 79, 'syscalls:sys_exit_read', '0xfffffffffffffff5'],
    ['node', 9440, 9440, 85, 'syscalls:sys_exit_read', '0x8'],
    ['tulle-duplex', 9440, 9467, 98, 'syscalls:sys_enter_sendmmsg', 'fd: 0x00000015, mmsg: 0x7fd24028de38, vlen: 0x00000001'],
    ['tulle-duplex', 9440, 9467, 109, 'net:net_dev_queue', 'dev=eth0 skbaddr=0xffff88812a84d100 len=148'],
  ];
  if (!lost)
    lines.push(
      ['tulle-duplex', 9441, 9473, 153, 'syscalls:sys_exit_recvmmsg', '0x1'],
      ['tulle-duplex', 9440, 9467, 141, 'syscalls:sys_exit_sendmmsg', '0x1'],
      ['tulle-duplex', 9441, 9473, 163, 'syscalls:sys_enter_writev', 'fd: 0x00000012, vec: 0x7ff207ff8c30, vlen: 0x00000001'],
      ['tulle-duplex', 9441, 9473, 180, 'net:net_dev_queue', 'dev=tulle0 skbaddr=0xffff8881c156a300 len=84'],
      ['tulle-duplex', 9441, 9473, 183, 'syscalls:sys_exit_writev', '0x5e'],
      ['tulle-duplex', 9441, 9473, 189, 'syscalls:sys_exit_read', '0x5e'],
      ['tulle-duplex', 9441, 9473, 197, 'syscalls:sys_enter_sendmmsg', 'fd: 0x0000001b, mmsg: 0x7ff1fc292898, vlen: 0x00000001'],
      ['tulle-duplex', 9440, 9467, 224, 'syscalls:sys_exit_recvmmsg', '0x1'],
      ['tulle-duplex', 9440, 9467, 236, 'syscalls:sys_enter_writev', 'fd: 0x00000012, vec: 0x7fd252d91c30, vlen: 0x00000001'],
      ['tulle-duplex', 9440, 9467, 260, 'syscalls:sys_exit_writev', '0x5e'],
    );
  return lines.map(([c, p, tid, us, e, d]) => [c, p, tid, at + us, e, d]);
}

function script(lines: Line[]): string {
  const time = (us: number) => (us / 1e6).toFixed(6);
  return lines.map(([c, p, tid, us, e, d]) => `${c.padStart(16)} ${p}/${tid} ${time(us).padStart(13)}: ${e.padStart(30)}: ${d}`).join('\n') + '\n';
}

t.test('parsing perf script lines', (t) => {
  const events = parseTrace(script(ping(72_842_655_722)) + 'a line that is not an event\n');
  t.equal(events.length, 17, 'every event line, nothing else');
  t.same(events[0], {
    comm: 'ping',
    pid: 9527,
    tid: 9527,
    time: 72_842_655_722,
    event: 'sys_enter_sendto',
    detail: 'fd: 0x00000003, buff: 0x55f0f9be1b80, len: 0x00000040',
  });
  t.ok(
    events.every((e, i) => i === 0 || e.time >= events[i - 1].time),
    'in time order, whatever order perf printed them in (b received before a had left sendmmsg)',
  );
  t.end();
});

t.test('hops of one round trip', (t) => {
  const hops = roundTripHops(parseTrace(script(ping(1_000_000))), 9440, 9441)!;
  t.same(
    hops.hops.map((h) => h.us),
    [33, 43, 22, 55, 10, 26, 8, 27, 12, 24],
    "each hop from the moment the one before caused; a's failed second read and node's read are not a's read",
  );
  t.equal(hops.total_us, 260, 'the hops add up to the round trip');
  t.same([hops.trips, hops.unmatched], [1, 0]);
  t.end();
});

t.test('several pings: medians; a ping without its reply is counted apart', (t) => {
  const lines = [...ping(1_000_000), ...ping(1_050_000, true), ...ping(1_100_000), ...ping(1_150_000)];
  // The third ping's "a: TUN → read" is slow: a late wake-up.
  const slow = lines.findIndex(([c, p, , us, e]) => c === 'tulle-duplex' && p === 9440 && e === 'syscalls:sys_exit_read' && us === 1_100_076);
  lines[slow] = ['tulle-duplex', 9440, 9467, 1_100_090, 'syscalls:sys_exit_read', '0x5e'];
  const hops = roundTripHops(parseTrace(script(lines)), 9440, 9441)!;
  t.same([hops.trips, hops.unmatched], [3, 1], '3 whole round trips, 1 ping whose reply never came');
  t.equal(hops.hops[1].us, 43, 'the median of 43, 57 (late) and 43');
  t.equal(hops.total_us, 260, 'the median round trip');
  t.equal(roundTripHops(parseTrace(script(ping(0, true))), 9440, 9441), undefined, 'no whole round trip: nothing');
  t.equal(roundTripHops(parseTrace(script(ping(0))), 9441, 9440), undefined, 'hosts swapped: the events make no round trip, so nothing');
  t.end();
});

t.test('repetitions and the table', (t) => {
  const one = roundTripHops(parseTrace(script(ping(1_000_000))), 9440, 9441)!;
  const doubled = { ...one, total_us: 520, hops: one.hops.map((h) => ({ ...h, us: h.us * 2 })) };
  const both = medianHops([one, doubled, one])!;
  t.equal(both.total_us, 260, 'the median of 3 repetitions');
  t.equal(both.trips, 3);
  t.equal(medianHops([]), undefined);
  const table = hopTable([{ system: 'tulle-vxlan', hops: one, rtt_ms: 0.2 }]);
  t.match(table, /\| hop, µs \(median\) \| tulle-vxlan \|/, 'a column per system');
  t.match(table, /\| a → b: send, underlay, receive \| 55\.0 \|/, 'a line per hop');
  t.match(table, /\| \*\*round trip, traced\*\* \| \*\*260\.0\*\* \|/);
  t.match(table, /\| RTT untraced \(the RTT column\) \| 200\.0 \|/, 'beside the untraced RTT');
  t.equal(hopTable([]), '', 'no tulle row traced: no table');
  t.end();
});
