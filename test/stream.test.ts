import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { version as mediasoupVersion, type types as ms } from 'mediasoup';
import { ObserverStreamClient } from '../server/stream/ObserverStreamClient.js';
import { ObserverStreamServer } from '../server/stream/ObserverStreamServer.js';
import { ObserverRequestHandler } from '../server/stream/ObserverRequestHandler.js';
import type { ObservedState } from '../server/observer/ObservedState.js';
import {
	startObserverStack,
	mediaCodecs,
	produce,
	consume,
	webRtcTransport,
	plainTransport,
	type ObserverStack
} from './support/observerFixtures.js';
import { until } from './support/until.js';

/** A small seeded PRNG so a failing sequence can be replayed. */
function prng(seed: number): () => number {
	let s = seed >>> 0;
	return () => {
		s = (s + 0x6d2b79f5) >>> 0;
		let t = s;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** The live objects a test created, to count the truth from. */
class Truth {
	readonly routers = new Set<ms.Router>();
	readonly transports = new Set<ms.Transport>();
	readonly producers = new Set<ms.Producer>();
	readonly consumers = new Set<ms.Consumer>();

	ids(kind: 'routers' | 'transports' | 'producers' | 'consumers'): string[] {
		return [...this[kind]]
			.filter((o) => !o.closed)
			.map((o) => o.id)
			.sort();
	}
}

function pick<T>(random: () => number, items: Iterable<T>): T | undefined {
	const list = [...items];
	return list.length ? list[Math.floor(random() * list.length)] : undefined;
}

/** Runs `steps` random creates, pauses and closes on real mediasoup objects. */
async function randomChurn(stack: ObserverStack, truth: Truth, seed: number, steps: number): Promise<void> {
	const random = prng(seed);
	const live = <T extends { closed: boolean }>(set: Set<T>): T[] => [...set].filter((o) => !o.closed);
	for (let step = 0; step < steps; step++) {
		const r = random();
		const routers = live(truth.routers);
		if (routers.length === 0 || r < 0.08) {
			const worker = pick(random, stack.pool.workers)!;
			const roomId = `room-${seed}-${step}`;
			truth.routers.add(await worker.createRouter({ mediaCodecs, appData: { roomId } }));
			continue;
		}
		const router = pick(random, routers)!;
		const roomId = router.appData.roomId as string;
		const transports = live(truth.transports).filter((t) => t.appData.roomId === roomId);
		const producers = live(truth.producers).filter((p) => p.appData.roomId === roomId);
		const consumers = live(truth.consumers).filter((c) => c.appData.roomId === roomId);
		if (transports.length < 2 || r < 0.25) {
			const peerId = `peer-${seed}-${step}`;
			const direction = random() < 0.5 ? 'send' : 'recv';
			const make = random() < 0.7 ? webRtcTransport : plainTransport;
			truth.transports.add(await make(router, { peerId, roomId, direction }));
		} else if (r < 0.45) {
			const transport = pick(random, transports)!;
			truth.producers.add(await produce(transport, random() < 0.5 ? 'audio' : 'video', { peerId: transport.appData.peerId, roomId }));
		} else if (r < 0.65 && producers.length > 0) {
			const transport = pick(random, transports)!;
			truth.consumers.add(await consume(transport, router, pick(random, producers)!, { peerId: transport.appData.peerId, roomId }));
		} else if (r < 0.75 && producers.length > 0) {
			const producer = pick(random, producers)!;
			await (producer.paused ? producer.resume() : producer.pause());
		} else if (r < 0.82 && consumers.length > 0) {
			const consumer = pick(random, consumers)!;
			await (consumer.paused ? consumer.resume() : consumer.pause());
		} else if (r < 0.88 && consumers.length > 0) {
			pick(random, consumers)!.close();
		} else if (r < 0.93 && producers.length > 0) {
			pick(random, producers)!.close();
		} else if (r < 0.98) {
			pick(random, transports)!.close();
		} else {
			router.close();
		}
	}
}

/** `exact`: right after a snapshot, when even what mediasoup does not announce has been re-read. */
function assertMatchesTruth(state: Readonly<ObservedState>, truth: Truth, stack: ObserverStack, { exact = false } = {}): void {
	const keys = (records: Record<string, unknown>): string[] => Object.keys(records).sort();
	assert.deepEqual(keys(state.workers), stack.pool.workers.map((w) => String(w.pid)).sort());
	assert.deepEqual(keys(state.routers), truth.ids('routers'));
	assert.deepEqual(keys(state.transports), truth.ids('transports'));
	assert.deepEqual(keys(state.producers), truth.ids('producers'));
	assert.deepEqual(keys(state.consumers), truth.ids('consumers'));
	for (const producer of truth.producers) {
		if (producer.closed) continue;
		assert.equal(state.producers[producer.id]!.paused, producer.paused, `producer ${producer.id} paused`);
	}
	for (const consumer of truth.consumers) {
		if (consumer.closed) continue;
		const record = state.consumers[consumer.id]!;
		assert.equal(record.producerPaused, consumer.producerPaused, `consumer ${consumer.id} producerPaused`);
		assert.equal(
			record.paused || record.producerPaused,
			consumer.paused || consumer.producerPaused,
			`consumer ${consumer.id} paused in effect`
		);
		// mediasoup emits nothing for the consumer's own pause while its producer is paused.
		if (exact || !consumer.producerPaused) assert.equal(record.paused, consumer.paused, `consumer ${consumer.id} paused`);
		assert.equal(record.producerId, consumer.producerId);
	}
}

test('the client mirror follows a random sequence of creates, pauses and closes', async () => {
	const stack = await startObserverStack({ numWorkers: 2 });
	const client = new ObserverStreamClient({ socketPath: stack.socketPath });
	try {
		await client.connect();
		assert.equal(client.hello?.protocol, 'meter-sfu-observer');
		assert.equal(client.hello?.server.mediasoupVersion, mediasoupVersion);
		const truth = new Truth();
		for (const seed of [1, 2, 3]) {
			await randomChurn(stack, truth, seed, 120);
			await until('the client to catch up', () => client.seq === stack.stream.seq);
			assert.deepEqual(client.state, stack.sfuObserver.state);
			assertMatchesTruth(client.state, truth, stack);
		}
		assert.ok(Object.keys(client.state.consumers).length > 0, 'the churn created consumers');
		assert.ok(stack.stream.seq > 300, `many events (${stack.stream.seq})`);
	} finally {
		client.close();
		await stack.close();
	}
});

test('a client that disconnects and reconnects resyncs from the snapshot', async () => {
	const stack = await startObserverStack();
	const client = new ObserverStreamClient({ socketPath: stack.socketPath });
	try {
		await client.connect();
		const truth = new Truth();
		await randomChurn(stack, truth, 7, 60);
		await until('the client to catch up', () => client.seq === stack.stream.seq);
		client.disconnect();
		assert.equal(client.connected, false);
		await until('the server to see the client leave', () => stack.stream.clientCount === 0);
		// Changes the client cannot see while it is away.
		await randomChurn(stack, truth, 8, 60);
		assert.notDeepEqual(client.state, stack.sfuObserver.state);
		await client.connect();
		assert.equal(client.seq, stack.stream.seq);
		assert.deepEqual(client.state, stack.sfuObserver.state);
		assertMatchesTruth(client.state, truth, stack, { exact: true });
		await randomChurn(stack, truth, 9, 40);
		await until('the client to catch up after reconnecting', () => client.seq === stack.stream.seq);
		assert.deepEqual(client.state, stack.sfuObserver.state);
		assertMatchesTruth(client.state, truth, stack);
	} finally {
		client.close();
		await stack.close();
	}
});

test('an auto-reconnecting client comes back after the stream server restarts', async () => {
	const stack = await startObserverStack();
	const client = new ObserverStreamClient({ socketPath: stack.socketPath, autoReconnect: true });
	try {
		await client.connect();
		const truth = new Truth();
		await randomChurn(stack, truth, 11, 30);
		const disconnected = new Promise((resolve) => client.once('disconnect', resolve));
		await stack.stream.close();
		await disconnected;
		assert.equal(client.connected, false);
		await randomChurn(stack, truth, 12, 30);
		stack.stream = await ObserverStreamServer.create({
			socketPath: stack.socketPath,
			sfuObserver: stack.sfuObserver,
			requestHandler: new ObserverRequestHandler({ sfuObserver: stack.sfuObserver })
		});
		await until('the client to reconnect', () => client.connected);
		// A new stream numbers its events from 0 again; the snapshot tells the client so.
		assert.equal(client.seq, stack.stream.seq);
		assert.deepEqual(client.state, stack.sfuObserver.state);
		assertMatchesTruth(client.state, truth, stack);
	} finally {
		client.close();
		await stack.close();
	}
});

test('what mediasoup changes silently is re-read before a snapshot and sent as updates', async () => {
	const stack = await startObserverStack();
	const first = new ObserverStreamClient({ socketPath: stack.socketPath });
	const second = new ObserverStreamClient({ socketPath: stack.socketPath });
	try {
		await first.connect();
		const router = await stack.pool.workers[0]!.createRouter({ mediaCodecs, appData: { roomId: 'r' } });
		const send = await webRtcTransport(router, { roomId: 'r', peerId: 'a', direction: 'send' });
		// A recv plain transport (not comedia): connect() sets its tuple with no event.
		const recv = await router.createPlainTransport({
			listenIp: { ip: '127.0.0.1' },
			rtcpMux: true,
			comedia: false,
			appData: { roomId: 'r', peerId: 'b', direction: 'recv' }
		});
		const producer = await produce(send, 'audio', { roomId: 'r', peerId: 'a' });
		const consumer = await consume(recv, router, producer, { roomId: 'r', peerId: 'b' });
		await producer.pause();
		await recv.connect({ ip: '127.0.0.1', port: 40999 });
		await consumer.resume(); // paused → not paused while the producer is paused: no observer event
		await until('the first client to catch up', () => first.seq === stack.stream.seq);
		assert.equal(first.state.transports[recv.id]!.tuple, null, 'the connect() went unannounced');
		assert.equal(first.state.consumers[consumer.id]!.paused, true, 'the resume() went unannounced');

		await second.connect();
		assert.deepEqual(second.state.transports[recv.id]!.tuple, {
			localIp: '127.0.0.1',
			localPort: recv.tuple.localPort,
			remoteIp: '127.0.0.1',
			remotePort: 40999,
			protocol: 'udp'
		});
		assert.equal(second.state.consumers[consumer.id]!.paused, false);
		assert.equal(second.state.consumers[consumer.id]!.producerPaused, true);
		// The first client got the same facts as events, before the second one's snapshot.
		await until('the first client to catch up again', () => first.seq === stack.stream.seq);
		assert.deepEqual(first.state, second.state);
		assert.deepEqual(first.state, stack.sfuObserver.state);
	} finally {
		first.close();
		second.close();
		await stack.close();
	}
});
