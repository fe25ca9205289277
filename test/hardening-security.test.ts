import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { SignallingClient } from './support/signallingClient.js';
import { startTestServer, opusParameters } from './support/signallingServer.js';
import { startServerProcess } from './support/serverProcess.js';
import { httpGet } from './support/httpGet.js';

// Bind addresses and logs. The observer socket's own rules (mode 0600; a symlink, a regular file
// or a directory at its path refused and left alone; a parent writable by others or owned by
// another user refused) are tested in test/stream-socket.test.ts, against the same code the
// server runs.

/** Resolves with the connect error's code, or 'connected'. */
function tryConnect(host: string, port: number): Promise<string> {
	return new Promise((resolve) => {
		const socket = net.connect({ host, port });
		socket.setTimeout(5000, () => {
			socket.destroy();
			resolve('timeout');
		});
		socket.once('connect', () => {
			socket.destroy();
			resolve('connected');
		});
		socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
	});
}

const portOf = (url: string): number => Number(new URL(url).port);

test('the app and metrics ports listen only on the configured address: other loopback addresses are refused', async () => {
	for (const ip of ['127.0.0.1', '127.0.0.2']) {
		const server = await startTestServer({ listen: { ip, port: 0 }, prometheus: { listen: ip } });
		try {
			const metrics = portOf(server.server.metricsUrl!);
			const app = portOf(server.url);
			assert.equal(new URL(server.server.metricsUrl!).hostname, ip);
			assert.equal((await httpGet(`http://${ip}:${metrics}/metrics`)).status, 200);
			assert.equal((await httpGet(`http://${ip}:${app}/`)).status, 200);
			for (const other of ['127.0.0.1', '127.0.0.2', '127.0.0.3', '::1'].filter((a) => a !== ip)) {
				assert.equal(await tryConnect(other, metrics), 'ECONNREFUSED', `metrics port via ${other}`);
				assert.equal(await tryConnect(other, app), 'ECONNREFUSED', `app port via ${other}`);
			}
			// Media too: ICE candidates only on the configured listenIps, plain transports on loopback.
			const client = await SignallingClient.connect(server.url);
			try {
				const { routerRtpCapabilities } = await client.requestOk('getRouterRtpCapabilities', { roomId: 'bind' });
				await client.requestOk('join', { roomId: 'bind', displayName: 'B', rtpCapabilities: routerRtpCapabilities });
				const transport = await client.requestOk('createWebRtcTransport', { direction: 'send' });
				const listenIps = server.server.config.mediasoup.webRtcTransport.listenIps.map((l) => l.announcedIp ?? l.ip);
				for (const candidate of transport.iceCandidates) assert.ok(listenIps.includes(candidate.ip), candidate.ip);
			} finally {
				client.close();
			}
		} finally {
			await server.close();
		}
	}
});

test(
	'at the default log level of scripts/start, no display name, user agent, ICE password or CNAME reaches the logs',
	{ timeout: 90_000 },
	async () => {
		const defaultDebug = /DEBUG="\$\{DEBUG:-([^}]+)\}"/.exec(fs.readFileSync('scripts/start', 'utf8'))?.[1];
		assert.ok(defaultDebug, 'scripts/start sets a default DEBUG');
		const debugBefore = process.env.DEBUG;
		process.env.DEBUG = defaultDebug;
		let server: Awaited<ReturnType<typeof startServerProcess>>;
		try {
			server = await startServerProcess({ prometheus: { personalLabels: true } });
		} finally {
			if (debugBefore === undefined) delete process.env.DEBUG;
			else process.env.DEBUG = debugBefore;
		}
		const secrets: string[] = [];
		const clients: SignallingClient[] = [];
		try {
			const join = async (displayName: string, userAgent: string): Promise<SignallingClient> => {
				const client = await SignallingClient.connect(server.appUrl, { extraHeaders: { 'user-agent': userAgent } });
				clients.push(client);
				secrets.push(displayName, userAgent);
				const { routerRtpCapabilities } = await client.requestOk('getRouterRtpCapabilities', { roomId: 'private' });
				await client.requestOk('join', { roomId: 'private', displayName, rtpCapabilities: routerRtpCapabilities });
				return client;
			};
			const alice = await join('Quirinalia Vexworth', 'SecretAgent/7.1 (Quasar; Vexworth)');
			const bob = await join('Octavian Brumblewick', 'HushBrowser/3.3 Brumblewick');
			const send = await alice.requestOk('createWebRtcTransport', { direction: 'send' });
			const recv = await bob.requestOk('createWebRtcTransport', { direction: 'recv' });
			secrets.push(send.iceParameters.password, recv.iceParameters.password);
			const cname = 'cname-Vexworth-private';
			secrets.push(cname);
			const params = { ...opusParameters(), rtcp: { cname, reducedSize: true } };
			await alice.requestOk('produce', { transportId: send.id, kind: 'audio', rtpParameters: params });
			await bob.waitForNotification('newConsumer');

			// Paths that log at the default level: refused requests, a mediasoup refusal, an oversized
			// message, a peer that hangs up, a worker that dies (its room closes with the names in it).
			await alice.request('connectWebRtcTransport', {
				transportId: send.id,
				dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'Vexworth' }] }
			});
			await alice.request('produce', { transportId: send.id, kind: 'audio', rtpParameters: { ...params, mid: 'Brumblewick' } });
			await alice.rawRequest({
				method: 'join',
				data: { roomId: 'private', displayName: 'Quirinalia Vexworth', rtpCapabilities: { codecs: [{ mimeType: 'Vexworth' }] } }
			});
			const big = await join('Zebulon Quackenbush', 'BigAgent/1.0 Quackenbush');
			await big.rawRequest({ method: 'leave', data: { note: 'Quackenbush'.repeat(10_000) } }, 3000).catch(() => undefined);
			bob.close();
			const exposition = (await httpGet(server.metricsUrl!)).body;
			assert.ok(exposition.includes('mediasoup_worker_deaths_total 0'));
			const workerPid = Number(/mediasoup_worker_max_rss_bytes\{pid="(\d+)"\}/.exec(exposition)?.[1]);
			assert.ok(workerPid > 0, 'the worker pid from the exposition');
			process.kill(workerPid, 'SIGKILL');
			await alice.waitForNotification('roomClosed');
			const deadline = Date.now() + 10_000;
			while (!/worker died/.test(server.output())) {
				if (Date.now() > deadline) assert.fail(`no "worker died" in the log:\n${server.output()}`);
				await new Promise((resolve) => setTimeout(resolve, 50));
			}
		} finally {
			for (const client of clients) client.close();
			const code = await server.stop('SIGTERM');
			assert.equal(code, 0);
		}
		const output = server.output();
		// The default level does log something: the start-up lines and the worker's death.
		assert.match(output, /app at http:\/\/127\.0\.0\.1:\d+\//);
		assert.match(output, /ERROR:WorkerPool worker died/);
		for (const secret of secrets) assert.ok(!output.includes(secret), `${JSON.stringify(secret)} is in the log:\n${output}`);
		for (const word of ['Vexworth', 'Brumblewick', 'Quackenbush', 'Quirinalia', 'Octavian', 'Zebulon']) {
			assert.ok(!output.includes(word), `"${word}" is in the log:\n${output}`);
		}
	}
);
