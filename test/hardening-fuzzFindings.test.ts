import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignallingClient } from './support/signallingClient.js';
import { startTestServer, opusParameters } from './support/signallingServer.js';

// Bugs the signalling fuzz (test/hardening-fuzz.test.ts) found, each pinned by a test of its own.

test("found by the fuzz: a second connect, a taken MID or SSRC are the client's BadRequestError, not a ServerError", async () => {
	const server = await startTestServer({ syntheticPeers: { enabled: true } });
	const client = await SignallingClient.connect(server.url);
	try {
		const { routerRtpCapabilities: caps } = await client.requestOk('getRouterRtpCapabilities', { roomId: 'twice' });
		await client.requestOk('join', { roomId: 'twice', displayName: 'A', rtpCapabilities: caps });
		const send = await client.requestOk('createWebRtcTransport', { direction: 'send' });
		const dtlsParameters = {
			role: 'client' as const,
			fingerprints: [{ algorithm: 'sha-256' as const, value: `${'AB:'.repeat(31)}AB` }]
		};
		await client.requestOk('connectWebRtcTransport', { transportId: send.id, dtlsParameters });
		const again = await client.request('connectWebRtcTransport', { transportId: send.id, dtlsParameters });
		assert.deepEqual(again, { ok: false, error: { name: 'BadRequestError', message: 'data.transportId: already connected' } });
		const recv = await client.requestOk('createPlainTransport', { direction: 'recv' });
		await client.requestOk('connectPlainTransport', { transportId: recv.id, ip: '127.0.0.1', port: 9 });
		const plainAgain = await client.request('connectPlainTransport', { transportId: recv.id, ip: '127.0.0.1', port: 9 });
		assert.ok(!plainAgain.ok && plainAgain.error.name === 'BadRequestError', JSON.stringify(plainAgain));

		const { producerId } = await client.requestOk('produce', { transportId: send.id, kind: 'audio', rtpParameters: opusParameters(5) });
		const sameSsrc = { ...opusParameters(5), mid: '9' };
		const sameMid = opusParameters(6);
		for (const rtpParameters of [sameSsrc, sameMid]) {
			const refused = await client.request('produce', { transportId: send.id, kind: 'audio', rtpParameters });
			assert.ok(!refused.ok && refused.error.name === 'BadRequestError', JSON.stringify(refused));
		}
		// Once the first producer is gone, its MID and SSRC are free again.
		await client.requestOk('closeProducer', { producerId });
		await client.requestOk('produce', { transportId: send.id, kind: 'audio', rtpParameters: opusParameters(5) });
		const counters = server.server.meetingServer.counters.snapshot();
		assert.equal(counters.requests.produce!.ServerError, undefined);
		assert.equal(counters.requests.connectWebRtcTransport!.ServerError, undefined);
	} finally {
		client.close();
		await server.close();
	}
});

test("found by the fuzz: a request on a consumer whose producer the worker just closed is UnknownIdError (the client's NotFoundError), though mediasoup reports the close late", async () => {
	const server = await startTestServer();
	const alice = await SignallingClient.connect(server.url);
	const bob = await SignallingClient.connect(server.url);
	try {
		const { routerRtpCapabilities: caps } = await alice.requestOk('getRouterRtpCapabilities', { roomId: 'race' });
		const { peerId: aliceId } = await alice.requestOk('join', { roomId: 'race', displayName: 'A', rtpCapabilities: caps });
		const { peerId: bobId } = await bob.requestOk('join', { roomId: 'race', displayName: 'B', rtpCapabilities: caps });
		const send = await alice.requestOk('createWebRtcTransport', { direction: 'send' });
		await bob.requestOk('createWebRtcTransport', { direction: 'recv' });
		const room = server.server.meetingServer.rooms.get('race')!;
		for (const method of ['pauseConsumer', 'resumeConsumer', 'setConsumerPreferredLayers'] as const) {
			const { producerId } = await alice.requestOk('produce', {
				transportId: send.id,
				kind: 'audio',
				rtpParameters: opusParameters(1000 + method.length)
			});
			const { consumerId } = await bob.waitForNotification('newConsumer', (n) => n.producerId === producerId);
			// The producer closes in the worker first; the worker's `producerclose` for the consumer
			// reaches mediasoup's Node side after its refusal of the request that follows.
			room.peers.get(aliceId)!.producers.get(producerId)!.close();
			const bobPeer = room.peers.get(bobId)!;
			const request =
				method === 'pauseConsumer'
					? bobPeer.pauseConsumer(consumerId)
					: method === 'resumeConsumer'
						? bobPeer.resumeConsumer(consumerId)
						: bobPeer.setConsumerPreferredLayers(consumerId, { spatialLayer: 0 });
			await assert.rejects(
				request,
				(error: Error) => error.name === 'UnknownIdError' && /closed meanwhile/.test(error.message),
				method
			);
		}
	} finally {
		alice.close();
		bob.close();
		await server.close();
	}
});

test('found by the fuzz: a lone surrogate in what goes to the worker is refused at once, not left to hang for 15 s', async () => {
	const server = await startTestServer();
	const client = await SignallingClient.connect(server.url);
	try {
		const { routerRtpCapabilities: caps } = await client.requestOk('getRouterRtpCapabilities', { roomId: 'surrogates' });
		const badCaps = structuredClone(caps);
		badCaps.codecs![0]!.parameters = { 'x\uDC00': 1 };
		const refusedJoin = await client.request('join', { roomId: 'surrogates', displayName: 'A', rtpCapabilities: badCaps }, 2000);
		assert.deepEqual(refusedJoin, {
			ok: false,
			error: {
				name: 'BadRequestError',
				message: 'data.rtpCapabilities.codecs[0].parameters: a key that is not well-formed Unicode (a lone surrogate)'
			}
		});
		// A display name is ours to clean (lone surrogates become U+FFFD), so it may carry one.
		await client.requestOk('join', { roomId: 'surrogates', displayName: 'A \uD800', rtpCapabilities: caps });
		const send = await client.requestOk('createWebRtcTransport', { direction: 'send' });
		// Each refusal must come within 2 s, far below mediasoup's 15 s: a request left to hang
		// fails by its timeout (a SignallingRequestError), not by a stopwatch.
		const refusedConnect = await client.request(
			'connectWebRtcTransport',
			{ transportId: send.id, dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB\uD83C' }] } },
			2000
		);
		assert.deepEqual(refusedConnect, {
			ok: false,
			error: {
				name: 'BadRequestError',
				message: 'data.dtlsParameters.fingerprints[0].value: not well-formed Unicode (a lone surrogate)'
			}
		});
		const params = { ...opusParameters(), rtcp: { cname: 'cname \uDBFF' } };
		const refusedProduce = await client.request('produce', { transportId: send.id, kind: 'audio', rtpParameters: params }, 2000);
		assert.deepEqual(refusedProduce, {
			ok: false,
			error: { name: 'BadRequestError', message: 'data.rtpParameters.rtcp.cname: not well-formed Unicode (a lone surrogate)' }
		});
		// A well-formed pair is fine.
		await client.requestOk('produce', {
			transportId: send.id,
			kind: 'audio',
			rtpParameters: { ...opusParameters(), rtcp: { cname: 'cname 😀' } }
		});
	} finally {
		client.close();
		await server.close();
	}
});
