import '../server/workerBinary.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { validateConfig, ConfigError, type Config } from '../config/configSchema.js';
import { ExporterService } from '../server/exporter/ExporterService.js';
import { MetricsHttpServer } from '../server/exporter/MetricsHttpServer.js';
import { BasicAuthVerifier } from '../server/exporter/http/BasicAuthVerifier.js';
import { IpAllowList } from '../server/exporter/http/IpAllowList.js';
import { MetricsAccessControl } from '../server/exporter/http/MetricsAccessControl.js';
import { TlsCredentials } from '../server/exporter/http/TlsCredentials.js';
import { BearerTokenFileError, TlsFileError } from '../server/base/errors.js';
import { startTestServer, type TestServer } from './support/signallingServer.js';
import { createThrowawayPki, type ThrowawayPki } from './support/throwawayPki.js';
import { basicAuth, httpGet } from './support/httpGet.js';

/**
 * The metrics port's access control against a real server (one worker): basic auth with bcrypt
 * hashes (and its verification cache), bearer tokens from a file, the address allow-list with
 * IPv4, IPv6 and IPv4-mapped clients, HTTPS and mutual TLS with a throw-away openssl PKI, and a
 * certificate renewal picked up without a restart. Every path on the port is guarded. The real
 * Prometheus scrape of a secured endpoint is in metrics-security-prometheus.test.ts.
 */

let server: TestServer;
let pki: ThrowawayPki;
let dir: string;
const PASSWORD = 'correct horse battery staple';
let hash: string;

before(async () => {
	pki = createThrowawayPki();
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-sec-'));
	hash = await bcrypt.hash(PASSWORD, 10);
	// The embedded exporter secured through the config, as an operator would.
	server = await startTestServer({ prometheus: { basicAuthUsers: { prometheus: hash } } });
});

after(async () => {
	await server?.close();
	pki?.remove();
	if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Another exporter on the running server's observer socket, with these `prometheus` keys changed. */
async function exporterWith(changes: Partial<Config['prometheus']>, ip = '127.0.0.1'): Promise<ExporterService> {
	return ExporterService.create({
		socketPath: server.server.observerSocketPath,
		ip,
		port: 0,
		options: { ...server.server.config.prometheus, ...changes }
	});
}

const PATHS = ['/metrics', '/', '/overview', '/overview.js', '/overview.json', '/no-such-page'];

test('config: the security keys are validated, with exclusive schemes and TLS files that go together', () => {
	const base = {
		listen: { ip: '127.0.0.1', port: 0 },
		mediasoup: {
			router: { mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] },
			webRtcTransport: { listenIps: [{ ip: '127.0.0.1' }] }
		}
	};
	const problems = (prometheus: Record<string, unknown>): string[] => {
		try {
			validateConfig({ ...base, prometheus: { listen: '127.0.0.1', ...prometheus } });
			return [];
		} catch (error) {
			assert.ok(error instanceof ConfigError);
			return error.problems;
		}
	};
	const good = validateConfig({
		...base,
		prometheus: {
			listen: '::',
			basicAuthUsers: { ops: hash },
			tls: { certFile: '/c', keyFile: '/k' },
			allowFrom: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7', '::ffff:10.0.0.0/104']
		}
	});
	assert.deepEqual(good.prometheus.tls, { certFile: '/c', keyFile: '/k', clientCaFile: null });
	assert.deepEqual(validateConfig({ ...base, prometheus: { listen: '127.0.0.1' } }).prometheus.basicAuthUsers, {});

	assert.match(
		problems({ basicAuthUsers: { ops: hash }, bearerToken: 'x'.repeat(16) }).join('\n'),
		/basicAuthUsers and bearerToken exclude each other/
	);
	assert.match(
		problems({ bearerToken: 'x'.repeat(16), bearerTokenFile: '/t' }).join('\n'),
		/bearerToken and bearerTokenFile exclude each other/
	);
	assert.match(
		problems({ basicAuthUsers: { ops: 'plaintext-password' } }).join('\n'),
		/^prometheus\.basicAuthUsers\.ops: expected a bcrypt hash/m
	);
	assert.match(problems({ basicAuthUsers: { 'a:b': hash } }).join('\n'), /^prometheus\.basicAuthUsers: key "a:b" is not a user name/m);
	assert.match(problems({ bearerToken: 'short' }).join('\n'), /^prometheus\.bearerToken: expected/m);
	assert.match(problems({ tls: { certFile: '/c' } }).join('\n'), /certFile and keyFile go together/);
	assert.match(problems({ tls: { clientCaFile: '/ca' } }).join('\n'), /clientCaFile: needs certFile and keyFile/);
	for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fe80::/129', 'example.org/8', '10.0.0.1/8/8', '10.0.0.1/']) {
		assert.match(problems({ allowFrom: [bad] }).join('\n'), /^prometheus\.allowFrom\[0\]: expected an IPv4 or IPv6 CIDR/m, bad);
	}
});

test('IpAllowList: IPv4 and IPv6 networks, bare hosts, IPv4-mapped clients, empty allows all', () => {
	const list = new IpAllowList(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::ffff:198.51.100.0/120']);
	assert.equal(list.allows('10.200.1.1'), true);
	assert.equal(list.allows('::ffff:10.200.1.1'), true, 'an IPv4 client on a dual-stack socket');
	assert.equal(list.allows('::FFFF:10.200.1.1'), true);
	assert.equal(list.allows('11.0.0.1'), false);
	assert.equal(list.allows('192.0.2.7'), true);
	assert.equal(list.allows('192.0.2.8'), false);
	assert.equal(list.allows('2001:db8:1::5'), true);
	assert.equal(list.allows('2001:db9::5'), false);
	assert.equal(list.allows('198.51.100.20'), true, 'an IPv4 network written as IPv4-mapped IPv6');
	assert.equal(list.allows(undefined), false);
	assert.equal(list.allows('not-an-address'), false);
	assert.equal(new IpAllowList([]).allows('203.0.113.1'), true);
});

test('basic auth from the config: 401 with a challenge on every path without or with wrong credentials, 200 with the right ones', async () => {
	const base = server.server.exporterService!.url;
	for (const p of PATHS) {
		const none = await httpGet(`${base}${p}`);
		assert.equal(none.status, 401, `${p} without credentials`);
		assert.equal(none.headers['www-authenticate'], 'Basic realm="meter-sfu metrics", charset="UTF-8"');
		assert.equal(none.body, 'unauthorized\n');
		assert.doesNotMatch(none.body, /edumeet|mediasoup/);
	}
	for (const headers of [
		basicAuth('prometheus', 'wrong'),
		basicAuth('nobody', PASSWORD),
		basicAuth('prometheus', `${PASSWORD} `),
		{ authorization: `Bearer ${PASSWORD}` },
		{ authorization: 'Basic !!!not-base64' },
		{ authorization: 'Basic' }
	]) {
		const wrong = await httpGet(`${base}/metrics`, { headers });
		assert.equal(wrong.status, 401, headers.authorization);
		assert.match(String(wrong.headers['www-authenticate']), /^Basic realm=/);
	}
	const ok = await httpGet(`${base}/metrics`, { headers: basicAuth('prometheus', PASSWORD) });
	assert.equal(ok.status, 200);
	assert.match(ok.body, /^edumeet_rooms 0$/m);
	const landing = await httpGet(`${base}/`, { headers: basicAuth('prometheus', PASSWORD) });
	assert.equal(landing.status, 200);
	assert.match(landing.body, /href="overview"/);
	const overview = await httpGet(`${base}/overview.json`, { headers: basicAuth('prometheus', PASSWORD) });
	assert.equal(overview.status, 200);
	assert.equal(JSON.parse(overview.body).up, true);
});

test('basic auth: a verified password is cached (20 scrapes, one bcrypt); a wrong one never is', async () => {
	const access = await MetricsAccessControl.create({
		options: { basicAuthUsers: { prometheus: hash }, bearerToken: null, bearerTokenFile: null, allowFrom: [] },
		listenIp: '127.0.0.1'
	});
	const http = await MetricsHttpServer.create({ ip: '127.0.0.1', port: 0, exporter: server.server.exporterService!.exporter, access });
	try {
		const statuses = [];
		for (let i = 0; i < 20; i++)
			statuses.push((await httpGet(`${http.url}/metrics`, { headers: basicAuth('prometheus', PASSWORD) })).status);
		assert.deepEqual(new Set(statuses), new Set([200]));
		assert.equal(access.bcryptRuns, 1, 'one bcrypt for 20 scrapes with the same credentials');
		for (let i = 0; i < 3; i++)
			assert.equal((await httpGet(`${http.url}/metrics`, { headers: basicAuth('prometheus', 'guess') })).status, 401);
		assert.equal(access.bcryptRuns, 4, 'every wrong password is checked');
		assert.equal((await httpGet(`${http.url}/metrics`, { headers: basicAuth('prometheus', PASSWORD) })).status, 200);
		assert.equal(access.bcryptRuns, 4, 'the right password is still cached after wrong ones');
		// Unknown users cost a bcrypt too (against a dummy hash), so timing does not reveal user names.
		assert.equal((await httpGet(`${http.url}/metrics`, { headers: basicAuth('root', PASSWORD) })).status, 401);
		assert.equal(access.bcryptRuns, 5);
	} finally {
		await http.close();
	}
});

test('BasicAuthVerifier: bounded bcrypt work; a flood of guesses is answered busy, and checks resume after it', async () => {
	const cheap = await bcrypt.hash(PASSWORD, 4);
	const verifier = new BasicAuthVerifier({ users: { ops: cheap }, maxConcurrent: 1, maxQueued: 2 });
	// One runs, two wait, the rest are refused at once (the bound is checked synchronously).
	const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => verifier.verify('ops', `guess-${i}`)));
	assert.deepEqual(outcomes, ['denied', 'denied', 'denied', 'busy', 'busy', 'busy']);
	assert.equal(verifier.bcryptRuns, 3);
	assert.equal(await verifier.verify('ops', PASSWORD), 'ok');
	assert.equal(await verifier.verify('ops', PASSWORD), 'ok');
	assert.equal(verifier.bcryptRuns, 4, 'the second right answer came from the cache');
	const expiring = new BasicAuthVerifier({ users: { ops: cheap }, cacheTtlMs: 0 });
	assert.equal(await expiring.verify('ops', PASSWORD), 'ok');
	assert.equal(await expiring.verify('ops', PASSWORD), 'ok');
	assert.equal(expiring.bcryptRuns, 2, 'an expired entry is verified again');
	assert.throws(() => new BasicAuthVerifier({ users: {} }), TypeError);
});

test('bearer token read from a file: 401 without or with a wrong token, 200 with it; a missing file stops the start', async () => {
	const token = 'f3b1c0a9e8d7c6b5a4f3e2d1c0b9a8f7';
	const tokenFile = path.join(dir, 'metrics.token');
	fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
	const service = await exporterWith({ basicAuthUsers: {}, bearerTokenFile: tokenFile });
	try {
		for (const p of PATHS) {
			const none = await httpGet(`${service.url}${p}`);
			assert.equal(none.status, 401, p);
			assert.equal(none.headers['www-authenticate'], 'Bearer realm="meter-sfu metrics"');
		}
		for (const authorization of [
			`Bearer ${token.slice(0, -1)}`,
			`Bearer ${token}x`,
			`Bearer ${token.toUpperCase()}`,
			`Basic ${Buffer.from(`x:${token}`).toString('base64')}`
		]) {
			const wrong = await httpGet(`${service.url}/metrics`, { headers: { authorization } });
			assert.equal(wrong.status, 401, authorization);
			assert.equal(wrong.headers['www-authenticate'], 'Bearer realm="meter-sfu metrics", error="invalid_token"');
		}
		const ok = await httpGet(`${service.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
		assert.equal(ok.status, 200);
		assert.match(ok.body, /^edumeet_rooms 0$/m);
		assert.equal(
			(await httpGet(`${service.url}/metrics`, { headers: { authorization: `bearer  ${token}` } })).status,
			200,
			'the scheme is case-insensitive'
		);
	} finally {
		await service.close();
	}
	await assert.rejects(exporterWith({ basicAuthUsers: {}, bearerTokenFile: path.join(dir, 'missing.token') }), BearerTokenFileError);
	await assert.rejects(
		exporterWith({ bearerTokenFile: tokenFile }),
		TypeError,
		'basic auth and a token at once (validateConfig says so first)'
	);
	fs.writeFileSync(path.join(dir, 'short.token'), 'tiny\n');
	await assert.rejects(exporterWith({ basicAuthUsers: {}, bearerTokenFile: path.join(dir, 'short.token') }), /at least 16 characters/);
});

test('allow-list: 403 before authentication for other addresses; IPv4, IPv6 and IPv4-mapped clients of a dual-stack port', async () => {
	const elsewhere = await exporterWith({ allowFrom: ['10.0.0.0/8', '2001:db8::/32'] });
	try {
		for (const p of PATHS) {
			const refused = await httpGet(`${elsewhere.url}${p}`, { headers: basicAuth('prometheus', PASSWORD) });
			assert.equal(refused.status, 403, p);
			assert.equal(refused.body, 'forbidden\n');
			assert.equal(refused.headers['www-authenticate'], undefined, 'no challenge: credentials would not help');
		}
	} finally {
		await elsewhere.close();
	}
	const local = await exporterWith({ allowFrom: ['127.0.0.1/32'] });
	try {
		assert.equal((await httpGet(`${local.url}/metrics`, { headers: basicAuth('prometheus', PASSWORD) })).status, 200);
		assert.equal((await httpGet(`${local.url}/metrics`)).status, 401, 'the allow-list does not replace authentication');
	} finally {
		await local.close();
	}
	// Bound to ::, an IPv4 client arrives as ::ffff:127.0.0.1 and must match the IPv4 network.
	const ipv4Only = await exporterWith({ allowFrom: ['127.0.0.0/8'], basicAuthUsers: {} }, '::');
	const ipv6Only = await exporterWith({ allowFrom: ['::1/128'], basicAuthUsers: {} }, '::');
	try {
		const port4 = new URL(ipv4Only.url).port;
		const port6 = new URL(ipv6Only.url).port;
		assert.equal((await httpGet(`http://127.0.0.1:${port4}/metrics`)).status, 200);
		assert.equal((await httpGet(`http://[::1]:${port4}/metrics`)).status, 403);
		assert.equal((await httpGet(`http://[::1]:${port6}/metrics`)).status, 200);
		assert.equal((await httpGet(`http://127.0.0.1:${port6}/metrics`)).status, 403);
	} finally {
		await ipv4Only.close();
		await ipv6Only.close();
	}
});

test("TLS: https with the CA, refused without it; mutual TLS refuses clients without a certificate or with a stranger's", async () => {
	const tlsOnly = await exporterWith({ tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: null } });
	try {
		assert.match(tlsOnly.url, /^https:\/\/127\.0\.0\.1:\d+$/);
		const ca = fs.readFileSync(pki.caCert);
		const ok = await httpGet(`${tlsOnly.url}/metrics`, { ca, headers: basicAuth('prometheus', PASSWORD) });
		assert.equal(ok.status, 200);
		assert.match(ok.body, /^edumeet_rooms 0$/m);
		assert.equal((await httpGet(`${tlsOnly.url}/metrics`, { ca })).status, 401, 'TLS does not replace authentication');
		await assert.rejects(
			httpGet(`${tlsOnly.url}/metrics`),
			/self-signed certificate|unable to verify/,
			'an untrusted server certificate'
		);
		await assert.rejects(httpGet(`${tlsOnly.url.replace('https:', 'http:')}/metrics`), 'plain HTTP to the TLS port');
		assert.equal(
			(await httpGet(`https://localhost:${new URL(tlsOnly.url).port}/metrics`, { ca })).status,
			401,
			'the name localhost is in the certificate too'
		);
	} finally {
		await tlsOnly.close();
	}

	const mutual = await exporterWith({ tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caCert } });
	try {
		const ca = fs.readFileSync(pki.caCert);
		const withCert = { ca, cert: fs.readFileSync(pki.clientCert), key: fs.readFileSync(pki.clientKey) };
		const ok = await httpGet(`${mutual.url}/metrics`, { ...withCert, headers: basicAuth('prometheus', PASSWORD) });
		assert.equal(ok.status, 200);
		assert.match(ok.body, /^edumeet_rooms 0$/m);
		await assert.rejects(
			httpGet(`${mutual.url}/metrics`, { ca, headers: basicAuth('prometheus', PASSWORD) }),
			/certificate required|socket hang up|ECONNRESET/,
			'no client certificate'
		);
		await assert.rejects(
			httpGet(`${mutual.url}/metrics`, {
				ca,
				cert: fs.readFileSync(pki.strangerCert),
				key: fs.readFileSync(pki.strangerKey),
				headers: basicAuth('prometheus', PASSWORD)
			}),
			/unknown ca|socket hang up|ECONNRESET/,
			'a certificate from another CA'
		);
	} finally {
		await mutual.close();
	}
	assert.throws(
		() => TlsCredentials.fromOptions({ certFile: path.join(dir, 'none.crt'), keyFile: pki.serverKey, clientCaFile: null }),
		TlsFileError
	);
});

test('TLS: a renewed certificate is served to new connections without a restart; a broken one keeps the old', async () => {
	const certFile = path.join(dir, 'live.crt');
	const keyFile = path.join(dir, 'live.key');
	fs.copyFileSync(pki.serverCert, certFile);
	fs.copyFileSync(pki.serverKey, keyFile);
	const tls = TlsCredentials.fromOptions({ certFile, keyFile, clientCaFile: null }, { checkIntervalMs: 0 })!;
	const http = await MetricsHttpServer.create({ ip: '127.0.0.1', port: 0, exporter: server.server.exporterService!.exporter, tls });
	try {
		const ca = fs.readFileSync(pki.caCert);
		const first = await httpGet(`${http.url}/`, { ca });
		assert.equal(first.status, 200);
		assert.equal(first.peerCertificate?.subject.CN, 'localhost');

		const renewed = pki.issueServerCert('renewed');
		// As certbot and friends do: new files moved into place.
		fs.copyFileSync(renewed.key, `${keyFile}.new`);
		fs.copyFileSync(renewed.cert, `${certFile}.new`);
		fs.renameSync(`${keyFile}.new`, keyFile);
		fs.renameSync(`${certFile}.new`, certFile);
		const second = await httpGet(`${http.url}/`, { ca });
		assert.equal(second.status, 200);
		assert.equal(second.peerCertificate?.subject.CN, 'renewed');

		// A half-written renewal (a key that does not match) must not take the endpoint down.
		fs.copyFileSync(pki.strangerKey, keyFile);
		const third = await httpGet(`${http.url}/`, { ca });
		assert.equal(third.status, 200);
		assert.equal(third.peerCertificate?.subject.CN, 'renewed');
	} finally {
		await http.close();
	}
});
