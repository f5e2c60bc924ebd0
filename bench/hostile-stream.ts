/**
 * The verified transfer of `npm run hostile`, run inside the lab's namespaces:
 *   server ADDR PORT          accept one connection; at its end print {bytes, sha256} of what arrived
 *   client ADDR PORT SECONDS  send a deterministic stream until SIGUSR2 or SECONDS, then print {bytes, sha256, seconds}
 * Both ends hash the bytes, so one changed, lost or injected byte shows as a mismatch.
 */
import { createCipheriv, createHash } from 'node:crypto';
import net from 'node:net';

const [command, address, portText, secondsText] = process.argv.slice(2);
const port = Number(portText);
const print = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');

function server(): void {
  const hash = createHash('sha256');
  let bytes = 0;
  const srv = net.createServer((socket) => {
    socket.on('data', (chunk) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    socket.on('end', () => {
      print({ bytes, sha256: hash.digest('hex') });
      socket.end();
      srv.close();
    });
    socket.on('error', (error) => {
      print({ error: error.message, bytes });
      process.exit(1);
    });
  });
  srv.listen(port, address, () => print({ listening: true }));
}

async function client(): Promise<void> {
  // AES-CTR over zeros: a fast, deterministic pseudo-random stream.
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(256 * 1024);
  const hash = createHash('sha256');
  const socket = net.connect(port, address);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let stop = false;
  process.once('SIGUSR2', () => (stop = true));
  const started = Date.now();
  const limit = started + Number(secondsText) * 1000;
  let sent = 0;
  while (!stop && Date.now() < limit) {
    const chunk = cipher.update(zeros);
    hash.update(chunk);
    sent += chunk.length;
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  await new Promise<void>((resolve) => socket.end(resolve));
  await new Promise((resolve) => socket.once('close', resolve));
  print({ bytes: sent, sha256: hash.digest('hex'), seconds: (Date.now() - started) / 1000 });
}

if (command === 'server') server();
else if (command === 'client') await client();
else {
  process.stderr.write('usage: hostile-stream server ADDR PORT | client ADDR PORT SECONDS\n');
  process.exit(2);
}
