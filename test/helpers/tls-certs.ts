import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

/**
 * Certificates for mutual TLS tests, made with the machine's `openssl` in a temp folder: a CA,
 * a server certificate for 127.0.0.1/localhost signed by it, two client certificates signed by it,
 * an encrypted copy of the client key, and a second, unrelated CA.
 */
export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second client certificate signed by the CA (CN client2), for rotation tests. */
  client2Cert: string;
  client2Key: string;
  /** The client key encrypted with `passphrase`. */
  clientKeyEncrypted: string;
  passphrase: string;
  otherCaCert: string;
  /** A client certificate signed by the other CA (the server does not trust it). */
  strangerCert: string;
  strangerKey: string;
  cleanup(): void;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', `/CN=${name}`,
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

function makeLeaf(dir: string, name: string, ca: string, extensions: string): void {
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-subj', `/CN=${name}/O=scim-bridge tests`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-sha256',
    '-extfile', `${name}.ext`, '-out', `${name}.pem`);
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'scim-bridge-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  makeLeaf(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\n');
  makeLeaf(dir, 'client2', 'ca', 'extendedKeyUsage=clientAuth\n');
  makeLeaf(dir, 'stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const passphrase = 'test-passphrase';
  openssl(dir, 'pkey', '-in', 'client.key', '-aes-256-cbc', '-passout', `pass:${passphrase}`, '-out', 'client-encrypted.key');
  const at = (file: string) => join(dir, file);
  return {
    dir,
    caCert: at('ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    client2Cert: at('client2.pem'),
    client2Key: at('client2.key'),
    clientKeyEncrypted: at('client-encrypted.key'),
    passphrase,
    otherCaCert: at('other-ca.pem'),
    strangerCert: at('stranger.pem'),
    strangerKey: at('stranger.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TestHttpsServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/**
 * A real https server on 127.0.0.1 port 0 that demands a client certificate signed by the test
 * CA (`requestCert` + `rejectUnauthorized`); the handler sees the client's certificate subject.
 */
export async function startMtlsServer(
  pki: TestPki,
  handler: (req: IncomingMessage, res: ServerResponse, clientCn: string | undefined) => void,
): Promise<TestHttpsServer> {
  const server = createServer(
    {
      key: readFileSync(pki.serverKey),
      cert: readFileSync(pki.serverCert),
      ca: readFileSync(pki.caCert),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      handler(req, res, typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined);
    },
  );
  // Handshakes the server refuses are the point of some tests: keep them out of the output.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
