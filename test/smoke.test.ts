import t from 'tap';
import { checksum, sum16Bytes, vxlan } from '../src/wire/index.js';
import { loadNative } from '../src/native/load.js';

t.test('smoke', async (t) => {
  const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  t.equal(sum16Bytes(b, 0, 8), 0xddf2);
  t.equal(checksum(b, 0, 8), ~0xddf2 & 0xffff);
  t.equal(loadNative().checksum(b, 0, 8), ~0xddf2 & 0xffff);
  t.equal(vxlan.OVERHEAD_IPV4, 50);
});
