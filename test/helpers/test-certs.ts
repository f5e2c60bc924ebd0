// Certificates for TLS tests, made with openssl in a folder the test owns:
// CAs, server and client certificates signed by them (EC P-256), and
// certificates with validity dates in the past (through `openssl ca`, as
// OpenSSL 3.0's x509 command cannot set a start date).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
}

export function haveOpenssl(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export class TestCerts {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** A self-signed CA named `name` (files name.pem, name.key). */
  ca(name: string): CertFiles {
    const files = { cert: join(this.dir, `${name}.pem`), key: join(this.dir, `${name}.key`) };
    openssl(this.dir, ['req', '-x509', ...EC, '-keyout', files.key, '-out', files.cert, '-days', '30', '-subj', `/CN=${name}`]);
    return files;
  }

  /**
   * A certificate for `cn` with the subjectAltName `san` (e.g. "IP:127.0.0.1"), for servers and clients,
   * signed by `ca`; valid for `days` from now, or between `start` and `end` (YYYYMMDDHHMMSSZ).
   */
  leaf(name: string, ca: CertFiles, cn: string, san: string, validity: { days?: number; start?: string; end?: string } = {}): CertFiles {
    const files = { cert: join(this.dir, `${name}.pem`), key: join(this.dir, `${name}.key`) };
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    openssl(this.dir, ['req', ...EC, '-keyout', files.key, '-out', csr, '-subj', `/CN=${cn}`]);
    writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`);
    if (validity.start === undefined) {
      openssl(this.dir, [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        ca.cert,
        '-CAkey',
        ca.key,
        '-CAcreateserial',
        '-out',
        files.cert,
        '-days',
        String(validity.days ?? 7),
        '-extfile',
        ext,
      ]);
      return files;
    }
    // `openssl ca` takes explicit dates; it needs a database and a configuration of its own.
    const db = join(this.dir, `${name}-ca`);
    mkdirSync(db, { recursive: true });
    writeFileSync(join(db, 'index.txt'), '');
    writeFileSync(join(db, 'serial'), '1000\n');
    const config = join(db, 'ca.cnf');
    writeFileSync(
      config,
      [
        '[ca]',
        'default_ca = test',
        '[test]',
        `database = ${join(db, 'index.txt')}`,
        `serial = ${join(db, 'serial')}`,
        `new_certs_dir = ${db}`,
        'policy = any',
        'default_md = sha256',
        '[any]',
        'commonName = supplied',
        '',
      ].join('\n'),
    );
    openssl(this.dir, [
      'ca',
      '-batch',
      '-config',
      config,
      '-cert',
      ca.cert,
      '-keyfile',
      ca.key,
      '-in',
      csr,
      '-out',
      files.cert,
      '-extfile',
      ext,
      '-startdate',
      validity.start,
      '-enddate',
      validity.end ?? validity.start,
      '-notext',
    ]);
    return files;
  }
}
