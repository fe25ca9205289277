import '../server/workerBinary.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignallingClient } from './support/signallingClient.js';
import { startTestServer, opusParameters, vp8Parameters, vp8SimulcastParameters } from './support/signallingServer.js';
import type { RtpCapabilities } from '../server/signalling/contract.js';

let server: Awaited<ReturnType<typeof startTestServer>>;
const clients: SignallingClient[] = [];
let roomSeq = 0;

before(async () => {
	server = await startTestServer({ room: { maxPeers: 3, emptyRoomGraceSeconds: 0.3 } });
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
async function joined(roomId: string, displayName = 'Alice'): Promise<{ client: SignallingClient; peerId: string; caps: RtpCapabilities }> {
	const client = await connect();
	const { routerRtpCapabilities: caps } = await client.requestOk('getRouterRtpCapabilities', { roomId });
	const { peerId } = await client.requestOk('join', { roomId, displayName, rtpCapabilities: caps });
	return { client, peerId, caps };
}

test('join, transports, produce: a second peer gets newConsumer and can resume it', async () => {
	const roomId = newRoomId();
	const alice = await joined(roomId, 'Alice');
	const bob = await joined(roomId, 'Bob');
	assert.deepEqual(await alice.client.waitForNotification('peerJoined'), { id: bob.peerId, displayName: 'Bob' });

	const send = await alice.client.requestOk('createWebRtcTransport', { direction: 'send' });
	assert.ok(send.id && send.iceCandidates.length > 0 && send.dtlsParameters.fingerprints.length > 0);
	const recv = await bob.client.requestOk('createWebRtcTransport', { direction: 'recv' });

	const { producerId: audioId } = await alice.client.requestOk('produce', { transportId: send.id, kind: 'audio', rtpParameters: opusParameters() });
	const audio = await bob.client.waitForNotification('newConsumer', (n) => n.producerId === audioId);
	assert.equal(audio.peerId, alice.peerId);
	assert.equal(audio.kind, 'audio');
	assert.equal(audio.transportId, recv.id);
	assert.equal(audio.type, 'simple');
	await bob.client.requestOk('resumeConsumer', { consumerId: audio.consumerId });

	const { producerId: videoId } = await alice.client.requestOk('produce', { transportId: send.id, kind: 'video', rtpParameters: vp8SimulcastParameters() });
	const video = await bob.client.waitForNotification('newConsumer', (n) => n.producerId === videoId);
	assert.equal(video.type, 'simulcast');
	await bob.client.requestOk('setConsumerPreferredLayers', { consumerId: video.consumerId, spatialLayer: 1, temporalLayer: 0 });

	// A third peer gets consumers for what exists once it has a recv transport.
	const carol = await joined(roomId, 'Carol');
	await carol.client.requestOk('createWebRtcTransport', { direction: 'recv' });
	const seen = await Promise.all([audioId, videoId].map((id) => carol.client.waitForNotification('newConsumer', (n) => n.producerId === id)));
	assert.deepEqual(seen.map((n) => n.kind).sort(), ['audio', 'video']);

	await alice.client.requestOk('closeProducer', { producerId: videoId });
	await bob.client.waitForNotification('consumerClosed', (n) => n.consumerId === video.consumerId);

	await alice.client.requestOk('leave', {});
	await bob.client.waitForNotification('peerLeft', (n) => n.peerId === alice.peerId);
	await bob.client.waitForNotification('consumerClosed', (n) => n.consumerId === audio.consumerId);
	void vp8Parameters;
});
