import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Server } from '../server/Server.js';
import { SyntheticPeer } from '../tools/synthetic/SyntheticPeer.js';
import { testConfig } from './support/signallingServer.js';
import { type Exposition, scrape } from './support/exposition.js';
import { promtoolCheckMetrics } from './support/prometheus.js';
import { until } from './support/until.js';
import { version as mediasoupVersion } from 'mediasoup';

/** scripts/exporter on port 0; resolves once it prints its metrics URL. */
async function startExporterProcess(
	args: string[]
): Promise<{ child: ChildProcess; url: string; output: () => string; stop(): Promise<number | null> }> {
	const child = spawn('scripts/exporter', ['--listen', '127.0.0.1', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
	let out = '';
	child.stdout!.on('data', (d: Buffer) => {
		out += d.toString();
	});
	child.stderr!.on('data', (d: Buffer) => {
		out += d.toString();
	});
	const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
	await until(
		'the exporter to print its URL',
		() => {
			if (child.exitCode !== null) assert.fail(`scripts/exporter exited (${child.exitCode}):\n${out}`);
			return /metrics at (\S+)/.test(out);
		},
		30_000
	);
	return {
		child,
		url: /metrics at (\S+)/.exec(out)![1]!,
		output: () => out,
		async stop() {
			if (child.exitCode === null) child.kill('SIGTERM');
			return exited;
		}
	};
}

test('scripts/exporter in its own process: waits for the server, serves the same metrics as the embedded exporter, drops state when the server goes', async () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-expproc-'));
	fs.chmodSync(dir, 0o700);
	const config = await testConfig(dir, { syntheticPeers: { enabled: true }, prometheus: { numeric: true } });
	// Started before the server: it serves up 0 and keeps trying.
	const exporter = await startExporterProcess(['--socket', config.observer.socketPath]);
	let server: Server | undefined;
	const peers: SyntheticPeer[] = [];
	try {
		const { exposition: early } = await scrape(exporter.url);
		assert.equal(early.value('meter_sfu_exporter_up'), 0);
		assert.equal(early.find('edumeet_rooms').length, 0, 'no state without the server');
		assert.equal(early.value('meter_sfu_build_info', { mediasoup_version: mediasoupVersion }), 1);

		server = await Server.create({ config });
		peers.push(
			await SyntheticPeer.create({ url: server.appUrl, roomId: 'room-x', displayName: 'X' }),
			await SyntheticPeer.create({ url: server.appUrl, roomId: 'room-x', displayName: 'Y' }),
			await SyntheticPeer.create({ url: server.appUrl, roomId: 'room-z', displayName: 'Z', video: false })
		);
		const producerIds = peers.flatMap((p) => [...p.producers.values()]).sort();
		const withStats = (m: Exposition): string[] =>
			m
				.find('mediasoup_producer_byte_count_bytes')
				.map((s) => s.labels.id!)
				.sort();
		await until('the separate exporter to see every producer with stats', async () => {
			const { exposition: m } = await scrape(exporter.url);
			return m.value('meter_sfu_exporter_up') === 1 && withStats(m).join() === producerIds.join();
		});

		const { exposition: separate } = await scrape(exporter.url);
		const { exposition: embedded } = await scrape(server.metricsUrl!);
		for (const [name, labels] of [
			['edumeet_rooms', {}],
			['edumeet_peers', { room_id: 'room-x' }],
			['edumeet_peers', { room_id: 'room-z' }],
			['mediasoup_producers', { kind: 'video' }],
			['mediasoup_consumers', { kind: 'audio' }],
			['edumeet_joins_total', {}],
			['mediasoup_workers', {}],
			['mediasoup_worker_routers', { pid: String(server.workerPool.workers[0]!.pid) }]
		] as const) {
			assert.equal(separate.value(name, labels), embedded.value(name, labels), `${name} ${JSON.stringify(labels)}`);
		}
		assert.deepEqual(withStats(separate), withStats(embedded));
		assert.deepEqual(
			separate
				.find('mediasoup_producer_byte_count_bytes')
				.map((s) => s.labels.room_id)
				.sort(),
			embedded
				.find('mediasoup_producer_byte_count_bytes')
				.map((s) => s.labels.room_id)
				.sort()
		);
		assert.equal(
			separate.find('meter_sfu_server_cpu_seconds_total', { mode: 'user' }).length,
			1,
			"the server's usage, not the exporter's"
		);
		const lint = promtoolCheckMetrics(await (await fetch(exporter.url)).text());
		assert.equal(lint.status, 0, lint.output);

		// The server goes: no stale state is exported.
		await Promise.all(peers.map((p) => p.close()));
		await server.close();
		server = undefined;
		await until('the exporter to notice', async () => (await scrape(exporter.url)).exposition.value('meter_sfu_exporter_up') === 0);
		const { exposition: after } = await scrape(exporter.url);
		assert.deepEqual(
			[...after.names()].filter((n) => /^(edumeet|mediasoup)_/.test(n)),
			[]
		);
	} finally {
		await Promise.all(peers.map((p) => p.close()));
		await server?.close();
		assert.equal(await exporter.stop(), 0, exporter.output());
		fs.rmSync(dir, { recursive: true, force: true });
	}
});

test('scripts/exporter rejects bad arguments with exit code 2', async () => {
	for (const args of [['--port', 'x'], ['--listen', 'localhost'], ['--bogus']]) {
		const child = spawn('scripts/exporter', args, { stdio: ['ignore', 'pipe', 'pipe'] });
		let err = '';
		child.stderr!.on('data', (d: Buffer) => {
			err += d.toString();
		});
		const [code] = await new Promise<[number | null]>((resolve) => child.once('exit', (c) => resolve([c])));
		assert.equal(code, 2, args.join(' '));
		assert.match(err, /usage: scripts\/exporter/);
	}
});
