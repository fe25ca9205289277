import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WorkerPool, type WorkerPoolObserverEvents } from '../server/sfu/WorkerPool.js';

const settings = { logLevel: 'warn' as const, logTags: [], rtcMinPort: 41000, rtcMaxPort: 41999 };

async function waitFor<K extends keyof WorkerPoolObserverEvents & string>(pool: WorkerPool, event: K): Promise<WorkerPoolObserverEvents[K][0]> {
	const [arg] = await once(pool.observer, event, { signal: AbortSignal.timeout(10_000) });
	return arg as WorkerPoolObserverEvents[K][0];
}

test('a SIGKILLed worker is replaced and its death counted', async () => {
	const pool = await WorkerPool.create({ numWorkers: 2, settings });
	try {
		assert.equal(pool.workers.length, 2);
		assert.equal(pool.deaths, 0);
		const victim = pool.workers[0]!;
		const died = waitFor(pool, 'workerdied');
		const replaced = waitFor(pool, 'newworker');
		process.kill(victim.pid, 'SIGKILL');
		assert.equal((await died)!.worker.pid, victim.pid);
		assert.equal(pool.deaths, 1);
		const replacement = (await replaced)!;
		assert.notEqual(replacement.pid, victim.pid);
		assert.equal(pool.workers.length, 2);
		assert.ok(!pool.workers.some((w) => w.pid === victim.pid));
		// The replacement is a working worker.
		const router = await replacement.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] });
		assert.ok(router.id);
	} finally {
		pool.close();
	}
});

test('rooms go to the least-loaded worker', async () => {
	const pool = await WorkerPool.create({ numWorkers: 2, settings });
	try {
		const codecs = [{ kind: 'audio' as const, mimeType: 'audio/opus', clockRate: 48000, channels: 2 }];
		const first = pool.leastLoadedWorker();
		const router = await first.createRouter({ mediaCodecs: codecs });
		await router.createWebRtcTransport({ listenIps: [{ ip: '127.0.0.1' }] });
		assert.deepEqual(pool.loadOf(first), { routers: 1, transports: 1 });
		const second = pool.leastLoadedWorker();
		assert.notEqual(second.pid, first.pid);
		router.close();
		assert.deepEqual(pool.loadOf(first), { routers: 0, transports: 0 });
	} finally {
		pool.close();
	}
});

test('close() is idempotent and closes every worker', async () => {
	const pool = await WorkerPool.create({ numWorkers: 2, settings });
	const workers = pool.workers;
	const closes = workers.map((w) => once(w.observer, 'close'));
	pool.close();
	pool.close();
	await Promise.all(closes);
	assert.ok(workers.every((w) => w.closed));
	assert.equal(pool.deaths, 0, 'a closed worker is not a death');
	assert.throws(() => pool.leastLoadedWorker(), { name: 'NoWorkerError' });
});
