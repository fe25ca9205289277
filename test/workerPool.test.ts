import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import type { types as ms } from 'mediasoup';
import { WorkerPool, type WorkerPoolObserverEvents } from '../server/sfu/WorkerPool.js';

const settings = { logLevel: 'warn' as const, logTags: [], rtcMinPort: 41000, rtcMaxPort: 41999 };

async function waitFor<K extends keyof WorkerPoolObserverEvents & string>(
	pool: WorkerPool,
	event: K
): Promise<WorkerPoolObserverEvents[K][0]> {
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
		const router = await replacement.createRouter({
			mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }]
		});
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

/** A port free for both UDP and TCP on 127.0.0.1 right now (and the next `count - 1` too), outside `settings`' range. */
async function freePorts(count: number): Promise<number> {
	for (let base = 42000 + (process.pid % 500) * 8; base < 60000; base += 4001) {
		const sockets: { close(cb?: () => void): unknown }[] = [];
		try {
			for (let i = 0; i < count; i++) {
				const udp = dgram.createSocket('udp4');
				sockets.push(udp);
				await new Promise<void>((resolve, reject) => udp.once('error', reject).bind(base + i, '127.0.0.1', () => resolve()));
				const tcp = net.createServer();
				sockets.push(tcp);
				await new Promise<void>((resolve, reject) => tcp.once('error', reject).listen(base + i, '127.0.0.1', () => resolve()));
			}
			return base;
		} catch {
			// taken: try further on
		} finally {
			await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
		}
	}
	throw new Error('no free ports');
}

/** Where a WebRtcServer listens, per its dump(): 'udp:PORT' and 'tcp:PORT'. */
async function listening(server: { dump(): Promise<unknown> } | undefined): Promise<string[]> {
	assert.ok(server, 'the worker has a WebRtcServer');
	const dump = (await server.dump()) as { udpSockets: { port: number }[]; tcpServers: { port: number }[] };
	return [...dump.udpSockets.map((s) => `udp:${s.port}`), ...dump.tcpServers.map((s) => `tcp:${s.port}`)].sort();
}

test("each worker has a WebRtcServer on its slot's ports, and a replacement takes the dead worker's ports again", async () => {
	const base = await freePorts(2);
	const listenInfos = (['udp', 'tcp'] as const).map((protocol) => ({ protocol, ip: '127.0.0.1', announcedIp: null, port: base }));
	const pool = await WorkerPool.create({ numWorkers: 2, settings, webRtcServer: { listenInfos } });
	try {
		const [first, second] = pool.workers as [ms.Worker, ms.Worker];
		assert.deepEqual(await listening(pool.webRtcServerOf(first)), [`tcp:${base}`, `udp:${base}`]);
		assert.deepEqual(await listening(pool.webRtcServerOf(second)), [`tcp:${base + 1}`, `udp:${base + 1}`]);
		const router = await second.createRouter({
			mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }]
		});
		const transport = await router.createWebRtcTransport({
			webRtcServer: pool.webRtcServerOf(second)!,
			enableUdp: true,
			enableTcp: true
		});
		assert.deepEqual(transport.iceCandidates.map((c) => `${c.protocol}:${c.port}`).sort(), [`tcp:${base + 1}`, `udp:${base + 1}`]);

		const replaced = waitFor(pool, 'newworker');
		process.kill(second.pid, 'SIGKILL');
		const replacement = (await replaced)!;
		assert.equal(pool.webRtcServerOf(second), undefined, "the dead worker's server is forgotten");
		assert.deepEqual(await listening(pool.webRtcServerOf(replacement)), [`tcp:${base + 1}`, `udp:${base + 1}`]);
	} finally {
		pool.close();
	}
});

test("a worker whose WebRtcServer cannot listen fails the pool's start with the reason", async () => {
	const base = await freePorts(1);
	const taken = dgram.createSocket('udp4');
	await new Promise<void>((resolve) => taken.bind(base, '127.0.0.1', () => resolve()));
	try {
		await assert.rejects(
			WorkerPool.create({
				numWorkers: 1,
				settings,
				webRtcServer: { listenInfos: [{ protocol: 'udp', ip: '127.0.0.1', announcedIp: null, port: base }] }
			}),
			/^Error: worker 0: cannot listen for media: .*address already in use/i
		);
	} finally {
		taken.close();
	}
});
