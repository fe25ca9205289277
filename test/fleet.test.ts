import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from './support/signallingServer.js';
import { SignallingClient } from './support/signallingClient.js';
import { startPrometheus, type PrometheusInstance, type QuerySample } from './support/prometheus.js';
import { runnableExampleConfig } from './support/prometheusExample.js';

// A fleet of three servers found by ONE real Prometheus through the file_sd file that
// scripts/fleet-targets writes, running config/prometheus/prometheus.example.yml itself.

const FLEET_TARGETS = path.resolve('scripts/fleet-targets');

type Run = { status: number | null; stdout: string; stderr: string };

function fleetTargets(...args: string[]): Run {
	const result = spawnSync(FLEET_TARGETS, args, { encoding: 'utf8', timeout: 60_000 });
	if (result.error) throw result.error;
	return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function readGroups(file: string): { targets: string[]; labels: Record<string, string> }[] {
	return JSON.parse(fs.readFileSync(file, 'utf8')) as { targets: string[]; labels: Record<string, string> }[];
}

function tempDir(prefix: string): string {
	return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** `host:port` of a server's metrics endpoint (prometheus.port 0: the port the OS picked). */
function metricsTarget(server: TestServer): string {
	const url = server.server.metricsUrl;
	assert.ok(url, 'the exporter is enabled');
	return new URL(url).host;
}

const byLabel = (result: QuerySample[], label: string): Record<string, number> =>
	Object.fromEntries(result.map((s) => [s.metric[label] ?? '', s.value]));

test('three servers, one Prometheus: file_sd from scripts/fleet-targets, sum(edumeet_peers) is every peer, a removed server drops out', async () => {
	const servers: TestServer[] = [];
	const clients: SignallingClient[] = [];
	const sdDir = tempDir('msfu-fleet-sd-');
	let prometheus: PrometheusInstance | undefined;
	try {
		for (let i = 0; i < 3; i++) servers.push(await startTestServer());
		const [a, b, c] = servers.map(metricsTarget) as [string, string, string];
		assert.equal(new Set([a, b, c]).size, 3, 'three distinct metrics ports');

		// Server i gets i peers (signalling only, no media): 1 + 2 + 3 = 6 peers in 4 rooms.
		const rooms: [number, string][] = [
			[0, 'solo'],
			[1, 'pair'],
			[1, 'pair'],
			[2, 'trio'],
			[2, 'trio'],
			[2, 'side']
		];
		for (const [index, roomId] of rooms) {
			const client = await SignallingClient.connect(servers[index]!.url);
			clients.push(client);
			const { routerRtpCapabilities } = await client.requestOk('getRouterRtpCapabilities', { roomId });
			await client.requestOk('join', { roomId, displayName: `peer ${clients.length}`, rtpCapabilities: routerRtpCapabilities });
		}

		// Two servers from a list file (per-line zone), the third added later, as an operator would.
		const file = path.join(sdDir, 'fleet.json');
		const list = path.join(sdDir, 'servers.txt');
		fs.writeFileSync(list, `# meter-sfu fleet\n${a} zone=a\n\n${b} zone=b\n`);
		let run = fleetTargets('--file', file, '--list', list, '--label', 'env=test');
		assert.equal(run.status, 0, run.stderr);
		run = fleetTargets('--file', file, '--add', '--label', 'env=test', '--label', 'zone=b', c);
		assert.equal(run.status, 0, run.stderr);
		assert.match(run.stdout, /3 target\(s\) in 2 group\(s\)/);
		assert.deepEqual(readGroups(file), [
			{ targets: [a], labels: { env: 'test', zone: 'a' } },
			{ targets: [b, c].sort(), labels: { env: 'test', zone: 'b' } }
		]);
		assert.deepEqual(fs.readdirSync(sdDir).sort(), ['fleet.json', 'servers.txt'], 'no temp file is left behind');

		prometheus = await startPrometheus({ jobs: [], configYaml: runnableExampleConfig({ fileSdDir: sdDir, intervalSeconds: 1 }) });
		const up = await prometheus.waitForQuery('up{job="meter-sfu"} == 1', (r) => r.length === 3, 60_000);
		assert.deepEqual(up.map((s) => s.metric.instance).sort(), [a, b, c].sort());
		assert.ok(
			up.every((s) => s.metric.env === 'test'),
			'the file_sd labels reach the series'
		);

		await prometheus.waitForQuery('sum(edumeet_peers)', (r) => r[0]?.value === 6, 30_000);
		assert.deepEqual(byLabel(await prometheus.query('sum by (instance) (edumeet_peers)'), 'instance'), { [a]: 1, [b]: 2, [c]: 3 });
		assert.deepEqual(byLabel(await prometheus.query('sum by (zone) (edumeet_peers_by_client)'), 'zone'), { a: 1, b: 5 });
		assert.equal((await prometheus.query('sum(edumeet_rooms)'))[0]?.value, 4);
		assert.equal((await prometheus.query('sum(edumeet_joins_total)'))[0]?.value, 6);

		// Prometheus follows the file on its own (no reload): the removed server's series go stale.
		run = fleetTargets('--file', file, '--remove', c);
		assert.equal(run.status, 0, run.stderr);
		await prometheus.waitForQuery('sum(edumeet_peers)', (r) => r[0]?.value === 3, 30_000);
		const targets = await prometheus.targets();
		assert.deepEqual(targets.map((t) => t.labels.instance).sort(), [a, b].sort());
	} finally {
		for (const client of clients) client.close();
		await prometheus?.stop();
		for (const server of servers) await server.close();
		fs.rmSync(sdDir, { recursive: true, force: true });
	}
});

test('scripts/fleet-targets: stable output, refused input leaves the file alone, remove is idempotent', () => {
	const dir = tempDir('msfu-fleet-cli-');
	try {
		const file = path.join(dir, 'fleet.json');
		let run = fleetTargets('--file', file, '--label', 'env=prod', 'sfu-2.example.net:8889', '10.0.0.1:8889', '[2001:db8::1]:8889');
		assert.equal(run.status, 0, run.stderr);
		const first = fs.readFileSync(file, 'utf8');
		assert.deepEqual(JSON.parse(first), [
			{ targets: ['10.0.0.1:8889', '[2001:db8::1]:8889', 'sfu-2.example.net:8889'], labels: { env: 'prod' } }
		]);
		const inode = fs.statSync(file).ino;

		// The same fleet in another order: same bytes, and the file is not even rewritten.
		run = fleetTargets('--file', file, '--label', 'env=prod', '[2001:db8::1]:8889', 'sfu-2.example.net:8889', '10.0.0.1:8889');
		assert.equal(run.status, 0, run.stderr);
		assert.match(run.stdout, /unchanged/);
		assert.equal(fs.statSync(file).ino, inode);

		// Bad input: exit 2 and the file untouched.
		for (const args of [
			['no-port'],
			['host:0'],
			['bad host:1'],
			['[::g]:1'],
			['--label', '0zone=a', 'a:1'],
			['--label', 'zone', 'a:1'],
			['--add', '--remove', 'a:1']
		]) {
			run = fleetTargets('--file', file, ...args);
			assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
			assert.match(run.stderr, /scripts\/fleet-targets: /);
			assert.equal(fs.readFileSync(file, 'utf8'), first, `${args.join(' ')} left the file alone`);
		}
		fs.writeFileSync(path.join(dir, 'list.txt'), 'a:1 zone=x\na:1 zone=y\n');
		run = fleetTargets('--file', file, '--list', path.join(dir, 'list.txt'));
		assert.equal(run.status, 2);
		assert.match(run.stderr, /a:1 is given twice with different labels/);

		// A new label set for a target already listed moves it to another group.
		run = fleetTargets('--file', file, '--add', '--label', 'env=canary', '10.0.0.1:8889');
		assert.equal(run.status, 0, run.stderr);
		assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), [
			{ targets: ['10.0.0.1:8889'], labels: { env: 'canary' } },
			{ targets: ['[2001:db8::1]:8889', 'sfu-2.example.net:8889'], labels: { env: 'prod' } }
		]);
		run = fleetTargets('--file', file, '--remove', '10.0.0.1:8889', '10.9.9.9:1');
		assert.equal(run.status, 0, run.stderr);
		assert.match(run.stderr, /10\.9\.9\.9:1 was not listed/);
		assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), [
			{ targets: ['[2001:db8::1]:8889', 'sfu-2.example.net:8889'], labels: { env: 'prod' } }
		]);

		// A file that is not file_sd JSON is never overwritten by a merge.
		fs.writeFileSync(file, '{ broken');
		run = fleetTargets('--file', file, '--add', 'a:1');
		assert.equal(run.status, 1);
		assert.match(run.stderr, /is not JSON/);
		assert.equal(fs.readFileSync(file, 'utf8'), '{ broken');
		assert.deepEqual(fs.readdirSync(dir).sort(), ['fleet.json', 'list.txt'], 'no temp file is left behind');
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});
