import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { ExporterService } from '../server/exporter/ExporterService.js';
import { startTestServer } from './support/signallingServer.js';
import { startPrometheus } from './support/prometheus.js';
import { createThrowawayPki } from './support/throwawayPki.js';

/**
 * A real Prometheus (Debian's) scrapes the secured metrics port as prom.md tells operators to set
 * it up: HTTPS with mutual TLS plus basic auth (password_file), and a bearer token from a file
 * (authorization.credentials_file) on a second exporter. Both targets are up and their series
 * arrive; a job with a wrong password is down with a 401.
 */

test('real Prometheus scrapes the secured endpoint: mutual TLS + basic auth, and a bearer token; a wrong password is a 401', async () => {
	const pki = createThrowawayPki();
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-secprom-'));
	const password = 'scrape-me-if-you-can';
	const token = 'a-bearer-token-of-32-characters!';
	const server = await startTestServer({
		prometheus: {
			basicAuthUsers: { prometheus: await bcrypt.hash(password, 10) },
			tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caCert }
		}
	});
	let bearer: ExporterService | undefined;
	let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
	try {
		const tokenFile = path.join(dir, 'token');
		fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
		bearer = await ExporterService.create({
			socketPath: server.server.observerSocketPath,
			ip: '127.0.0.1',
			port: 0,
			options: {
				...server.server.config.prometheus,
				basicAuthUsers: {},
				bearerTokenFile: tokenFile,
				tls: { certFile: null, keyFile: null, clientCaFile: null }
			}
		});
		const passwordFile = path.join(dir, 'password');
		fs.writeFileSync(passwordFile, password, { mode: 0o600 });
		const wrongFile = path.join(dir, 'wrong-password');
		fs.writeFileSync(wrongFile, 'not-the-password', { mode: 0o600 });
		const secured = new URL(server.server.exporterService!.url);
		assert.equal(secured.protocol, 'https:');
		const tlsConfig = { ca_file: pki.caCert, cert_file: pki.clientCert, key_file: pki.clientKey };
		// JSON is YAML: the same keys an operator writes in prometheus.yml (prom.md shows them).
		const config = {
			global: { scrape_interval: '1s', scrape_timeout: '1s' },
			scrape_configs: [
				{
					job_name: 'meter-sfu-tls',
					scheme: 'https',
					tls_config: tlsConfig,
					basic_auth: { username: 'prometheus', password_file: passwordFile },
					static_configs: [{ targets: [secured.host] }]
				},
				{
					job_name: 'meter-sfu-bearer',
					authorization: { type: 'Bearer', credentials_file: tokenFile },
					static_configs: [{ targets: [new URL(bearer.url).host] }]
				},
				{
					job_name: 'meter-sfu-wrong-password',
					scheme: 'https',
					tls_config: tlsConfig,
					basic_auth: { username: 'prometheus', password_file: wrongFile },
					static_configs: [{ targets: [secured.host] }]
				}
			]
		};
		prometheus = await startPrometheus({ jobs: [], configYaml: JSON.stringify(config, null, 2) });
		const upByJob = (r: { metric: Record<string, string>; value: number }[]): Record<string, number> =>
			Object.fromEntries(r.map((s) => [s.metric.job, s.value]));
		// Polled until both good jobs are up (a scrape racing the start could fail once).
		const up = await prometheus.waitForQuery(
			'up',
			(r) => r.length === 3 && upByJob(r)['meter-sfu-tls'] === 1 && upByJob(r)['meter-sfu-bearer'] === 1,
			30_000
		);
		assert.deepEqual(upByJob(up), { 'meter-sfu-tls': 1, 'meter-sfu-bearer': 1, 'meter-sfu-wrong-password': 0 }, prometheus.output());
		const rooms = await prometheus.waitForQuery('edumeet_rooms', (r) => r.length === 2);
		assert.deepEqual(rooms.map((s) => [s.metric.job, s.value]).sort(), [
			['meter-sfu-bearer', 0],
			['meter-sfu-tls', 0]
		]);
		const wrong = (await prometheus.targets()).find((t) => t.job === 'meter-sfu-wrong-password');
		assert.equal(wrong?.health, 'down');
		assert.match(wrong?.lastError ?? '', /401 Unauthorized/);
	} finally {
		await prometheus?.stop();
		await bearer?.close();
		await server.close();
		pki.remove();
		fs.rmSync(dir, { recursive: true, force: true });
	}
});
