import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** File paths of a throw-away PKI; every cert is valid for one day. */
export type ThrowawayPki = {
	dir: string;
	caCert: string;
	serverCert: string;
	serverKey: string;
	clientCert: string;
	clientKey: string;
	/** A client certificate from another CA, which a server trusting `caCert` must refuse. */
	strangerCert: string;
	strangerKey: string;
	/** Issues another server certificate from the CA (for reload tests); returns its paths. */
	issueServerCert(name: string): { cert: string; key: string };
	remove(): void;
};

/**
 * A CA, a server certificate for 127.0.0.1 / ::1 / localhost, a client certificate, and a client
 * certificate from an unrelated CA, made with Debian's `openssl` in a temp dir (mode 0700).
 * EC P-256 keys: generating them costs milliseconds, not the seconds RSA would.
 */
export function createThrowawayPki(): ThrowawayPki {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-pki-'));
	fs.chmodSync(dir, 0o700);
	const file = (name: string): string => path.join(dir, name);
	const openssl = (...args: string[]): void => {
		execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
	};
	const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
	const makeCa = (name: string): void => {
		openssl(
			'req',
			'-x509',
			...newKey,
			'-keyout',
			file(`${name}.key`),
			'-out',
			file(`${name}.crt`),
			'-days',
			'1',
			'-subj',
			`/CN=meter-sfu test ${name}`,
			'-addext',
			'basicConstraints=critical,CA:TRUE',
			'-addext',
			'keyUsage=critical,keyCertSign,cRLSign'
		);
	};
	const issue = (ca: string, name: string, subject: string, extensions: string): { cert: string; key: string } => {
		openssl('req', '-new', ...newKey, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject);
		fs.writeFileSync(file(`${name}.ext`), extensions);
		openssl(
			'x509',
			'-req',
			'-in',
			file(`${name}.csr`),
			'-CA',
			file(`${ca}.crt`),
			'-CAkey',
			file(`${ca}.key`),
			'-CAcreateserial',
			'-out',
			file(`${name}.crt`),
			'-days',
			'1',
			'-extfile',
			file(`${name}.ext`)
		);
		return { cert: file(`${name}.crt`), key: file(`${name}.key`) };
	};
	const serverExtensions = 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
	const clientExtensions = 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n';
	try {
		makeCa('ca');
		makeCa('stranger-ca');
		const server = issue('ca', 'server', '/CN=localhost', serverExtensions);
		const client = issue('ca', 'client', '/CN=prometheus', clientExtensions);
		const stranger = issue('stranger-ca', 'stranger', '/CN=stranger', clientExtensions);
		return {
			dir,
			caCert: file('ca.crt'),
			serverCert: server.cert,
			serverKey: server.key,
			clientCert: client.cert,
			clientKey: client.key,
			strangerCert: stranger.cert,
			strangerKey: stranger.key,
			issueServerCert: (name) => issue('ca', name, `/CN=${name}`, serverExtensions),
			remove: () => fs.rmSync(dir, { recursive: true, force: true })
		};
	} catch (error) {
		fs.rmSync(dir, { recursive: true, force: true });
		throw error;
	}
}
