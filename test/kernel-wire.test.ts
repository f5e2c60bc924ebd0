// The Linux kernel is the outside judge of our checksums and framing: packets
// built by @tulle/wire are injected through a TUN in a fresh namespace and must
// reach real sockets (directly, and through a kernel vxlan device), corrupted
// ones must not, and the kernel's own VXLAN output must parse.
import t from 'tap';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Lab } from '../src/lab/netns.js';

if (process.getuid?.() !== 0) t.fail('this test needs root (CI runs as root)');
else if (!existsSync('/dev/net/tun')) t.plan(0, 'the kernel has no TUN device (/dev/net/tun missing)');
else {
  const lab = new Lab();
  t.teardown(() => lab.dispose());
  const ns = lab.namespace('kw');
  const child = fileURLToPath(new URL('./helpers/kernel-wire-child.ts', import.meta.url));
  const loader = import.meta.resolve('@tapjs/typescript/import');
  const output = lab.exec(ns, [process.execPath, '--import', loader, child], { timeoutMs: 60_000 });
  const { delivered, reverse } = JSON.parse(output.trim().split('\n').pop()!) as {
    delivered: Record<string, boolean>;
    reverse: Record<string, unknown>;
  };

  t.test('packets built by tulle are accepted by the kernel', async (t) => {
    for (const name of ['udp4', 'udp6', 'vxlan4', 'vxlan6']) t.equal(delivered[name], true, `${name} delivered`);
  });

  t.test('the same packets with a broken checksum or the wrong VNI are not', async (t) => {
    for (const name of [
      'udp4-bad-udp-checksum',
      'udp4-bad-ip-checksum',
      'udp6-bad-udp-checksum',
      'vxlan4-bad-inner-udp-checksum',
      'vxlan4-wrong-vni',
      'vxlan6-bad-outer-udp-checksum',
    ]) {
      t.equal(delivered[name], false, `${name} dropped`);
    }
  });

  t.test("the kernel's VXLAN output parses with @tulle/wire", async (t) => {
    t.equal(reverse.found, true, 'a VXLAN packet came out of the TUN');
    t.equal(reverse.ok, true, `decapsulated (fault: ${String(reverse.fault)})`);
    t.equal(reverse.vni, 42);
    t.equal(reverse.reservedClear, true);
    t.equal(reverse.srcMac, '02:00:5e:00:53:aa');
    t.equal(reverse.dstMac, '02:00:5e:00:53:02');
    t.equal(reverse.outerSrc, '192.0.2.1');
    t.equal(reverse.innerDst, '198.18.1.2');
    t.equal(reverse.innerUdpChecksumOk, true);
    t.equal(reverse.innerPayload, 'from the kernel');
  });
}
