import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { SignallingClient } from './support/signallingClient.js';
import { startTestServer, opusParameters, vp8Parameters, type TestServer } from './support/signallingServer.js';
import { ObserverStreamClient } from '../server/stream/ObserverStreamClient.js';
import type { ObservedState } from '../server/observer/ObservedState.js';
import { until } from './support/until.js';

// The observer against the real meeting server: peers join and act over socket.io, and the
// stream client's mirror must equal the observer's state and the truth read from the live objects.

function prng(seed: number): () => number {
	let s = seed >>> 0;
	return () => {
		s = (s + 0x6d2b79f5) >>> 0;
		let t = Math.imul(s ^ (s >>> 15), s | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

type TestPeer = {
	client: SignallingClient;
	peerId: string;
	roomId: string;
	sendTransportId?: string;
	recvTransportId?: string;
	plainTransportId?: string;
	producerIds: Set<string>;
};

/** Joins, leaves and media actions, at random, against a live server; tracks the transports it made. */
class Scenario {
	readonly server: TestServer;
	readonly random: () => number;
	readonly peers = new Map<string, TestPeer>();
	readonly transports = new Set<string>();
	joins = 0;
	#ssrc = 5000;

	constructor(server: TestServer, seed: number) {
		this.server = server;
		this.random = prng(seed);
	}

	#pick<T>(items: Iterable<T>): T | undefined {
		const list = [...items];
		return list.length ? list[Math.floor(this.random() * list.length)] : undefined;
	}

	async join(): Promise<void> {
		const roomId = `room-${Math.floor(this.random() * 3)}`;
		const client = await SignallingClient.connect(this.server.url);
		const { routerRtpCapabilities } = await client.requestOk('getRouterRtpCapabilities', { roomId });
		const name = this.random() < 0.3 ? `Ev\u0007il ${'long '.repeat(11)}` : `Peer ${this.joins}`;
		const { peerId } = await client.requestOk('join', { roomId, displayName: name, rtpCapabilities: routerRtpCapabilities });
		this.peers.set(peerId, { client, peerId, roomId, producerIds: new Set() });
		this.joins++;
	}

	async leave(peer: TestPeer): Promise<void> {
		if (this.random() < 0.5) await peer.client.requestOk('leave', {});
		peer.client.close();
		this.peers.delete(peer.peerId);
		for (const id of [peer.sendTransportId, peer.recvTransportId, peer.plainTransportId]) if (id) this.transports.delete(id);
		// A socket close is noticed by the server asynchronously: wait until the peer is gone.
		await until('the peer to leave', () => !this.server.server.meetingServer.rooms.get(peer.roomId)?.peers.has(peer.peerId));
	}

	async step(): Promise<void> {
		const peer = this.#pick(this.peers.values());
		const r = this.random();
		if (!peer || r < 0.15) return this.join();
		if (r < 0.22) return this.leave(peer);
		const { client } = peer;
		if (!peer.sendTransportId && r < 0.5) {
			peer.sendTransportId = (await client.requestOk('createWebRtcTransport', { direction: 'send' })).id;
			this.transports.add(peer.sendTransportId);
		} else if (!peer.recvTransportId && r < 0.5) {
			peer.recvTransportId = (await client.requestOk('createWebRtcTransport', { direction: 'recv' })).id;
			this.transports.add(peer.recvTransportId);
		} else if (!peer.plainTransportId && r < 0.53) {
			// A synthetic peer: its plain transport turns its clientType to 'synthetic'.
			peer.plainTransportId = (await client.requestOk('createPlainTransport', { direction: 'send' })).id;
			this.transports.add(peer.plainTransportId);
		} else if (peer.sendTransportId && r < 0.7) {
			const video = this.random() < 0.5;
			const rtpParameters = video ? vp8Parameters(this.#ssrc) : opusParameters(this.#ssrc);
			rtpParameters.mid = String(this.#ssrc++); // one mid per producer on a transport
			const { producerId } = await client.requestOk('produce', {
				transportId: peer.sendTransportId,
				kind: video ? 'video' : 'audio',
				rtpParameters
			});
			peer.producerIds.add(producerId);
		} else if (peer.producerIds.size > 0 && r < 0.85) {
			const producerId = this.#pick(peer.producerIds)!;
			const action = this.#pick(['pauseProducer', 'resumeProducer', 'closeProducer'] as const)!;
			await client.requestOk(action, { producerId });
			if (action === 'closeProducer') peer.producerIds.delete(producerId);
		} else {
			const consumers = client
				.received('newConsumer')
				.filter((c) => !client.received('consumerClosed').some((x) => x.consumerId === c.consumerId));
			const consumer = this.#pick(consumers);
			if (consumer) {
				const response = await client.request(this.random() < 0.7 ? 'resumeConsumer' : 'pauseConsumer', {
					consumerId: consumer.consumerId
				});
				// A consumer may close under us (its producer closed): NotFoundError is a fair answer.
				if (!response.ok)
					assert.ok(
						['NotFoundError', 'ServerError'].includes(response.error.name),
						`${response.error.name}: ${response.error.message}`
					);
			}
		}
	}

	closeAll(): void {
		for (const peer of this.peers.values()) peer.client.close();
	}
}

/** The state as counted from the live meeting server and the transports the scenario made. */
function truth(scenario: Scenario): Record<string, unknown> {
	const meetingServer = scenario.server.server.meetingServer;
	const peers: Record<string, unknown> = {};
	const producers: Record<string, boolean> = {};
	const consumers: Record<string, boolean> = {};
	for (const room of meetingServer.rooms.values()) {
		for (const peer of room.peers.values()) {
			peers[peer.id] = { roomId: room.id, displayName: peer.displayName, clientType: peer.clientType };
			for (const producer of peer.producers.values()) producers[producer.id] = producer.paused;
			for (const consumer of peer.consumers.values()) consumers[consumer.id] = consumer.paused || consumer.producerPaused;
		}
	}
	return {
		rooms: Object.fromEntries([...meetingServer.rooms.values()].map((room) => [room.id, room.activeSpeaker.peerId])),
		routers: [...meetingServer.rooms.values()].map((room) => room.router.id).sort(),
		peers,
		producers,
		consumers,
		transports: [...scenario.transports].sort()
	};
}

function seen(state: Readonly<ObservedState>): Record<string, unknown> {
	return {
		rooms: Object.fromEntries(Object.values(state.rooms).map((room) => [room.id, room.activeSpeakerPeerId])),
		routers: Object.keys(state.routers).sort(),
		peers: Object.fromEntries(
			Object.values(state.peers).map((p) => [p.id, { roomId: p.roomId, displayName: p.displayName, clientType: p.clientType }])
		),
		producers: Object.fromEntries(Object.values(state.producers).map((p) => [p.id, p.paused])),
		consumers: Object.fromEntries(Object.values(state.consumers).map((c) => [c.id, c.paused || c.producerPaused])),
		transports: Object.keys(state.transports).sort()
	};
}

test('after random joins, leaves, produces and closes, the mirror equals the observer and the live objects', async () => {
	const server = await startTestServer({ room: { emptyRoomGraceSeconds: 0 }, syntheticPeers: { enabled: true } });
	const client = new ObserverStreamClient({ socketPath: server.server.observerSocketPath });
	const scenario = new Scenario(server, 20261122);
	try {
		await client.connect();
		for (let round = 0; round < 4; round++) {
			for (let i = 0; i < 40; i++) await scenario.step();
			// Consumers are created and closed as notifications go out: poll until it settles.
			await until(
				`round ${round} to settle`,
				() => client.seq === server.server.observerStreamServer.seq && isDeepStrictEqual(seen(client.state), truth(scenario))
			);
			assert.deepEqual(seen(client.state), truth(scenario));
			assert.deepEqual(client.state, server.server.sfuObserver.state);
		}
		const state = client.state;
		assert.ok(Object.keys(state.consumers).length > 0, 'the scenario made consumers');
		assert.ok(
			Object.values(state.peers).some((p) => p.clientType === 'synthetic'),
			'and synthetic peers'
		);
		for (const room of Object.values(state.rooms)) {
			assert.equal(state.routers[room.routerId]?.roomId, room.id);
			assert.equal(state.routers[room.routerId]?.workerPid, room.workerPid);
		}
		for (const transport of Object.values(state.transports)) {
			assert.ok(state.peers[transport.peerId!], 'every transport belongs to a present peer');
			assert.equal(transport.type, transport.id === scenario.peers.get(transport.peerId!)?.plainTransportId ? 'plain' : 'webrtc');
		}
		// The worker's WebRtcServer handles exactly the WebRTC transports, and says where it listens.
		const webRtcTransports = Object.values(state.transports).filter((t) => t.type === 'webrtc').length;
		assert.ok(webRtcTransports > 0, 'the scenario made WebRTC transports');
		const [webRtcServer, ...more] = Object.values(state.webRtcServers);
		assert.equal(more.length, 0, 'one WebRtcServer for the one worker');
		assert.equal(webRtcServer?.workerPid, server.server.workerPool.workers[0]!.pid);
		assert.equal(webRtcServer.transports, webRtcTransports);
		assert.deepEqual(
			webRtcServer.listenInfos.map((l) => `${l.protocol} ${l.ip}`),
			['udp 127.0.0.1', 'tcp 127.0.0.1']
		);
		assert.ok(
			webRtcServer.listenInfos.every((l) => l.port > 0),
			'the ports the worker took (port 0 was asked)'
		);
		const counters = await client.request('counters', {});
		assert.equal(counters.joins, scenario.joins);

		// Everyone leaves: rooms close (no grace), and the state empties but for the worker.
		for (const peer of [...scenario.peers.values()]) await scenario.leave(peer);
		await until(
			'the rooms to close',
			() => Object.keys(client.state.rooms).length === 0 && Object.keys(client.state.routers).length === 0
		);
		await until('the client to catch up', () => client.seq === server.server.observerStreamServer.seq);
		assert.deepEqual(client.state, { ...server.server.sfuObserver.state });
		assert.deepEqual(
			Object.keys(client.state.workers),
			server.server.workerPool.workers.map((w) => String(w.pid))
		);
		for (const kind of ['peers', 'transports', 'producers', 'consumers'] as const) assert.deepEqual(client.state[kind], {}, kind);
		assert.deepEqual(
			Object.values(client.state.webRtcServers).map((s) => s.transports),
			[0],
			'the WebRtcServer stays, handling none'
		);
	} finally {
		scenario.closeAll();
		client.close();
		await server.close();
	}
});

test('a worker that dies takes its rooms and objects out of the state; its replacement appears', async () => {
	const server = await startTestServer({ room: { emptyRoomGraceSeconds: 0 } });
	const client = new ObserverStreamClient({ socketPath: server.server.observerSocketPath });
	const peer = await SignallingClient.connect(server.url);
	try {
		await client.connect();
		const { routerRtpCapabilities } = await peer.requestOk('getRouterRtpCapabilities', { roomId: 'doomed' });
		await peer.requestOk('join', { roomId: 'doomed', displayName: 'Dora', rtpCapabilities: routerRtpCapabilities });
		const { id: transportId } = await peer.requestOk('createWebRtcTransport', { direction: 'send' });
		const { producerId } = await peer.requestOk('produce', { transportId, kind: 'audio', rtpParameters: opusParameters() });
		await until('the producer in the mirror', () => client.state.producers[producerId] !== undefined);
		const victim = server.server.workerPool.workers[0]!.pid;
		process.kill(victim, 'SIGKILL');
		const deadServer = Object.values(client.state.webRtcServers).find((s) => s.workerPid === victim);
		assert.equal(deadServer?.transports, 1);
		await until(
			'the replacement worker',
			() => !client.state.workers[String(victim)] && Object.keys(client.state.workers).length === 1
		);
		const replacement = Number(Object.keys(client.state.workers)[0]);
		await until(
			"the replacement's WebRtcServer, in place of the dead one's",
			() =>
				Object.values(client.state.webRtcServers)
					.map((s) => `${s.workerPid} ${s.listenInfos.length}`)
					.join() === `${replacement} 2`
		);
		await until('the room to go', () => Object.keys(client.state.rooms).length === 0);
		for (const kind of ['routers', 'transports', 'producers', 'consumers'] as const) assert.deepEqual(client.state[kind], {}, kind);
		await until('the client to catch up', () => client.seq === server.server.observerStreamServer.seq);
		assert.deepEqual(client.state, server.server.sfuObserver.state);
	} finally {
		peer.close();
		client.close();
		await server.close();
	}
});
