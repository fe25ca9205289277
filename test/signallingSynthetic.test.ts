import '../server/workerBinary.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import os from 'node:os';
import { SignallingClient } from './support/signallingClient.js';
import { startTestServer, type TestServer } from './support/signallingServer.js';
import { Vp8Stream } from '../tools/synthetic/Vp8Stream.js';
import { RtpStreamSender } from '../tools/synthetic/RtpStreamSender.js';
import type { RtpCapabilities, RtpParameters } from '../server/contract/signalling.js';
import type { ActiveSpeaker } from '../server/sfu/Room.js';

// Plain transports for synthetic peers, with real RTP: consumers on plain and WebRTC transports,
// scores, layers and the active speaker.

let server: TestServer;
const clients: SignallingClient[] = [];
const sockets: dgram.Socket[] = [];

before(async () => {
	server = await startTestServer({ syntheticPeers: { enabled: true } });
});

after(async () => {
	for (const c of clients) c.close();
	for (const s of sockets) s.close();
	await server.close();
});

async function joined(
	roomId: string,
	displayName: string,
	url = server.url
): Promise<{ client: SignallingClient; peerId: string; caps: RtpCapabilities }> {
	const client = await SignallingClient.connect(url);
	clients.push(client);
	const { routerRtpCapabilities: caps } = await client.requestOk('getRouterRtpCapabilities', { roomId });
	const { peerId } = await client.requestOk('join', { roomId, displayName, rtpCapabilities: caps });
	return { client, peerId, caps };
}

async function udpSocket(): Promise<dgram.Socket> {
	const socket = dgram.createSocket('udp4');
	sockets.push(socket);
	await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
	return socket;
}

const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/** Opus with the audio-level header extension, which the active-speaker observer reads. */
function opusWithLevel(ssrc: number): RtpParameters {
	return {
		codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
		headerExtensions: [{ uri: AUDIO_LEVEL_URI, id: 1 }],
		encodings: [{ ssrc }],
		rtcp: { cname: 'speaker', reducedSize: true }
	};
}

/** One opus RTP packet with a one-byte header extension (RFC 8285) carrying voice + level (0 = loudest). */
function opusPacket(ssrc: number, seq: number, level: number): Buffer {
	const header = Buffer.alloc(12);
	header[0] = 0x90; // V=2, X=1
	header[1] = 111;
	header.writeUInt16BE(seq & 0xffff, 2);
	header.writeUInt32BE((seq * 960) >>> 0, 4);
	header.writeUInt32BE(ssrc, 8);
	const extension = Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0x80 | level, 0x00, 0x00]);
	return Buffer.concat([header, extension, Buffer.alloc(60, 0xab)]);
}

test('plain transports: produce over comedia, consume on plain and WebRTC transports, active speaker', async () => {
	const roomId = 'synthetic';
	const alice = await joined(roomId, 'Synthetic Alice');
	const bob = await joined(roomId, 'Browser Bob');
	const carol = await joined(roomId, 'Synthetic Carol');
	const room = server.server.meetingServer.rooms.get(roomId)!;
	const alicePeer = room.peers.get(alice.peerId)!;
	const speakers: ActiveSpeaker[] = [];
	room.observer.on('activespeaker', (s) => speakers.push(s));
	const clientTypes: string[] = [];
	alicePeer.observer.on('clienttypechange', (t) => clientTypes.push(t));
	const before = server.server.meetingServer.counters.snapshot();

	// Alice sends audio and video, each from its own socket, so each on its own comedia transport.
	assert.equal(alicePeer.clientType, 'browser');
	const audioTransport = await alice.client.requestOk('createPlainTransport', { direction: 'send' });
	assert.equal(alicePeer.clientType, 'synthetic');
	assert.deepEqual(clientTypes, ['synthetic']);
	assert.equal(audioTransport.ip, '127.0.0.1');
	assert.ok(audioTransport.port > 0);
	const videoTransport = await alice.client.requestOk('createPlainTransport', { direction: 'send' });
	assert.deepEqual(clientTypes, ['synthetic'], 'flips once');

	await bob.client.requestOk('createWebRtcTransport', { direction: 'recv' });
	const carolRecv = await carol.client.requestOk('createPlainTransport', { direction: 'recv' });
	const sink = await udpSocket();
	const received = new Map<number, number>();
	sink.on('message', (packet) => {
		// RTCP (rtcp-mux) has packet types 192-223 where RTP has marker + payload type.
		const isRtcp = packet[1]! >= 192 && packet[1]! <= 223;
		if (packet.length >= 12 && !isRtcp) received.set(packet.readUInt32BE(8), (received.get(packet.readUInt32BE(8)) ?? 0) + 1);
	});
	await carol.client.requestOk('connectPlainTransport', { transportId: carolRecv.id, ip: '127.0.0.1', port: sink.address().port });

	const AUDIO_SSRC = 0x11223344;
	const { producerId: audioId } = await alice.client.requestOk('produce', {
		transportId: audioTransport.id,
		kind: 'audio',
		rtpParameters: opusWithLevel(AUDIO_SSRC),
		appData: { source: 'synthetic' }
	});
	// Two-layer simulcast (layers change only on simulcast/SVC consumers): two VP8 streams, one producer.
	const layers = [0, 1].map((i) => new Vp8Stream({ payloadType: 101, bitrate: 100_000 * (i + 1), fps: 15, keyFrameIntervalMs: 500 }));
	const simulcast = layers[0]!.rtpParameters();
	simulcast.encodings = layers.map((l) => ({ ssrc: l.ssrc }));
	const { producerId: videoId } = await alice.client.requestOk('produce', {
		transportId: videoTransport.id,
		kind: 'video',
		rtpParameters: simulcast
	});

	const consumersOf = async (client: SignallingClient): Promise<Map<string, string>> => {
		const audio = await client.waitForNotification('newConsumer', (n) => n.producerId === audioId);
		const video = await client.waitForNotification('newConsumer', (n) => n.producerId === videoId);
		for (const { consumerId } of [audio, video]) await client.requestOk('resumeConsumer', { consumerId });
		return new Map([
			['audio', audio.consumerId],
			['video', video.consumerId]
		]);
	};
	const bobConsumers = await consumersOf(bob.client);
	const carolConsumers = await consumersOf(carol.client);
	const carolVideo = carol.client.received('newConsumer').find((n) => n.producerId === videoId)!;
	const carolAudio = carol.client.received('newConsumer').find((n) => n.producerId === audioId)!;
	assert.equal(carolVideo.transportId, carolRecv.id);

	// Real RTP: loud audio from one socket, VP8 from the synthetic sender.
	const audioSocket = await udpSocket();
	let seq = 0;
	const audioTimer = setInterval(() => audioSocket.send(opusPacket(AUDIO_SSRC, seq++, 5), audioTransport.port, '127.0.0.1'), 20);
	const sender = await RtpStreamSender.create({ ip: videoTransport.ip, port: videoTransport.port, streams: layers });
	sender.start();
	try {
		assert.deepEqual(await bob.client.waitForNotification('activeSpeaker', (s) => s.peerId !== null), {
			peerId: alice.peerId,
			producerId: audioId
		});
		assert.deepEqual(await carol.client.waitForNotification('activeSpeaker', (s) => s.peerId !== null), {
			peerId: alice.peerId,
			producerId: audioId
		});
		assert.deepEqual(room.activeSpeaker, { peerId: alice.peerId, producerId: audioId });

		const score = await alice.client.waitForNotification(
			'producerScore',
			(s) => s.producerId === videoId && s.score.some((e) => e.score > 0)
		);
		assert.ok(
			score.score.every((e) => layers.some((l) => l.ssrc === e.ssrc)),
			JSON.stringify(score)
		);
		const changed = await carol.client.waitForNotification(
			'consumerLayersChanged',
			(l) => l.consumerId === carolConsumers.get('video') && l.spatialLayer !== null
		);
		assert.ok(changed.spatialLayer === 0 || changed.spatialLayer === 1, JSON.stringify(changed));
		assert.equal(carolVideo.type, 'simulcast');
		await carol.client.waitForNotification('consumerScore', (s) => s.consumerId === carolConsumers.get('video') && s.producerScore > 0);

		// Both streams arrive at Carol's UDP sink under her consumers' SSRCs.
		const audioSsrc = carolAudio.rtpParameters.encodings![0]!.ssrc!;
		const videoSsrc = carolVideo.rtpParameters.encodings![0]!.ssrc!;
		const deadline = Date.now() + 10_000;
		while ((received.get(audioSsrc) ?? 0) < 10 || (received.get(videoSsrc) ?? 0) < 10) {
			if (Date.now() > deadline) throw new Error(`RTP at the sink: ${JSON.stringify([...received])}`);
			await new Promise((r) => setTimeout(r, 50));
		}
	} finally {
		clearInterval(audioTimer);
		sender.close();
	}

	// The speaker's producer closes: the room falls silent.
	await alice.client.requestOk('closeProducer', { producerId: audioId });
	assert.deepEqual(await bob.client.waitForNotification('activeSpeaker', (s) => s.peerId === null), { peerId: null, producerId: null });
	await bob.client.waitForNotification('consumerClosed', (n) => n.consumerId === bobConsumers.get('audio'));
	assert.deepEqual(speakers.at(-1), { peerId: null, producerId: null });
	assert.deepEqual(speakers[0], { peerId: alice.peerId, producerId: audioId });
	const after = server.server.meetingServer.counters.snapshot();
	assert.equal(after.activeSpeakerChanges - before.activeSpeakerChanges, speakers.length);
	assert.ok(speakers.length >= 2);
});

test('plain transport rules: loopback only, recv connects, send is comedia, no WebRTC requests on it', async () => {
	const { client } = await joined('rules', 'Synthetic');
	const send = await client.requestOk('createPlainTransport', { direction: 'send' });
	const recv = await client.requestOk('createPlainTransport', { direction: 'recv' });
	const assertError = async (
		response: Promise<{ ok: boolean; error?: { name: string; message: string } }>,
		name: string,
		pattern: RegExp
	): Promise<void> => {
		const r = await response;
		assert.equal(r.ok, false);
		assert.equal(r.error!.name, name, r.error!.message);
		assert.match(r.error!.message, pattern);
	};
	await assertError(
		client.request('connectPlainTransport', { transportId: recv.id, ip: '192.0.2.77', port: 5004 }),
		'NotAllowedError',
		/^data\.ip: .*loopback/
	);
	await assertError(
		client.request('connectPlainTransport', { transportId: recv.id, ip: '::ffff:10.0.0.1', port: 5004 }),
		'NotAllowedError',
		/^data\.ip/
	);
	await assertError(
		client.request('connectPlainTransport', { transportId: send.id, ip: '127.0.0.1', port: 5004 }),
		'BadRequestError',
		/comedia/
	);
	await assertError(
		client.request('connectPlainTransport', { transportId: '00000000-0000-0000-0000-000000000000', ip: '127.0.0.1', port: 5004 }),
		'NotFoundError',
		/^data\.transportId/
	);
	await assertError(client.request('restartIce', { transportId: send.id }), 'BadRequestError', /not a WebRTC transport/);
	await assertError(
		client.request('connectWebRtcTransport', { transportId: recv.id, dtlsParameters: { fingerprints: [] } }),
		'BadRequestError',
		/not a WebRTC transport/
	);
	await assertError(client.request('createPlainTransport', { direction: bad('sideways') }), 'BadRequestError', /^data\.direction/);
	await assertError(
		client.request('connectPlainTransport', { transportId: recv.id, ip: '127.0.0.1', port: 5004, rtcpPort: 5005 }),
		'BadRequestError',
		/^data\.rtcpPort: .*rtcp-mux/
	);
	assert.deepEqual(await client.requestOk('connectPlainTransport', { transportId: recv.id, ip: '127.0.0.1', port: 5004 }), {});
	// A WebRTC transport is no plain one.
	const webrtc = await client.requestOk('createWebRtcTransport', { direction: 'recv' });
	await assertError(
		client.request('connectPlainTransport', { transportId: webrtc.id, ip: '127.0.0.1', port: 5004 }),
		'BadRequestError',
		/not a plain transport/
	);
	// The per-peer transport bound.
	const responses = [];
	for (let i = 0; i < 6; i++) responses.push(await client.request('createPlainTransport', { direction: 'send' }));
	assert.deepEqual(
		responses.map((r) => (r.ok ? 'ok' : r.error.name)),
		['ok', 'ok', 'ok', 'ok', 'ok', 'NotAllowedError']
	);
});

test('a client that is not on this machine may not create plain transports', async () => {
	const external = Object.values(os.networkInterfaces())
		.flat()
		.find((a) => a && a.family === 'IPv4' && !a.internal);
	assert.ok(external, 'this test needs a non-loopback IPv4 interface');
	const remote = await startTestServer({ listen: { ip: external.address, port: 0 }, syntheticPeers: { enabled: true } });
	try {
		const { client } = await joined('remote', 'Far away', remote.url);
		const response = await client.request('createPlainTransport', { direction: 'send' });
		assert.ok(
			!response.ok && response.error.name === 'NotAllowedError' && /this machine/.test(response.error.message),
			JSON.stringify(response)
		);
		// WebRTC works as usual.
		await client.requestOk('createWebRtcTransport', { direction: 'send' });
	} finally {
		await remote.close();
	}
});

function bad<T>(value: unknown): T {
	return value as T;
}
