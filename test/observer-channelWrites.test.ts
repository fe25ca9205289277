import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelWriteCoalescer } from '../server/observer/ChannelWriteCoalescer.js';
import { ObserverRequestHandler } from '../server/observer/ObserverRequestHandler.js';
import type { Requests } from '../server/stream/protocol.js';
import { until } from './support/until.js';
import type { types as ms } from 'mediasoup';
import { startObserverStack, mediaCodecs, produce, consume, webRtcTransport, plainTransport, type ObserverStack } from './support/observerFixtures.js';

// The getStats requests of one tick leave in one write on the worker's channel socket. mediasoup
// has no public handle on that socket, so these tests also pin where 3.8.4 keeps it: an upgrade
// that moves it fails here instead of silently sending a write per request again.

/** One worker with a router, closed after `fn`. */
async function withRouter(fn: (stack: ObserverStack, router: ms.Router) => Promise<void>): Promise<void> {
	const stack = await startObserverStack();
	try {
		await fn(stack, await stack.pool.workers[0]!.createRouter({ mediaCodecs }));
	} finally {
		await stack.close();
	}
}

test('every transport, producer and consumer of mediasoup 3.8.4 shows its worker channel socket', () => withRouter(async (_stack, router) => {
	const send = await webRtcTransport(router);
	const recv = await plainTransport(router);
	const producer = await produce(send, 'video');
	const consumer = await consume(recv, router, producer);
	const sockets = [send, recv, producer, consumer].map((target) => ChannelWriteCoalescer.socketOf(target));
	assert.ok(sockets[0], 'a transport has a channel socket');
	for (const socket of sockets) assert.equal(socket, sockets[0], 'one worker, one channel socket');
	// Not mediasoup objects, or objects without the shape: nothing, and nothing thrown.
	assert.equal(ChannelWriteCoalescer.socketOf({}), undefined);
	assert.equal(ChannelWriteCoalescer.socketOf({ _channel: { _producerSocket: {} } }), undefined);
	new ChannelWriteCoalescer().beforeRequest({});
}));

test('a getStats request sends its first requests corked, uncorks on the next tick, and answers every id', () => withRouter(async (stack, router) => {
	const send = await webRtcTransport(router);
	const recv = await webRtcTransport(router);
	const producers = await Promise.all(Array.from({ length: 4 }, (_, i) => produce(send, i % 2 ? 'audio' : 'video')));
	const consumers = await Promise.all(producers.flatMap((p) => [consume(recv, router, p), consume(recv, router, p)]));
	const ids = [send.id, recv.id, ...producers.map((p) => p.id), ...consumers.map((c) => c.id)];
	const socket = ChannelWriteCoalescer.socketOf(send)!;
	const handler = new ObserverRequestHandler({ sfuObserver: stack.sfuObserver });

	assert.equal(socket.writableCorked, 0);
	const bufferedBefore = socket.writableLength;
	const answer = handler.handle('getStats', { ids }) as Promise<Requests['getStats']['result']>;
	// The handler sent its first requests synchronously: they wait in the socket, corked once.
	assert.equal(socket.writableCorked, 1);
	assert.ok(socket.writableLength > bufferedBefore, 'requests are buffered, not written');
	await new Promise((resolve) => process.nextTick(resolve));
	assert.equal(socket.writableCorked, 0, 'uncorked on the next tick');

	const { stats, errors, timedOut } = await answer;
	assert.deepEqual(errors, {});
	assert.deepEqual(timedOut, []);
	assert.deepEqual(Object.keys(stats).sort(), [...ids].sort());
	for (const consumer of consumers) assert.ok(stats[consumer.id]!.some((e) => (e as { type?: string }).type === 'outbound-rtp'));
	assert.equal(socket.writableCorked, 0);

	// Two in flight: the rest are sent as answers come, corked again from those answers' tick.
	const paced = await handler.handle('getStats', { ids, concurrency: 2 }) as Requests['getStats']['result'];
	assert.deepEqual(paced.errors, {});
	assert.deepEqual(paced.timedOut, []);
	assert.deepEqual(Object.keys(paced.stats).sort(), [...ids].sort());
	await new Promise((resolve) => process.nextTick(resolve));
	assert.equal(socket.writableCorked, 0, 'never left corked');
}));

test('a closed worker\'s objects are not corked, and its requests fail as errors of their ids', async () => {
	const stack = await startObserverStack({ numWorkers: 2 });
	try {
		const [live, doomed] = stack.pool.workers as [typeof stack.pool.workers[0], typeof stack.pool.workers[0]];
		const liveTransport = await webRtcTransport(await live.createRouter({ mediaCodecs }));
		const doomedTransport = await webRtcTransport(await doomed.createRouter({ mediaCodecs }));
		const coalescer = new ChannelWriteCoalescer();
		const doomedSocket = ChannelWriteCoalescer.socketOf(doomedTransport)!;
		const closed = new Promise((resolve) => doomed.observer.once('close', resolve));
		doomed.close();
		await closed;
		// mediasoup destroys a closed channel's sockets 200 ms later.
		await until('the closed worker\'s channel socket to be destroyed', () => doomedSocket.destroyed);
		coalescer.beforeRequest(doomedTransport);
		assert.equal(doomedSocket.writableCorked, 0, 'a destroyed socket is left alone');

		const handler = new ObserverRequestHandler({ sfuObserver: stack.sfuObserver });
		const { stats, errors } = await handler.handle('getStats', { ids: [liveTransport.id, doomedTransport.id] }) as Requests['getStats']['result'];
		assert.ok(stats[liveTransport.id]);
		assert.ok(errors[doomedTransport.id], 'the closed worker\'s transport is an error of its id');
	} finally {
		await stack.close();
	}
});
