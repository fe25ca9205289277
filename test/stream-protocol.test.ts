import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import debug from 'debug';
import { ObserverStreamClient } from '../server/stream/ObserverStreamClient.js';
import { MAX_CLIENT_LINE_BYTES, PROTOCOL_VERSION, type ServerMessage } from '../server/stream/protocol.js';
import { MAX_INFLIGHT_REQUESTS } from '../server/stream/ObserverStreamConnection.js';
import { emptyState } from '../server/observer/ObservedState.js';
import { startObserverStack, mediaCodecs, produce, consume, webRtcTransport, plainTransport, tempDir } from './support/observerFixtures.js';
import { until } from './support/until.js';

/** A raw NDJSON connection, to send what the typed client never would. */
class RawClient {
	readonly socket: net.Socket;
	readonly messages: ServerMessage[] = [];
	#buffer = '';

	constructor(socketPath: string) {
		this.socket = net.connect(socketPath);
		this.socket.setEncoding('utf8');
		this.socket.on('data', (chunk: string) => {
			this.#buffer += chunk;
			let newline: number;
			while ((newline = this.#buffer.indexOf('\n')) !== -1) {
				this.messages.push(JSON.parse(this.#buffer.slice(0, newline)) as ServerMessage);
				this.#buffer = this.#buffer.slice(newline + 1);
			}
		});
	}

	of<T extends ServerMessage['type']>(type: T): Extract<ServerMessage, { type: T }>[] {
		return this.messages.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
	}

	async next<T extends ServerMessage['type']>(type: T, count: number): Promise<Extract<ServerMessage, { type: T }>[]> {
		await until(`${count} ${type} message(s)`, () => this.of(type).length >= count);
		return this.of(type);
	}

	close(): void {
		this.socket.destroy();
	}
}

test('malformed and oversized lines get an error reply; the connection and other clients go on', async () => {
	const stack = await startObserverStack();
	const bad = new RawClient(stack.socketPath);
	const good = new ObserverStreamClient({ socketPath: stack.socketPath });
	try {
		await good.connect();
		await bad.next('snapshot', 1);
		const router = await stack.pool.workers[0]!.createRouter({ mediaCodecs, appData: { roomId: 'r' } });
		bad.socket.write('this is not json\n');
		bad.socket.write('[1,2,3]\n');
		bad.socket.write('{"type":"hello"}\n');
		bad.socket.write('{"type":"request","id":{"x":1},"method":"usage"}\n');
		// Oversized: sent in pieces, the newline long after the limit; then a good request at once.
		const big = 'x'.repeat(16 * 1024);
		for (let sent = 0; sent <= MAX_CLIENT_LINE_BYTES; sent += big.length) bad.socket.write(big);
		bad.socket.write('\n{"type":"request","id":"after-big","method":"snapshot","params":{}}\n');
		const errors = await bad.next('error', 5);
		assert.deepEqual(
			errors.map((e) => e.error.name),
			['BadRequestError', 'BadRequestError', 'BadRequestError', 'BadRequestError', 'PayloadTooLargeError']
		);
		assert.match(errors[0]!.error.message, /not JSON/);

		// Requests with an id are answered by id, even when wrong.
		bad.socket.write('{"type":"request","id":1,"method":"noSuchMethod","params":{}}\n');
		bad.socket.write('{"type":"request","id":2,"method":"dump","params":[]}\n');
		bad.socket.write('{"type":"request","id":3,"method":"dump","params":{"entity":"router","id":"nope"}}\n');
		bad.socket.write(`{"type":"request","id":4,"method":"dump","params":{"entity":"router","id":${JSON.stringify(router.id)}}}\n`);
		const responses = await bad.next('response', 5);
		const byId = new Map(responses.map((r) => [r.id, r]));
		assert.equal(byId.get('after-big')?.ok, true, 'the connection works after an oversized line');
		assert.deepEqual(byId.get(1), {
			type: 'response',
			id: 1,
			ok: false,
			error: { name: 'UnknownMethodError', message: 'unknown method "noSuchMethod"' }
		});
		assert.equal((byId.get(2) as { error: { name: string } }).error.name, 'BadRequestError');
		assert.equal((byId.get(3) as { error: { name: string } }).error.name, 'NotFoundError');
		assert.equal((byId.get(4) as { result: { id: string } }).result.id, router.id);

		// The misbehaving client and the good one both saw every event.
		const transport = await webRtcTransport(router, { roomId: 'r', peerId: 'p', direction: 'send' });
		await until('the good client to see the transport', () => good.state.transports[transport.id] !== undefined);
		await until('the bad client to see the transport', () => bad.of('event').some((e) => e.id === transport.id));
		assert.equal(good.seq, stack.stream.seq);
		assert.deepEqual(good.state, stack.sfuObserver.state);
		assert.equal(stack.stream.clientCount, 2);
	} finally {
		bad.close();
		good.close();
		await stack.close();
	}
});

test('a client that never reads is dropped; its backlog stays bounded and others keep up', async () => {
	const bound = 64 * 1024;
	const stack = await startObserverStack({ maxClientBacklogBytes: bound });
	const reader = new ObserverStreamClient({ socketPath: stack.socketPath });
	const snapshotBytes = JSON.stringify(stack.stream.snapshot()).length + 1;
	const stuck = net.connect(stack.socketPath);
	try {
		await reader.connect();
		stuck.pause(); // never reads
		await until('both clients connected', () => stack.stream.clientCount === 2);
		const dropped = once(stack.stream.observer, 'clientclosed');
		let closedEvent: { reason: string; peakBacklogBytes: number } | undefined;
		dropped.then(
			([event]) => {
				closedEvent = event as typeof closedEvent;
			},
			() => {}
		);
		const router = await stack.pool.workers[0]!.createRouter({ mediaCodecs, appData: { roomId: 'r' } });
		const transport = await webRtcTransport(router, { roomId: 'r', peerId: 'p', direction: 'send' });
		const producer = await produce(transport, 'video', { roomId: 'r', peerId: 'p' });
		let toggles = 0;
		for (; !closedEvent && toggles < 50_000; toggles++) await (producer.paused ? producer.resume() : producer.pause());
		assert.ok(closedEvent, `dropped after ${toggles} events`);
		assert.equal(closedEvent.reason, 'backlog');
		const lineBytes = JSON.stringify(stack.sfuObserver.state.producers[producer.id]).length + 100;
		assert.ok(
			closedEvent.peakBacklogBytes <= bound + snapshotBytes + lineBytes,
			`peak backlog ${closedEvent.peakBacklogBytes} ≤ ${bound} + snapshot + one line`
		);
		assert.equal(stack.stream.clientCount, 1);
		// The stuck client finds its connection closed once it reads again.
		stuck.resume();
		await once(stuck, 'close');
		// The reader saw every event.
		await until('the reader to catch up', () => reader.seq === stack.stream.seq);
		assert.deepEqual(reader.state, stack.sfuObserver.state);
		assert.equal(reader.state.producers[producer.id]!.paused, producer.paused);
	} finally {
		stuck.destroy();
		reader.close();
		await stack.close();
	}
});

test('a snapshot larger than the backlog bound does not lock readers out', async () => {
	const bound = 64 * 1024;
	const stack = await startObserverStack({ maxClientBacklogBytes: bound });
	try {
		const router = await stack.pool.workers[0]!.createRouter({ mediaCodecs, appData: { roomId: 'big' } });
		const transports = [];
		for (let i = 0; i < 250; i++) transports.push(await webRtcTransport(router, { roomId: 'big', peerId: `p${i}`, direction: 'send' }));
		for (const transport of transports)
			for (let i = 0; i < 4; i++)
				await produce(transport, i % 2 ? 'audio' : 'video', { roomId: 'big', peerId: transport.appData.peerId });
		const snapshotBytes = JSON.stringify(stack.stream.snapshot()).length;
		assert.ok(snapshotBytes > 6 * bound, `snapshot of ${snapshotBytes} bytes`);
		const readers = [
			new ObserverStreamClient({ socketPath: stack.socketPath }),
			new ObserverStreamClient({ socketPath: stack.socketPath })
		];
		try {
			await Promise.all(readers.map((r) => r.connect()));
			const snapshot = await readers[0]!.request('snapshot', {});
			assert.equal(Object.keys(snapshot.state.producers).length, 1000);
			for (const transport of transports.slice(0, 25)) transport.close();
			await until('the readers to catch up', () => readers.every((r) => r.seq === stack.stream.seq));
			assert.equal(stack.stream.clientCount, 2);
			for (const reader of readers) assert.deepEqual(reader.state, stack.sfuObserver.state);
		} finally {
			for (const reader of readers) reader.close();
		}
	} finally {
		await stack.close();
	}
});

test('requests: getStats, dump, usage, counters, setLogLevel, snapshot', async () => {
	const stack = await startObserverStack();
	const client = new ObserverStreamClient({ socketPath: stack.socketPath });
	const namespacesBefore = debug.disable();
	debug.enable(namespacesBefore);
	try {
		await client.connect();
		const worker = stack.pool.workers[0]!;
		const router = await worker.createRouter({ mediaCodecs, appData: { roomId: 'r' } });
		const send = await webRtcTransport(router, { roomId: 'r', peerId: 'a', direction: 'send' });
		const recv = await webRtcTransport(router, { roomId: 'r', peerId: 'b', direction: 'recv' });
		const producer = await produce(send, 'audio', { roomId: 'r', peerId: 'a' });
		const consumer = await consume(recv, router, producer, { roomId: 'r', peerId: 'b' });

		const { stats, errors, timedOut } = await client.request('getStats', { ids: [send.id, producer.id, consumer.id, 'missing'] });
		assert.deepEqual(timedOut, []);
		assert.deepEqual(Object.keys(errors), ['missing']);
		assert.equal((stats[send.id]![0] as { type: string }).type, 'webrtc-transport');
		assert.ok(Array.isArray(stats[producer.id]));
		assert.equal((stats[consumer.id]![0] as { type: string }).type, 'outbound-rtp');

		for (const [entity, id] of [
			['worker', String(worker.pid)],
			['router', router.id],
			['transport', send.id],
			['producer', producer.id],
			['consumer', consumer.id]
		] as const) {
			const dump = (await client.request('dump', { entity, id })) as Record<string, unknown>;
			assert.ok(dump && typeof dump === 'object', `dump of ${entity}`);
			if (entity !== 'worker') assert.equal(dump.id, id);
		}
		await assert.rejects(client.request('dump', { entity: 'producer', id: consumer.id }), { name: 'NotFoundError' });
		await assert.rejects(client.request('dump', { entity: 'room' as 'router', id: 'x' }), { name: 'BadRequestError' });

		const usage = await client.request('usage', {});
		assert.equal(usage.server.pid, process.pid);
		assert.ok(usage.server.rssBytes > 10e6 && usage.server.cpuUserSeconds > 0);
		assert.deepEqual(
			usage.workers.map((w) => w.pid),
			[worker.pid]
		);
		assert.ok(usage.workers[0]!.maxRssBytes > 1e6, 'ru_maxrss KB → bytes');
		assert.ok(usage.workers[0]!.cpuUserSeconds < 600, 'ru_utime ms → seconds');

		await assert.rejects(client.request('counters', {}), { name: 'UnavailableError' });

		assert.deepEqual(await client.request('setLogLevel', { namespaces: 'meter-sfu:Nothing*' }), { namespaces: 'meter-sfu:Nothing*' });
		assert.equal(debug.enabled('meter-sfu:NothingHere'), true);
		assert.deepEqual(await client.request('setLogLevel', {}), { namespaces: 'meter-sfu:Nothing*' });
		await assert.rejects(client.request('setLogLevel', { namespaces: 'a;rm -rf' }), { name: 'BadRequestError' });

		const snapshot = await client.request('snapshot', {});
		assert.equal(snapshot.seq, stack.stream.seq);
		assert.deepEqual(snapshot.state, stack.sfuObserver.state);
	} finally {
		debug.enable(namespacesBefore);
		client.close();
		await stack.close();
	}
});

test("getStats: fields keep only those keys (and type), rows send their values in order, ownEntriesOnly drops a consumer's copy of its producer's entry, concurrency is checked", async () => {
	const stack = await startObserverStack();
	const client = new ObserverStreamClient({ socketPath: stack.socketPath });
	try {
		await client.connect();
		const router = await stack.pool.workers[0]!.createRouter({ mediaCodecs, appData: { roomId: 'r' } });
		const send = await plainTransport(router, { roomId: 'r', peerId: 'a', direction: 'send' });
		const recv = await webRtcTransport(router, { roomId: 'r', peerId: 'b', direction: 'recv' });
		const producer = await produce(send, 'audio', { roomId: 'r', peerId: 'a' });
		const consumer = await consume(recv, router, producer, { roomId: 'r', peerId: 'b' });
		const ids = [send.id, producer.id, consumer.id];
		// A few RTP packets, so the producer has a stream (and the consumer a copy of its entry).
		const { ssrc } = producer.rtpParameters.encodings![0]!;
		const udp = dgram.createSocket('udp4');
		try {
			for (let seq = 0; seq < 5; seq++) {
				const packet = Buffer.alloc(12 + 20);
				packet[0] = 0x80;
				packet[1] = 100;
				packet.writeUInt16BE(seq, 2);
				packet.writeUInt32BE(seq * 960, 4);
				packet.writeUInt32BE(ssrc!, 8);
				udp.send(packet, send.tuple.localPort, '127.0.0.1');
			}
			const deadline = Date.now() + 10_000;
			while ((await producer.getStats()).length === 0) {
				if (Date.now() > deadline) assert.fail('the producer got no RTP');
				await new Promise((resolve) => setTimeout(resolve, 20));
			}
		} finally {
			udp.close();
		}

		// The producer's own getStats(), counted: with its consumer in the same request it is not called.
		const ownGetStats = producer.getStats.bind(producer);
		let producerCalls = 0;
		producer.getStats = () => {
			producerCalls++;
			return ownGetStats();
		};
		const full = await client.request('getStats', { ids });
		const types = (id: string, stats: Record<string, unknown[]>): string[] => stats[id]!.map((e) => (e as { type: string }).type);
		assert.deepEqual(types(consumer.id, full.stats), ['outbound-rtp', 'inbound-rtp'], "a consumer's stats carry its producer's entry");
		assert.equal(producerCalls, 0, "the producer's stats came with its consumer's");
		const alone = await client.request('getStats', { ids: [producer.id] });
		assert.equal(producerCalls, 1, 'asked alone, the producer is asked');
		const [fromConsumer] = full.stats[producer.id] as Record<string, unknown>[];
		const [fromProducer] = alone.stats[producer.id] as Record<string, unknown>[];
		assert.deepEqual(Object.keys(fromConsumer!).sort(), Object.keys(fromProducer!).sort(), 'the same entry, field for field');
		assert.equal(fromConsumer!.ssrc, ssrc);
		assert.deepEqual(
			{ ...fromConsumer, timestamp: 0, bitrate: 0 },
			{ ...fromProducer, timestamp: 0, bitrate: 0 },
			'and the same values (no RTP since)'
		);
		assert.deepEqual(full.stats[producer.id], [full.stats[consumer.id]![1]], "it is the consumer's copy");
		// A consumer that fails to answer leaves its producer to be asked itself, in the same request.
		const ownConsumerGetStats = consumer.getStats.bind(consumer);
		consumer.getStats = () => Promise.reject(new Error('consumer gone'));
		const failed = await client.request('getStats', { ids: [producer.id, consumer.id] });
		consumer.getStats = ownConsumerGetStats;
		assert.deepEqual(failed.errors, { [consumer.id]: 'consumer gone' });
		assert.deepEqual(types(producer.id, failed.stats), ['inbound-rtp']);
		assert.equal(producerCalls, 2);
		assert.deepEqual(failed.timedOut, []);
		// An answer that is not a list of entries is that id's error, and the request still ends at once.
		consumer.getStats = (() => Promise.resolve(42)) as unknown as typeof consumer.getStats;
		const odd = await client.request('getStats', { ids: [producer.id, consumer.id], timeoutMs: 30_000 });
		consumer.getStats = ownConsumerGetStats;
		assert.deepEqual(Object.keys(odd.errors), [consumer.id]);
		assert.deepEqual(types(producer.id, odd.stats), ['inbound-rtp'], 'its producer was asked itself');
		assert.deepEqual(odd.timedOut, []);

		const lean = await client.request('getStats', {
			ids,
			fields: ['byteCount', 'bytesReceived', 'score'],
			ownEntriesOnly: true,
			concurrency: 1
		});
		assert.deepEqual(types(consumer.id, lean.stats), ['outbound-rtp']);
		for (const id of ids) {
			for (const entry of lean.stats[id]!) {
				const keys = Object.keys(entry as object);
				assert.ok(
					keys.includes('type') && keys.every((k) => ['type', 'byteCount', 'bytesReceived', 'score'].includes(k)),
					`${keys.join(',')}`
				);
			}
		}
		assert.ok((lean.stats[send.id]![0] as { bytesReceived: number }).bytesReceived > 0);
		assert.equal(typeof (lean.stats[consumer.id]![0] as { score: number }).score, 'number');

		// Rows: each entry as its values of `fields`, in that order, null where it has none.
		const rows = await client.request('getStats', {
			ids,
			fields: ['type', 'byteCount', 'noSuchField', 'bytesReceived'],
			ownEntriesOnly: true,
			rows: true
		});
		assert.deepEqual(
			rows.stats[consumer.id]!.map((row) => (row as unknown[])[0]),
			['outbound-rtp']
		);
		assert.deepEqual(
			rows.stats[producer.id]!.map((row) => (row as unknown[])[0]),
			['inbound-rtp'],
			"the producer's row came with its consumer's answer"
		);
		for (const id of ids) {
			for (const row of rows.stats[id]!) {
				assert.ok(Array.isArray(row) && row.length === 4 && row[2] === null, JSON.stringify(row));
				assert.equal(typeof row[id === send.id ? 3 : 1], 'number');
			}
		}
		assert.equal(
			(rows.stats[producer.id]![0] as unknown[])[1],
			(full.stats[producer.id]![0] as { byteCount: number }).byteCount,
			'no RTP since'
		);

		for (const bad of [
			{ fields: ['a b'] },
			{ fields: 'byteCount' },
			{ concurrency: 0 },
			{ concurrency: 1.5 },
			{ ownEntriesOnly: 'yes' },
			{ rows: true },
			{ rows: 'yes', fields: ['type'] }
		]) {
			await assert.rejects(client.request('getStats', { ids, ...(bad as object) }), { name: 'BadRequestError' }, JSON.stringify(bad));
		}
	} finally {
		client.close();
		await stack.close();
	}
});

test('getStats answers by its deadline when a worker hangs; in-flight requests are bounded', async () => {
	const stack = await startObserverStack();
	const client = new ObserverStreamClient({ socketPath: stack.socketPath });
	const worker = stack.pool.workers[0]!;
	try {
		await client.connect();
		const router = await worker.createRouter({ mediaCodecs, appData: { roomId: 'r' } });
		const transport = await webRtcTransport(router, { roomId: 'r', peerId: 'a', direction: 'send' });
		const producers = await Promise.all(Array.from({ length: 20 }, () => produce(transport, 'audio', { roomId: 'r', peerId: 'a' })));
		process.kill(worker.pid, 'SIGSTOP');
		try {
			const ids = [transport.id, ...producers.map((p) => p.id)];
			// The answer is due at the request's 300 ms deadline; one that waited for the worker (15 s
			// in mediasoup) fails by the client's 5 s timeout, an ObserverTimeoutError.
			const { stats, errors, timedOut } = await client.request('getStats', { ids, timeoutMs: 300 }, { timeoutMs: 5_000 });
			assert.deepEqual(
				{ stats, errors, timedOut: [...timedOut].sort() },
				{ stats: {}, errors: {}, timedOut: [...ids].sort() },
				'every object timed out, none has stats or an error'
			);

			// Requests that cannot finish pile up to the bound; one more is refused at once.
			const hanging = Array.from({ length: MAX_INFLIGHT_REQUESTS }, () => client.request('usage', {}, { timeoutMs: 30_000 }));
			await assert.rejects(client.request('usage', {}), { name: 'TooManyRequestsError' });
			process.kill(worker.pid, 'SIGCONT');
			const answers = await Promise.all(hanging);
			assert.equal(answers.length, MAX_INFLIGHT_REQUESTS);
			// The late getStats results went nowhere; a new request works.
			const again = await client.request('getStats', { ids: [transport.id] });
			assert.equal(again.stats[transport.id]!.length, 1);
		} finally {
			process.kill(worker.pid, 'SIGCONT');
		}
	} finally {
		client.close();
		await stack.close();
	}
});

test('the client detects a sequence gap and resyncs from a snapshot', async () => {
	// The real server never skips a number; a hand-driven peer on a real socket does.
	const dir = tempDir();
	const socketPath = path.join(dir, 'gap.sock');
	const server = net.createServer();
	await new Promise<void>((resolve) => server.listen(socketPath, resolve));
	const client = new ObserverStreamClient({ socketPath });
	try {
		const connected = once(server, 'connection');
		const connecting = client.connect();
		const [peer] = (await connected) as [net.Socket];
		const send = (m: unknown): boolean => peer.write(`${JSON.stringify(m)}\n`);
		const requests: { id: number; method: string }[] = [];
		let buffer = '';
		peer.setEncoding('utf8').on('data', (chunk: string) => {
			buffer += chunk;
			for (let i; (i = buffer.indexOf('\n')) !== -1; buffer = buffer.slice(i + 1)) requests.push(JSON.parse(buffer.slice(0, i)));
		});
		send({
			type: 'hello',
			protocol: 'meter-sfu-observer',
			version: PROTOCOL_VERSION,
			server: { pid: 1, version: 'x', startedAt: 0, mediasoupVersion: '3.12.16' }
		});
		send({ type: 'snapshot', seq: 5, state: emptyState() });
		await connecting;
		const worker = { pid: 42, startedAt: 1 };
		send({ type: 'event', seq: 6, op: 'add', entity: 'worker', id: '42', record: worker });
		await until('event 6', () => client.seq === 6);
		assert.deepEqual(client.state.workers['42'], worker);
		const gaps: unknown[] = [];
		client.on('gap', (gap) => gaps.push(gap));
		send({ type: 'event', seq: 8, op: 'remove', entity: 'worker', id: '42' });
		await until('a snapshot request', () => requests.length === 1);
		assert.deepEqual(gaps, [{ expectedSeq: 7, seq: 8 }]);
		assert.equal(requests[0]!.method, 'snapshot');
		// Events before the answer are covered by it and ignored.
		send({ type: 'event', seq: 9, op: 'add', entity: 'worker', id: '43', record: { pid: 43, startedAt: 2 } });
		const fresh = { ...emptyState(), workers: { 44: { pid: 44, startedAt: 3 } } };
		send({ type: 'response', id: requests[0]!.id, ok: true, result: { type: 'snapshot', seq: 9, state: fresh } });
		await until('the fresh snapshot', () => client.state.workers['44'] !== undefined);
		assert.deepEqual(client.state, fresh);
		send({ type: 'event', seq: 10, op: 'remove', entity: 'worker', id: '44' });
		await until('event 10', () => client.seq === 10);
		assert.deepEqual(client.state.workers, {});
		peer.destroy();
	} finally {
		client.close();
		await new Promise((resolve) => server.close(resolve));
		fs.rmSync(dir, { recursive: true, force: true });
	}
});
