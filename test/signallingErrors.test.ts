import '../server/workerBinary.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignallingClient } from './support/signallingClient.js';
import { handshakeRefused } from './support/handshakeRefusal.js';
import { startTestServer, opusParameters, vp8Parameters, type TestServer } from './support/signallingServer.js';
import type { RequestMethod, Requests, RtpCapabilities, SignallingErrorName } from '../server/contract/signalling.js';

// Error paths of every request method, and what the edge refuses before any handler runs.

let server: TestServer;
const clients: SignallingClient[] = [];
let roomSeq = 0;
const BOGUS_ID = '00000000-0000-0000-0000-000000000000';

before(async () => {
	server = await startTestServer({ room: { maxPeers: 2, maxRoomIdLength: 16, maxDisplayNameLength: 8 } });
});

after(async () => {
	for (const c of clients) c.close();
	await server.close();
});

async function connect(): Promise<SignallingClient> {
	const client = await SignallingClient.connect(server.url);
	clients.push(client);
	return client;
}

const newRoomId = (): string => `err-${++roomSeq}`;

async function joined(roomId = newRoomId()): Promise<{ client: SignallingClient; peerId: string; caps: RtpCapabilities; roomId: string }> {
	const client = await connect();
	const { routerRtpCapabilities: caps } = await client.requestOk('getRouterRtpCapabilities', { roomId });
	const { peerId } = await client.requestOk('join', { roomId, displayName: 'Alice', rtpCapabilities: caps });
	return { client, peerId, caps, roomId };
}

/** Sends a request and asserts the error it gets: its name and, when given, a pattern its message matches. */
async function assertError<M extends RequestMethod>(
	client: SignallingClient,
	method: M,
	data: Requests[M]['request'],
	name: SignallingErrorName,
	message?: RegExp
): Promise<void> {
	const response = await client.request(method, data);
	assert.equal(response.ok, false, `${method} should fail with ${name}`);
	if (response.ok) return;
	assert.equal(response.error.name, name, response.error.message);
	if (message) assert.match(response.error.message, message);
}

/** As assertError, for payloads the contract's types would not allow. */
async function assertRawError(client: SignallingClient, message: unknown, name: SignallingErrorName, pattern?: RegExp): Promise<void> {
	const response = (await client.rawRequest(message)) as { ok: boolean; error?: { name: string; message: string } };
	assert.equal(response.ok, false);
	assert.equal(response.error!.name, name, response.error!.message);
	if (pattern) assert.match(response.error!.message, pattern);
}

const bad = <T>(value: unknown): T => value as T;

test('requests that need a joined peer answer NotJoinedError', async () => {
	const client = await connect();
	const calls: { [M in RequestMethod]?: Requests[M]['request'] } = {
		createWebRtcTransport: { direction: 'send' },
		connectWebRtcTransport: { transportId: BOGUS_ID, dtlsParameters: { fingerprints: [] } },
		restartIce: { transportId: BOGUS_ID },
		produce: { transportId: BOGUS_ID, kind: 'audio', rtpParameters: opusParameters() },
		pauseProducer: { producerId: BOGUS_ID },
		resumeProducer: { producerId: BOGUS_ID },
		closeProducer: { producerId: BOGUS_ID },
		resumeConsumer: { consumerId: BOGUS_ID },
		pauseConsumer: { consumerId: BOGUS_ID },
		setConsumerPreferredLayers: { consumerId: BOGUS_ID, spatialLayer: 0 },
		leave: {}
	};
	for (const [method, data] of Object.entries(calls)) {
		await assertError(client, method as RequestMethod, data as never, 'NotJoinedError');
	}
});

test('join: bad room id, display name, capabilities; already joined; room full', async () => {
	const client = await connect();
	const { routerRtpCapabilities: caps } = await client.requestOk('getRouterRtpCapabilities', { roomId: 'full' });
	const join = (data: Partial<Requests['join']['request']>): Requests['join']['request'] => ({
		roomId: 'full',
		displayName: 'Alice',
		rtpCapabilities: caps,
		...data
	});

	await assertError(client, 'join', join({ roomId: 'has space' }), 'BadRequestError', /^data\.roomId: /);
	await assertError(client, 'join', join({ roomId: 'x'.repeat(17) }), 'BadRequestError', /^data\.roomId: .*1 to 16/);
	await assertError(client, 'join', join({ roomId: '' }), 'BadRequestError', /^data\.roomId/);
	await assertError(client, 'join', join({ roomId: bad(42) }), 'BadRequestError', /^data\.roomId/);
	await assertError(client, 'join', join({ displayName: ' \t\u0000 ' }), 'BadRequestError', /^data\.displayName: empty/);
	await assertError(client, 'join', join({ displayName: 'Bartholomew' }), 'BadRequestError', /^data\.displayName: longer than 8/);
	await assertError(client, 'join', join({ displayName: bad(['Alice']) }), 'BadRequestError', /^data\.displayName/);
	await assertError(
		client,
		'join',
		join({ rtpCapabilities: bad('opus please') }),
		'BadRequestError',
		/^data\.rtpCapabilities: expected an object/
	);
	await assertError(
		client,
		'join',
		join({ rtpCapabilities: bad({ codecs: [{ kind: 'audio' }] }) }),
		'BadRequestError',
		/^data\.rtpCapabilities\.codecs\[0\]\.mimeType: missing; expected a string such as "audio\/opus"/
	);
	await assertError(
		client,
		'join',
		join({ rtpCapabilities: bad({ codecs: [{ mimeType: 'video/VP8', clockRate: 90000, parameters: { apt: '96' } }] }) }),
		'BadRequestError',
		/^data\.rtpCapabilities\.codecs\[0\]\.parameters\.apt: expected a number$/
	);
	await assertError(
		client,
		'join',
		join({ rtpCapabilities: bad({ headerExtensions: [{ kind: 'video', uri: 'urn:x', preferredId: '1' }] }) }),
		'BadRequestError',
		/^data\.rtpCapabilities\.headerExtensions\[0\]\.preferredId: expected a number$/
	);
	await assertRawError(
		client,
		{ method: 'join', data: { roomId: 'full', displayName: 'A' } },
		'BadRequestError',
		/^data\.rtpCapabilities: missing/
	);
	await assertRawError(client, { method: 'join', data: { ...join({}), role: 'admin' } }, 'BadRequestError', /^data\.role: unknown field/);

	await client.requestOk('join', join({}));
	await assertError(client, 'join', join({}), 'AlreadyJoinedError');
	await (await connect()).requestOk('join', join({ displayName: 'Bob' }));
	await assertError(await connect(), 'join', join({ displayName: 'Carol' }), 'RoomFullError', /2 peers/);
	await assertError(await connect(), 'getRouterRtpCapabilities', { roomId: bad(undefined) }, 'BadRequestError', /^data\.roomId: missing/);
});

test('transport requests: bad direction, unknown ids, wrong transport type, bad DTLS', async () => {
	const { client } = await joined();
	await assertError(
		client,
		'createWebRtcTransport',
		{ direction: bad('both') },
		'BadRequestError',
		/^data\.direction: expected one of "send", "recv"/
	);
	await assertError(client, 'createWebRtcTransport', { direction: 'send', forceTcp: bad('yes') }, 'BadRequestError', /^data\.forceTcp/);
	const send = await client.requestOk('createWebRtcTransport', { direction: 'send' });

	await assertError(
		client,
		'connectWebRtcTransport',
		{ transportId: BOGUS_ID, dtlsParameters: { fingerprints: [] } },
		'NotFoundError',
		/^data\.transportId/
	);
	await assertError(
		client,
		'connectWebRtcTransport',
		{ transportId: send.id, dtlsParameters: bad(null) },
		'BadRequestError',
		/^data\.dtlsParameters: expected an object/
	);
	await assertError(
		client,
		'connectWebRtcTransport',
		{ transportId: 'x'.repeat(65), dtlsParameters: { fingerprints: [] } },
		'BadRequestError',
		/^data\.transportId: expected an id/
	);
	// mediasoup's own check of the parameters: the server stays up and answers.
	const refused = await client.request('connectWebRtcTransport', { transportId: send.id, dtlsParameters: bad({ fingerprints: 'none' }) });
	assert.equal(refused.ok, false);
	assert.ok(!refused.ok && ['BadRequestError', 'ServerError'].includes(refused.error.name), JSON.stringify(refused));

	await assertError(client, 'restartIce', { transportId: BOGUS_ID }, 'NotFoundError', /^data\.transportId/);
	await assertError(client, 'restartIce', { transportId: bad(7) }, 'BadRequestError', /^data\.transportId/);

	// Plain transports are off by default.
	await assertError(client, 'createPlainTransport', { direction: 'send' }, 'NotAllowedError', /syntheticPeers\.enabled/);
	await assertError(client, 'connectPlainTransport', { transportId: send.id, ip: '127.0.0.1', port: 5000 }, 'NotAllowedError');
	await assertError(
		client,
		'connectPlainTransport',
		{ transportId: send.id, ip: 'localhost', port: 5000 },
		'BadRequestError',
		/^data\.ip/
	);
	await assertError(
		client,
		'connectPlainTransport',
		{ transportId: send.id, ip: '127.0.0.1', port: 70000 },
		'BadRequestError',
		/^data\.port/
	);
});

test('produce: unknown or recv transport, bad kind, bad rtpParameters, mismatched codec', async () => {
	const { client } = await joined();
	const send = await client.requestOk('createWebRtcTransport', { direction: 'send' });
	const recv = await client.requestOk('createWebRtcTransport', { direction: 'recv' });
	const before = server.server.meetingServer.counters.snapshot().produce;

	await assertError(
		client,
		'produce',
		{ transportId: BOGUS_ID, kind: 'audio', rtpParameters: opusParameters() },
		'NotFoundError',
		/^data\.transportId/
	);
	await assertError(
		client,
		'produce',
		{ transportId: recv.id, kind: 'audio', rtpParameters: opusParameters() },
		'BadRequestError',
		/^data\.transportId: not a send transport/
	);
	await assertError(
		client,
		'produce',
		{ transportId: send.id, kind: bad('smell'), rtpParameters: opusParameters() },
		'BadRequestError',
		/^data\.kind/
	);
	await assertError(
		client,
		'produce',
		{ transportId: send.id, kind: 'audio', rtpParameters: bad([]) },
		'BadRequestError',
		/^data\.rtpParameters: expected an object/
	);
	await assertError(
		client,
		'produce',
		{ transportId: send.id, kind: 'audio', rtpParameters: opusParameters(), paused: bad(1) },
		'BadRequestError',
		/^data\.paused/
	);
	await assertError(
		client,
		'produce',
		{ transportId: send.id, kind: 'audio', rtpParameters: opusParameters(), appData: bad({ source: 'drum' }) },
		'BadRequestError',
		/^data\.appData\.source/
	);
	await assertError(
		client,
		'produce',
		{ transportId: send.id, kind: 'audio', rtpParameters: bad({ codecs: 'opus' }) },
		'BadRequestError',
		/codecs/
	);
	// A video codec under kind audio (mediasoup itself would take it).
	await assertError(
		client,
		'produce',
		{ transportId: send.id, kind: 'audio', rtpParameters: vp8Parameters() },
		'BadRequestError',
		/^data\.rtpParameters\.codecs\[0\]\.mimeType: not an audio codec/
	);

	const after = server.server.meetingServer.counters.snapshot().produce;
	assert.equal(after.audio.attempts - before.audio.attempts, 1, 'mediasoup was asked once');
	assert.equal(after.audio.failures - before.audio.failures, 1);
	assert.equal(after.audio.successes, before.audio.successes);
	await client.requestOk('produce', { transportId: send.id, kind: 'audio', rtpParameters: opusParameters() });
});

test("producer and consumer requests: unknown ids, another peer's ids, bad layers", async () => {
	const alice = await joined();
	const bob = await connect();
	await bob.requestOk('join', { roomId: alice.roomId, displayName: 'Bob', rtpCapabilities: alice.caps });
	const send = await alice.client.requestOk('createWebRtcTransport', { direction: 'send' });
	await bob.requestOk('createWebRtcTransport', { direction: 'recv' });
	const { producerId } = await alice.client.requestOk('produce', {
		transportId: send.id,
		kind: 'audio',
		rtpParameters: opusParameters()
	});
	const { consumerId } = await bob.waitForNotification('newConsumer', (n) => n.producerId === producerId);

	for (const method of ['pauseProducer', 'resumeProducer', 'closeProducer'] as const) {
		await assertError(alice.client, method, { producerId: BOGUS_ID }, 'NotFoundError', /^data\.producerId/);
		await assertError(bob, method, { producerId }, 'NotFoundError', /^data\.producerId/);
		await assertError(alice.client, method, { producerId: bad({ id: producerId }) }, 'BadRequestError', /^data\.producerId/);
	}
	for (const method of ['resumeConsumer', 'pauseConsumer'] as const) {
		await assertError(bob, method, { consumerId: BOGUS_ID }, 'NotFoundError', /^data\.consumerId/);
		await assertError(alice.client, method, { consumerId }, 'NotFoundError', /^data\.consumerId/);
		await assertError(bob, method, { consumerId: bad('') }, 'BadRequestError', /^data\.consumerId/);
	}
	await assertError(bob, 'setConsumerPreferredLayers', { consumerId: BOGUS_ID, spatialLayer: 0 }, 'NotFoundError');
	await assertError(bob, 'setConsumerPreferredLayers', { consumerId, spatialLayer: -1 }, 'BadRequestError', /^data\.spatialLayer/);
	await assertError(
		bob,
		'setConsumerPreferredLayers',
		{ consumerId, spatialLayer: 0, temporalLayer: bad(0.5) },
		'BadRequestError',
		/^data\.temporalLayer/
	);
	await assertError(bob, 'leave', bad({ now: true }), 'BadRequestError', /^data\.now: unknown field/);
	// The right owner still can.
	await bob.requestOk('resumeConsumer', { consumerId });
	await alice.client.requestOk('closeProducer', { producerId });
});

test('the edge: unknown method, malformed envelope, forbidden keys, binary, missing ack', async () => {
	const client = await connect();
	const before = server.server.meetingServer.counters.snapshot();
	await assertRawError(client, { method: 'becomeAdmin', data: {} }, 'UnknownMethodError', /becomeAdmin/);
	await assertRawError(client, { method: 'toString', data: {} }, 'UnknownMethodError');
	await assertRawError(client, 'join', 'BadRequestError', /^message: expected an object/);
	await assertRawError(client, null, 'BadRequestError');
	await assertRawError(client, [1, 2], 'BadRequestError');
	await assertRawError(client, { data: {} }, 'BadRequestError', /^method: /);
	await assertRawError(client, { method: 'leave' }, 'BadRequestError', /^data: expected an object/);
	await assertRawError(client, { method: 'leave', data: 'now' }, 'BadRequestError', /^data: expected an object/);
	await assertRawError(client, { method: 'leave', data: {}, extra: 1 }, 'BadRequestError', /^message\.extra: unknown field/);
	// Prototype pollution attempts, at the top and deep inside a mediasoup structure.
	await assertRawError(
		client,
		JSON.parse('{"method":"leave","data":{"__proto__":{"admin":true}}}'),
		'BadRequestError',
		/__proto__: forbidden key/
	);
	await assertRawError(
		client,
		{
			method: 'produce',
			data: {
				transportId: BOGUS_ID,
				kind: 'audio',
				rtpParameters: { ...opusParameters(), encodings: [{ ssrc: 1, constructor: { prototype: {} } }] }
			}
		},
		'BadRequestError',
		/^message\.data\.rtpParameters\.encodings\[0\]\.constructor: forbidden key/
	);
	await assertRawError(
		client,
		{ method: 'getRouterRtpCapabilities', data: { roomId: 'r', prototype: 1 } },
		'BadRequestError',
		/prototype: forbidden key/
	);
	// socket.io binary attachments arrive as Buffers: not JSON, refused.
	await assertRawError(
		client,
		{ method: 'getRouterRtpCapabilities', data: { roomId: Buffer.from('room') } },
		'BadRequestError',
		/not a JSON value/
	);
	// Too deep.
	let deep: unknown = {};
	for (let i = 0; i < 20; i++) deep = { a: deep };
	await assertRawError(
		client,
		{ method: 'join', data: { roomId: 'r', displayName: 'A', rtpCapabilities: deep } },
		'BadRequestError',
		/nested deeper/
	);
	assert.deepEqual(Object.getPrototypeOf({}), Object.prototype);
	assert.equal(({} as Record<string, unknown>).admin, undefined);

	// No ack: nothing to answer, nothing done; counted.
	client.rawEmit('request', { method: 'getRouterRtpCapabilities', data: { roomId: 'no-ack' } });
	client.rawEmit('request', { method: 'getRouterRtpCapabilities', data: { roomId: 'no-ack' } }, 'not a function');
	client.rawEmit('hello', 'world');
	const ok = await client.requestOk('getRouterRtpCapabilities', { roomId: 'after-no-ack' });
	assert.ok(ok.routerRtpCapabilities.codecs);
	assert.equal(server.server.meetingServer.rooms.has('no-ack'), false, 'a request without ack is not run');

	const after = server.server.meetingServer.counters.snapshot();
	const delta = (reason: string): number => (after.rejectedMessages[reason] ?? 0) - (before.rejectedMessages[reason] ?? 0);
	assert.equal(delta('no_ack'), 2);
	assert.equal(delta('unknown_event'), 1);
	assert.equal(delta('unknown_method'), 2);
	assert.equal(delta('forbidden_key'), 3);
	assert.equal(delta('malformed'), 9);
	const unknown = after.requests._unknown!;
	assert.equal(unknown.UnknownMethodError! - (before.requests._unknown?.UnknownMethodError ?? 0), 2);
	assert.ok(unknown.BadRequestError! >= 5);
	assert.equal(client.connected, true, 'bad input does not cost the connection');
});

test('a flood of requests is answered with RateLimitError beyond the queue bound', async () => {
	const { client } = await joined();
	const send = await client.requestOk('createWebRtcTransport', { direction: 'send' });
	const before = server.server.meetingServer.counters.snapshot().rejectedMessages.rate_limit ?? 0;
	// A stopped worker holds every restartIce, so the burst piles up in the socket's queue.
	const workerPid = server.server.workerPool.workers[0]!.pid;
	process.kill(workerPid, 'SIGSTOP');
	let answers: Promise<string[]>;
	try {
		const names: string[] = [];
		answers = Promise.all(
			Array.from({ length: 100 }, () =>
				client.request('restartIce', { transportId: send.id }).then((r) => {
					const name = r.ok ? 'ok' : r.error.name;
					names.push(name);
					return name;
				})
			)
		);
		const deadline = Date.now() + 10_000;
		while (names.length < 68) {
			if (Date.now() > deadline) throw new Error(`only ${names.length} answers while the worker is stopped`);
			await new Promise((r) => setTimeout(r, 20));
		}
		assert.ok(
			names.every((n) => n === 'RateLimitError'),
			names.join()
		);
	} finally {
		process.kill(workerPid, 'SIGCONT');
	}
	const names = await answers;
	assert.equal(names.filter((n) => n === 'ok').length, 32, 'the queue bound');
	assert.equal(names.filter((n) => n === 'RateLimitError').length, 68);
	assert.equal((server.server.meetingServer.counters.snapshot().rejectedMessages.rate_limit ?? 0) - before, 68);
	await client.requestOk('restartIce', { transportId: send.id });
});

test('a message over maxMessageBytes closes the connection and is counted; the peer leaves', async () => {
	const alice = await joined();
	const bob = await connect();
	await bob.requestOk('join', { roomId: alice.roomId, displayName: 'Bob', rtpCapabilities: alice.caps });
	const before = server.server.meetingServer.counters.snapshot().rejectedMessages.payload_too_large ?? 0;
	const reply = bob
		.rawRequest({ method: 'getRouterRtpCapabilities', data: { roomId: 'x'.repeat(100_000) } }, 2000)
		.catch((e: Error) => e);
	await alice.client.waitForNotification('peerLeft');
	assert.ok((await reply) instanceof Error, 'no answer');
	assert.equal(bob.connected, false);
	assert.equal((server.server.meetingServer.counters.snapshot().rejectedMessages.payload_too_large ?? 0) - before, 1);
});

test('a browser page of another origin cannot connect; the same origin can', async () => {
	// The WebSocket handshake is refused with 400 (socket.io's allowRequest said no).
	await assert.rejects(SignallingClient.connect(server.url, { extraHeaders: { origin: 'http://evil.example' } }), handshakeRefused(400));
	const host = new URL(server.url).host;
	const same = await SignallingClient.connect(server.url, { extraHeaders: { origin: `http://${host}` } });
	clients.push(same);
	assert.ok((await same.requestOk('getRouterRtpCapabilities', { roomId: 'origin' })).routerRtpCapabilities);
});
