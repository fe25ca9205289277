import '../server/workerBinary.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignallingClient } from './support/signallingClient.js';
import { startTestServer, opusParameters, vp8SimulcastParameters, type TestServer } from './support/signallingServer.js';
import type { RtpCapabilities } from '../server/contract/signalling.js';

// The success path of every request method and the notifications they cause.

let server: TestServer;
const clients: SignallingClient[] = [];
let roomSeq = 0;

before(async () => {
	server = await startTestServer({ room: { maxPeers: 5 } });
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

function newRoomId(): string {
	return `room-${process.pid}-${++roomSeq}`;
}

/** A client joined to `roomId` with the router's own capabilities (it can consume everything). */
async function joined(roomId: string, displayName: string): Promise<{ client: SignallingClient; peerId: string; caps: RtpCapabilities }> {
	const client = await connect();
	const { routerRtpCapabilities: caps } = await client.requestOk('getRouterRtpCapabilities', { roomId });
	const { peerId } = await client.requestOk('join', { roomId, displayName, rtpCapabilities: caps });
	return { client, peerId, caps };
}

test("getRouterRtpCapabilities then join: the capabilities are the room router's, peers are listed", async () => {
	const roomId = newRoomId();
	const client = await connect();
	const caps = await client.requestOk('getRouterRtpCapabilities', { roomId });
	const room = server.server.meetingServer.rooms.get(roomId);
	assert.ok(room, 'the room exists after getRouterRtpCapabilities');
	assert.deepEqual(caps.routerRtpCapabilities, room.router.rtpCapabilities);
	assert.deepEqual(caps.routerRtpCapabilities.codecs!.map((c) => c.mimeType).sort(), ['audio/opus', 'video/VP8', 'video/rtx']);

	// Display names are trimmed and cleaned of control and bidi-override characters.
	const first = await client.requestOk('join', {
		roomId,
		displayName: '  Al\u0007ice\u202E ',
		rtpCapabilities: caps.routerRtpCapabilities
	});
	assert.deepEqual(first.routerRtpCapabilities, room.router.rtpCapabilities);
	assert.deepEqual(first.peers, []);
	assert.equal(room.peers.get(first.peerId)?.displayName, 'Alice');

	const bob = await joined(roomId, 'Bob 🎉');
	assert.deepEqual(await client.waitForNotification('peerJoined'), { id: bob.peerId, displayName: 'Bob 🎉' });
	const carol = await connect();
	const third = await carol.requestOk('join', { roomId, displayName: 'Carol', rtpCapabilities: bob.caps });
	assert.deepEqual(
		third.peers.sort((a, b) => a.displayName.localeCompare(b.displayName)),
		[
			{ id: first.peerId, displayName: 'Alice' },
			{ id: bob.peerId, displayName: 'Bob 🎉' }
		]
	);
});

test('createWebRtcTransport / connectWebRtcTransport / restartIce', async () => {
	const roomId = newRoomId();
	const { client, peerId } = await joined(roomId, 'Alice');
	const room = server.server.meetingServer.rooms.get(roomId)!;
	const created: { appData: unknown; id: string }[] = [];
	room.router.observer.on('newtransport', (t: { appData: unknown; id: string }) => created.push(t));

	const send = await client.requestOk('createWebRtcTransport', { direction: 'send' });
	assert.match(send.id, /^[0-9a-f-]{36}$/);
	assert.ok(send.iceCandidates.some((c) => c.protocol === 'udp'));
	assert.ok(send.iceCandidates.some((c) => c.protocol === 'tcp'));
	assert.ok(send.iceCandidates.every((c) => c.ip === '127.0.0.1'));
	assert.equal(send.dtlsParameters.role, 'auto');

	const tcp = await client.requestOk('createWebRtcTransport', { direction: 'recv', forceTcp: true });
	assert.ok(tcp.iceCandidates.length > 0 && tcp.iceCandidates.every((c) => c.protocol === 'tcp'));
	assert.deepEqual(
		created.map((t) => [t.id, t.appData]),
		[
			[send.id, { peerId, roomId, direction: 'send' }],
			[tcp.id, { peerId, roomId, direction: 'recv' }]
		]
	);

	// DTLS itself never starts (no browser), but the server takes the client's parameters.
	const fingerprint = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':');
	assert.deepEqual(
		await client.requestOk('connectWebRtcTransport', {
			transportId: send.id,
			dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: fingerprint }] }
		}),
		{}
	);

	const { iceParameters } = await client.requestOk('restartIce', { transportId: send.id });
	assert.notEqual(iceParameters.usernameFragment, send.iceParameters.usernameFragment);
	assert.notEqual(iceParameters.password, send.iceParameters.password);
});

test('produce and consume: newConsumer, resume/pause, preferred layers, producer pause/resume/close, leave', async () => {
	const roomId = newRoomId();
	const before = server.server.meetingServer.counters.snapshot();
	const alice = await joined(roomId, 'Alice');
	const bob = await joined(roomId, 'Bob');

	const send = await alice.client.requestOk('createWebRtcTransport', { direction: 'send' });
	const recv = await bob.client.requestOk('createWebRtcTransport', { direction: 'recv' });

	const { producerId: audioId } = await alice.client.requestOk('produce', {
		transportId: send.id,
		kind: 'audio',
		rtpParameters: opusParameters(),
		appData: { source: 'mic' }
	});
	const audio = await bob.client.waitForNotification('newConsumer', (n) => n.producerId === audioId);
	assert.equal(audio.peerId, alice.peerId);
	assert.equal(audio.kind, 'audio');
	assert.equal(audio.transportId, recv.id);
	assert.equal(audio.type, 'simple');
	assert.equal(audio.producerPaused, false);
	assert.equal(audio.rtpParameters.codecs[0]!.mimeType, 'audio/opus');

	// Server-side objects: consumers start paused; appData carries peer and room.
	const room = server.server.meetingServer.rooms.get(roomId)!;
	const bobPeer = room.peers.get(bob.peerId)!;
	const audioConsumer = bobPeer.consumers.get(audio.consumerId)!;
	assert.equal(audioConsumer.paused, true);
	assert.deepEqual(audioConsumer.appData, { peerId: bob.peerId, roomId });
	assert.deepEqual(room.peers.get(alice.peerId)!.producers.get(audioId)!.appData, { peerId: alice.peerId, roomId });
	assert.deepEqual(room.router.appData, { roomId });

	await bob.client.requestOk('resumeConsumer', { consumerId: audio.consumerId });
	assert.equal(audioConsumer.paused, false);
	await bob.client.requestOk('pauseConsumer', { consumerId: audio.consumerId });
	assert.equal(audioConsumer.paused, true);
	await bob.client.requestOk('resumeConsumer', { consumerId: audio.consumerId });

	// Simulcast video.
	const { producerId: videoId } = await alice.client.requestOk('produce', {
		transportId: send.id,
		kind: 'video',
		rtpParameters: vp8SimulcastParameters(),
		paused: true
	});
	const video = await bob.client.waitForNotification('newConsumer', (n) => n.producerId === videoId);
	assert.equal(video.type, 'simulcast');
	assert.equal(video.producerPaused, true);
	await bob.client.requestOk('setConsumerPreferredLayers', { consumerId: video.consumerId, spatialLayer: 1, temporalLayer: 0 });
	assert.deepEqual(bobPeer.consumers.get(video.consumerId)!.preferredLayers, { spatialLayer: 1, temporalLayer: 0 });

	// Producer pause / resume reach the consumer's owner.
	await alice.client.requestOk('resumeProducer', { producerId: videoId });
	await bob.client.waitForNotification('consumerResumed', (n) => n.consumerId === video.consumerId);
	await alice.client.requestOk('pauseProducer', { producerId: videoId });
	await bob.client.waitForNotification('consumerPaused', (n) => n.consumerId === video.consumerId);

	// A late joiner gets consumers for what exists once it has a recv transport.
	const carol = await joined(roomId, 'Carol');
	assert.equal(carol.client.received('newConsumer').length, 0, 'no consumers before a recv transport');
	const carolRecv = await carol.client.requestOk('createWebRtcTransport', { direction: 'recv' });
	const seen = await Promise.all(
		[audioId, videoId].map((id) => carol.client.waitForNotification('newConsumer', (n) => n.producerId === id))
	);
	assert.deepEqual(seen.map((n) => n.kind).sort(), ['audio', 'video']);
	assert.ok(seen.every((n) => n.transportId === carolRecv.id && n.peerId === alice.peerId));

	// Carol's own producer reaches Bob, not Carol; Alice has no recv transport, so nothing for her.
	const carolSend = await carol.client.requestOk('createWebRtcTransport', { direction: 'send' });
	const { producerId: carolAudio } = await carol.client.requestOk('produce', {
		transportId: carolSend.id,
		kind: 'audio',
		rtpParameters: opusParameters(5555)
	});
	await bob.client.waitForNotification('newConsumer', (n) => n.producerId === carolAudio && n.peerId === carol.peerId);
	assert.ok(!carol.client.received('newConsumer').some((n) => n.producerId === carolAudio));
	assert.equal(alice.client.received('newConsumer').length, 0);

	await alice.client.requestOk('closeProducer', { producerId: videoId });
	await bob.client.waitForNotification('consumerClosed', (n) => n.consumerId === video.consumerId);
	assert.equal(bobPeer.consumers.has(video.consumerId), false);

	await alice.client.requestOk('leave', {});
	await bob.client.waitForNotification('peerLeft', (n) => n.peerId === alice.peerId);
	await bob.client.waitForNotification('consumerClosed', (n) => n.consumerId === audio.consumerId);
	assert.equal(room.peers.has(alice.peerId), false);

	// After leave the socket may join again.
	const again = await alice.client.requestOk('join', { roomId, displayName: 'Alice', rtpCapabilities: alice.caps });
	assert.notEqual(again.peerId, alice.peerId);
	await bob.client.waitForNotification('peerJoined', (n) => n.id === again.peerId);

	// A disconnect is a leave.
	carol.client.close();
	await bob.client.waitForNotification('peerLeft', (n) => n.peerId === carol.peerId);
	await bob.client.waitForNotification('consumerClosed', (n) =>
		bob.client.received('newConsumer').some((c) => c.consumerId === n.consumerId && c.producerId === carolAudio)
	);

	const after = server.server.meetingServer.counters.snapshot();
	assert.equal(after.joins - before.joins, 4);
	assert.equal(after.leaves - before.leaves, 2);
	assert.equal(after.produce.audio.successes - before.produce.audio.successes, 2);
	assert.equal(after.produce.video.successes - before.produce.video.successes, 1);
	// Bob: audio, video, carol's audio; Carol: audio, video.
	assert.equal(after.consume.audio.successes - before.consume.audio.successes, 3);
	assert.equal(after.consume.video.successes - before.consume.video.successes, 2);
	assert.equal((after.requests.produce?.ok ?? 0) - (before.requests.produce?.ok ?? 0), 3);
	assert.equal((after.requests.resumeConsumer?.ok ?? 0) - (before.requests.resumeConsumer?.ok ?? 0), 2);
	const latency = after.requestLatency.byMethod.join!;
	assert.equal(latency.bucketCounts.length, after.requestLatency.bucketsSeconds.length);
	assert.equal(latency.bucketCounts.at(-1), latency.count, 'every join took under 10 s');
	assert.ok(
		latency.bucketCounts.every((n, i) => i === 0 || n >= latency.bucketCounts[i - 1]!),
		'cumulative'
	);
});
