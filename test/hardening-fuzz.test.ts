import '../server/workerBinary.js';
import { test } from 'node:test';
import os from 'node:os';
import assert from 'node:assert/strict';
import { SignallingClient } from './support/signallingClient.js';
import { startTestServer, opusParameters, type TestServer } from './support/signallingServer.js';
import { SeededRandom } from '../tools/random/SeededRandom.js';
import { SignallingFuzzer, type FuzzAction, type FuzzMemory } from './support/SignallingFuzzer.js';
import { promtoolCheckMetrics } from './support/prometheus.js';
import { parseExposition, scrape } from './support/exposition.js';
import type { NotificationMessage, SignallingErrorName } from '../server/contract/signalling.js';
import { validateConfig } from '../config/configSchema.js';
import { testConfig } from './support/signallingServer.js';
import { until } from './support/until.js';

// Signalling fuzz: thousands of random messages from many sockets must leave the server up, every
// request answered (or ignored when it cannot be), the mediasoup objects back at their baseline
// and the exposition valid. HARDENING_SEED=<seed> replays a run's message sequence (the ids the
// sockets learn from answers still depend on timing).

const MESSAGES = Number(process.env.HARDENING_FUZZ_MESSAGES ?? 10_000);
const LANES = 24;
const MAX_MESSAGE_BYTES = 65_536;
const REQUEST_TIMEOUT_MS = 15_000;
const ERROR_NAMES = new Set<SignallingErrorName>([
	'BadRequestError',
	'UnknownMethodError',
	'NotJoinedError',
	'AlreadyJoinedError',
	'RoomFullError',
	'NotFoundError',
	'NotAllowedError',
	'RateLimitError',
	'PayloadTooLargeError',
	'ServerError'
]);

function isResponse(value: unknown): boolean {
	if (typeof value !== 'object' || value === null) return false;
	const r = value as { ok?: unknown; data?: unknown; error?: { name?: unknown; message?: unknown } };
	if (r.ok === true) return 'data' in r;
	return r.ok === false && typeof r.error?.message === 'string' && ERROR_NAMES.has(r.error.name as SignallingErrorName);
}

type LaneReport = { sent: number; sockets: number; failures: string[]; results: Map<string, number> };

/** One lane: a socket sending fuzz messages (a few at a time, unawaited), replaced when it is cut. */
async function runLane({
	server,
	fuzzer,
	random,
	budget,
	shared
}: {
	server: TestServer;
	fuzzer: SignallingFuzzer;
	random: SeededRandom;
	budget: { left: number };
	shared: FuzzMemory;
}): Promise<LaneReport> {
	const report: LaneReport = { sent: 0, sockets: 0, failures: [], results: new Map() };
	const count = (key: string): void => {
		report.results.set(key, (report.results.get(key) ?? 0) + 1);
	};
	while (budget.left > 0) {
		const client = await SignallingClient.connect(server.url);
		report.sockets++;
		const own: FuzzMemory = { transportIds: [], producerIds: [], consumerIds: [], peerIds: [] };
		let cutOnPurpose = false;
		let expectServerClose = false;
		const recent: string[] = [];
		let disconnectReason: string | undefined;
		client.socket.on('disconnect', (reason) => {
			disconnectReason = reason;
		});
		client.socket.on('notification', (message: NotificationMessage) => {
			if (message.method === 'newConsumer') {
				own.consumerIds.push(message.data.consumerId);
				shared.consumerIds.push(message.data.consumerId);
			}
			if (message.method === 'peerJoined') shared.peerIds.push(message.data.id);
		});
		try {
			while (budget.left > 0 && !cutOnPurpose) {
				const burst = random.int(1, 8);
				const inFlight: Promise<void>[] = [];
				for (let i = 0; i < burst && budget.left > 0 && !cutOnPurpose; i++) {
					let action: FuzzAction = fuzzer.next(own);
					// Random junk can add up past the limit: such a message is an oversized one.
					if (action.type === 'request' || action.type === 'noAck' || action.type === 'event') {
						const bytes = encodedBytes(
							action.type === 'request'
								? [action.message]
								: action.type === 'noAck'
									? [action.message, ...action.extra]
									: action.args
						);
						if (bytes > MAX_MESSAGE_BYTES - 256 && bytes <= MAX_MESSAGE_BYTES + 256) continue; // too close to call
						if (bytes > MAX_MESSAGE_BYTES) {
							const args =
								action.type === 'request'
									? [action.message]
									: action.type === 'noAck'
										? [action.message, ...action.extra]
										: action.args;
							action = { type: 'oversize', args, label: `oversize-${action.label}` };
						}
					}
					budget.left--;
					report.sent++;
					recent.push(`${action.label}:${'message' in action ? JSON.stringify(action.message)?.slice(0, 100) : ''}`);
					if (recent.length > 10) recent.shift();
					count(`sent:${action.label}`);
					switch (action.type) {
						case 'request':
							inFlight.push(
								client.rawRequest(action.message, REQUEST_TIMEOUT_MS).then(
									(response) => {
										if (!isResponse(response))
											report.failures.push(
												`not a response to ${action.label}: ${JSON.stringify(response)?.slice(0, 200)}`
											);
										const r = response as {
											ok: boolean;
											data?: Record<string, unknown>;
											error?: { name: string; message: string };
										};
										count(r.ok ? 'ok' : r.error!.name);
										// A ServerError is the server's own failure: name it in the report.
										if (!r.ok && r.error!.name === 'ServerError')
											count(`ServerError: ${r.error!.message.slice(0, 120)}`);
										if (r.ok) learn(action.message, r.data ?? {}, own, shared);
									},
									(error: Error) => {
										// Only a connection cut on purpose may leave a request unanswered.
										if (!cutOnPurpose) {
											report.failures.push(
												`no answer to ${action.label} ${JSON.stringify(action.message)?.slice(0, 300)} (${error.message}, disconnect: ${disconnectReason ?? 'none'}); the socket's last messages: ${JSON.stringify(recent)}`
											);
										}
									}
								)
							);
							break;
						case 'noAck':
							client.rawEmit('request', action.message, ...action.extra);
							break;
						case 'event':
							client.rawEmit(action.event, ...action.args);
							break;
						case 'oversize':
							cutOnPurpose = true;
							expectServerClose = true;
							client.rawEmit('request', ...action.args, () => report.failures.push('an oversized message was answered'));
							break;
						case 'rawFrame':
							// socket.io closes the connection on a packet it cannot decode and ignores
							// some others; either way this socket's part ends here.
							cutOnPurpose = true;
							(client.socket.io.engine as unknown as { write(data: string): void }).write(action.frame);
							break;
						case 'hangUp':
							cutOnPurpose = true;
							client.close();
							break;
					}
				}
				await Promise.all(inFlight);
				if (!client.connected && !cutOnPurpose) {
					report.failures.push(`the server dropped a socket (${disconnectReason}); its last messages: ${JSON.stringify(recent)}`);
					break;
				}
			}
			if (expectServerClose) {
				await until('the server to close a connection that sent an oversized message', () => !client.connected, 10_000).catch(
					() => {
						report.failures.push('a connection that sent an oversized message stayed open');
					}
				);
			}
		} finally {
			client.close();
		}
	}
	return report;
}

/** About what socket.io sends for a request (binary attachments go in frames of their own). */
function encodedBytes(args: unknown[]): number {
	return Buffer.byteLength(
		JSON.stringify(['request', ...args, 999], (_key, value: unknown) =>
			typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' ? 0 : value
		) ?? ''
	);
}

/** Remembers ids from a successful answer. */
function learn(message: unknown, data: Record<string, unknown>, own: FuzzMemory, shared: FuzzMemory): void {
	const method = (message as { method?: unknown }).method;
	if (method === 'getRouterRtpCapabilities' || method === 'join') {
		const caps = data.routerRtpCapabilities as FuzzMemory['caps'];
		own.caps ??= caps;
		shared.caps ??= caps;
	}
	if (method === 'join' && typeof data.peerId === 'string') own.peerIds.push(data.peerId);
	if ((method === 'createWebRtcTransport' || method === 'createPlainTransport') && typeof data.id === 'string') {
		own.transportIds.push(data.id);
		shared.transportIds.push(data.id);
	}
	if (method === 'produce' && typeof data.producerId === 'string') {
		own.producerIds.push(data.producerId);
		shared.producerIds.push(data.producerId);
	}
}

test(
	`signalling fuzz: ${MESSAGES} random messages from many sockets; the server stays up and returns to its baseline`,
	{ timeout: 180_000 },
	async () => {
		const random = SeededRandom.fromEnv();
		console.log(`# hardening fuzz seed: ${random.seed} (replay with HARDENING_SEED=${random.seed})`);
		const server = await startTestServer({
			mediasoup: { numWorkers: 2 },
			room: { maxPeers: 4, emptyRoomGraceSeconds: 0.2 },
			signalling: { maxMessageBytes: MAX_MESSAGE_BYTES, rateLimit: { requestsPerSecond: 2000, burst: 2000 } },
			syntheticPeers: { enabled: true },
			// Display names reach the labels too: the fuzz's quotes, backslashes and controls must not break them.
			prometheus: { personalLabels: true, numeric: true }
		});
		const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
		try {
			const s = server.server;
			const baseline = await s.objectCounts();
			const metricsUrl = s.metricsUrl!;
			const shared: FuzzMemory = { transportIds: [], producerIds: [], consumerIds: [], peerIds: [] };
			const roomIds = ['fuzz-a', 'fuzz-b', 'fuzz-c', 'fuzz-d', 'fuzz-e', 'fuzz-f', 'bad room', '', '../x'];
			const budget = { left: MESSAGES };
			const startedAt = Date.now();

			// Scrape while the fuzz runs (checked afterwards: promtool runs synchronously).
			let scraping = true;
			const midScrapes: string[] = [];
			const scraper = (async () => {
				while (scraping) {
					midScrapes.push((await scrape(metricsUrl)).body);
					await new Promise((resolve) => setTimeout(resolve, 1000));
				}
			})();

			const reports = await Promise.all(
				Array.from({ length: LANES }, (_, lane) =>
					runLane({
						server,
						fuzzer: new SignallingFuzzer({
							random: new SeededRandom(random.seed + lane + 1),
							roomIds,
							shared,
							maxMessageBytes: MAX_MESSAGE_BYTES
						}),
						random: new SeededRandom(random.seed ^ (0x9e3779b9 + lane)),
						budget,
						shared
					})
				)
			);
			scraping = false;
			await scraper;
			// Every exposition must pass promtool, whatever names and ids the fuzz used.
			for (const body of midScrapes) {
				const { status, output } = promtoolCheckMetrics(body);
				assert.equal(status, 0, `promtool check metrics failed on a scrape during the fuzz:\n${output}`);
			}
			assert.ok(
				midScrapes.some((body) => /^mediasoup_transport_received_bytes\{/m.test(body) && /^edumeet_peers\{/m.test(body)),
				'a scrape saw peers and transports'
			);

			const sent = reports.reduce((n, r) => n + r.sent, 0);
			const sockets = reports.reduce((n, r) => n + r.sockets, 0);
			const results = new Map<string, number>();
			for (const r of reports) for (const [k, v] of r.results) results.set(k, (results.get(k) ?? 0) + v);
			console.log(
				`# fuzz: ${sent} messages over ${sockets} sockets in ${((Date.now() - startedAt) / 1000).toFixed(1)} s, ${midScrapes.length} scrapes checked`
			);
			console.log(`# fuzz results: ${JSON.stringify(Object.fromEntries([...results].sort()))}`);
			const failures = reports.flatMap((r) => r.failures);
			// Every oversized message cost its sender the connection and was counted as such.
			const oversized = [...results].filter(([k]) => k.startsWith('sent:oversize')).reduce((n, [, v]) => n + v, 0);
			const tooLarge = (): number => s.meetingServer.counters.snapshot().rejectedMessages.payload_too_large ?? 0;
			await until('every oversized message counted', () => tooLarge() === oversized, 5000).catch(() =>
				assert.equal(tooLarge(), oversized, 'oversized messages counted')
			);
			assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures (seed ${random.seed})`);
			// A ServerError means the server failed, or blamed itself for the client's mistake.
			assert.deepEqual(
				[...results.keys()].filter((k) => k.startsWith('ServerError:')),
				[],
				'no ServerError'
			);
			assert.ok(sent >= MESSAGES);
			assert.ok(sockets >= LANES);
			// The fuzz got somewhere: real objects were made, not only errors.
			assert.ok((results.get('ok') ?? 0) > 500, 'many requests succeeded');
			const counters = s.meetingServer.counters.snapshot();
			assert.ok(
				counters.joins > 20 && counters.produce.audio.successes > 5,
				JSON.stringify({ joins: counters.joins, produce: counters.produce })
			);

			// Nothing leaked into Object.prototype.
			assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeKeys);
			assert.equal(({} as Record<string, unknown>).polluted, undefined);

			// Every socket is closed: rooms empty and close after their grace period; every object goes.
			let last: Record<string, number> = {};
			await until(
				'mediasoup objects back at the baseline',
				async () => {
					last = await s.objectCounts();
					return JSON.stringify(last) === JSON.stringify(baseline);
				},
				20_000
			).catch(() => assert.deepEqual(last, baseline));
			assert.equal(s.workerPool.deaths, 0, 'no worker died');
			assert.equal(s.workerPool.workers.length, 2);

			// The exposition after the fuzz: valid, no object series left, the rejections counted.
			const { body } = await scrape(metricsUrl);
			const check = promtoolCheckMetrics(body);
			assert.equal(check.status, 0, check.output);
			const exposition = parseExposition(body);
			assert.equal(exposition.value('edumeet_rooms'), 0);
			for (const name of exposition.names())
				assert.ok(!/^mediasoup_(producer|consumer|transport)_/.test(name), `${name} still has series`);
			for (const reason of ['malformed', 'forbidden_key', 'unknown_method', 'bad_request', 'no_ack', 'unknown_event']) {
				assert.ok(exposition.value('edumeet_rejected_messages_total', { reason }) > 0, `rejections for ${reason} counted`);
			}

			// And the server still does its job for a well-behaved client.
			const alice = await SignallingClient.connect(server.url);
			const bob = await SignallingClient.connect(server.url);
			try {
				const { routerRtpCapabilities: caps } = await alice.requestOk('getRouterRtpCapabilities', { roomId: 'after-fuzz' });
				await alice.requestOk('join', { roomId: 'after-fuzz', displayName: 'Alice', rtpCapabilities: caps });
				await bob.requestOk('join', { roomId: 'after-fuzz', displayName: 'Bob', rtpCapabilities: caps });
				const send = await alice.requestOk('createWebRtcTransport', { direction: 'send' });
				await bob.requestOk('createWebRtcTransport', { direction: 'recv' });
				const { producerId } = await alice.requestOk('produce', {
					transportId: send.id,
					kind: 'audio',
					rtpParameters: opusParameters()
				});
				const { consumerId } = await bob.waitForNotification('newConsumer', (n) => n.producerId === producerId);
				await bob.requestOk('resumeConsumer', { consumerId });
			} finally {
				alice.close();
				bob.close();
			}
		} finally {
			await server.close();
		}
	}
);

test('per-socket rate limit and message size limit: answered or cut, counted, in a valid exposition', async () => {
	// One token per 10 s: after the burst of 5, the bucket stays empty for the whole test.
	const server = await startTestServer({ signalling: { maxMessageBytes: 8192, rateLimit: { requestsPerSecond: 0.1, burst: 5 } } });
	const clients: SignallingClient[] = [];
	try {
		const connect = async (): Promise<SignallingClient> => {
			const client = await SignallingClient.connect(server.url);
			clients.push(client);
			return client;
		};
		const flooder = await connect();
		const answers = await Promise.all(
			Array.from({ length: 20 }, () => flooder.request('getRouterRtpCapabilities', { roomId: 'limits' }))
		);
		const names = answers.map((a) => (a.ok ? 'ok' : a.error.name));
		assert.deepEqual(names.slice(0, 5), Array(5).fill('ok'));
		assert.deepEqual(names.slice(5), Array(15).fill('RateLimitError'));
		assert.match((answers[5] as { error: { message: string } }).error.message, /more than 5 messages at once or 0\.1 per second/);
		// Out of tokens, unknown events and requests without ack are rate-limited too (and ignored).
		flooder.rawEmit('hello', 1);
		flooder.rawEmit('request', { method: 'leave', data: {} });
		const last = await flooder.request('leave', {});
		assert.ok(!last.ok && last.error.name === 'RateLimitError');
		assert.equal(flooder.connected, true, 'a rate-limited socket keeps its connection');

		// The bucket is per socket: another client is unaffected.
		const other = await connect();
		await other.requestOk('getRouterRtpCapabilities', { roomId: 'limits' });

		// Over maxMessageBytes: the connection is closed, the message counted.
		const big = await connect();
		const reply = big
			.rawRequest({ method: 'getRouterRtpCapabilities', data: { roomId: 'x'.repeat(10_000) } }, 5000)
			.catch((e: Error) => e);
		assert.ok((await reply) instanceof Error, 'no answer to an oversized message');
		assert.equal(big.connected, false);

		const counters = server.server.meetingServer.counters.snapshot();
		assert.equal(counters.rejectedMessages.rate_limit, 18);
		assert.equal(counters.rejectedMessages.payload_too_large, 1);
		const { body } = await scrape(server.server.metricsUrl!);
		const check = promtoolCheckMetrics(body);
		assert.equal(check.status, 0, check.output);
		const exposition = parseExposition(body);
		assert.equal(exposition.value('edumeet_rejected_messages_total', { reason: 'rate_limit' }), 18);
		assert.equal(exposition.value('edumeet_rejected_messages_total', { reason: 'payload_too_large' }), 1);
		assert.equal(
			exposition.value('edumeet_signalling_requests_total', { method: 'getRouterRtpCapabilities', result: 'RateLimitError' }),
			15
		);
		assert.equal(exposition.value('edumeet_signalling_requests_total', { method: 'leave', result: 'RateLimitError' }), 1);
	} finally {
		for (const client of clients) client.close();
		await server.close();
	}
});

test('signalling.rateLimit is validated like every other key', async () => {
	const config = await testConfig(os.tmpdir());
	assert.deepEqual(config.signalling.rateLimit, { requestsPerSecond: 50, burst: 200 }, 'the documented defaults');
	const raw = { ...config, signalling: { maxMessageBytes: 65536, rateLimit: { requestsPerSecond: 0, burst: 1.5, perMinute: 3 } } };
	assert.throws(
		() => validateConfig(raw, 'test'),
		(error: Error) => {
			assert.match(error.message, /signalling\.rateLimit\.requestsPerSecond: expected a number from 0\.1 to 1000000, got number 0/);
			assert.match(error.message, /signalling\.rateLimit\.burst: expected an integer from 1 to 1000000/);
			assert.match(error.message, /signalling\.rateLimit\.perMinute: unknown key/);
			return true;
		}
	);
});
