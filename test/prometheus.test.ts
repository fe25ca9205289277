import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SyntheticPeer } from '../tools/synthetic/SyntheticPeer.js';
import { startTestServer } from './support/signallingServer.js';
import { startPrometheus } from './support/prometheus.js';

/**
 * A real Prometheus scrapes the embedded exporter every second while synthetic peers send media:
 * the target is healthy (Prometheus asks for OpenMetrics, so its strict parser reads our output),
 * PromQL sees the peers and a positive byte rate, and a peer that leaves drops out of the sums.
 */
test('a real Prometheus scrapes the exporter (OpenMetrics) and PromQL sees peers, rooms and byte rates', async () => {
	const server = await startTestServer({ syntheticPeers: { enabled: true }, prometheus: { numeric: true } });
	const peers: SyntheticPeer[] = [];
	// A pass-through in front of /metrics that records what Prometheus asked for.
	const accepts: string[] = [];
	const proxy = http.createServer((req, res) => {
		accepts.push(req.headers.accept ?? '');
		fetch(server.server.metricsUrl!, { headers: { accept: req.headers.accept ?? '*/*' } }).then(
			async (upstream) => {
				res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
				res.end(await upstream.text());
			},
			(error: Error) => {
				res.writeHead(502).end(error.message);
			}
		);
	});
	proxy.listen(0, '127.0.0.1');
	await once(proxy, 'listening');
	const target = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
	let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
	try {
		peers.push(
			await SyntheticPeer.create({ url: server.url, roomId: 'room-a', displayName: 'A "one" \\ 😀' }),
			await SyntheticPeer.create({ url: server.url, roomId: 'room-a', displayName: 'B' }),
			await SyntheticPeer.create({ url: server.url, roomId: 'room-b', displayName: 'C', video: false })
		);
		prometheus = await startPrometheus({ jobs: [{ job: 'meter-sfu', targets: [target] }] });
		const [state] = await prometheus.waitForTargetsUp();
		assert.equal(state!.lastError, '');
		assert.ok(
			accepts.some((a) => a.startsWith('application/openmetrics-text')),
			`Prometheus asked for ${accepts[0]}`
		);

		const p = prometheus;
		await p.waitForQuery('sum(edumeet_peers)', (r) => r[0]?.value === 3);
		const byRoom = await p.waitForQuery('edumeet_peers', (r) => r.length === 2);
		assert.deepEqual(Object.fromEntries(byRoom.map((s) => [s.metric.room_id, s.value])), { 'room-a': 2, 'room-b': 1 });
		assert.equal((await p.query('edumeet_rooms'))[0]!.value, 2);
		assert.equal((await p.query('meter_sfu_exporter_up'))[0]!.value, 1);
		assert.equal((await p.query('up{job="meter-sfu"}'))[0]!.value, 1);
		assert.equal((await p.query('edumeet_joins_total'))[0]!.value, 3, 'a counter read through OpenMetrics keeps its _total name');

		// A byte rate needs two samples a second apart: poll until Prometheus has them.
		const rate = await p.waitForQuery('sum(rate(mediasoup_producer_byte_count_bytes[5s]))', (r) => (r[0]?.value ?? 0) > 0);
		// Three opus streams and two VP8 streams: well over 10 kB/s into the SFU.
		assert.ok(rate[0]!.value > 10_000, `byte rate ${rate[0]!.value}`);
		const perKind = await p.query('sum by (kind) (rate(mediasoup_producer_byte_count_bytes[5s]))');
		assert.deepEqual(perKind.map((s) => s.metric.kind).sort(), ['audio', 'video']);
		const median = await p.query('histogram_quantile(0.5, sum by (le) (edumeet_room_peers_bucket))');
		assert.ok(median[0]!.value >= 1 && median[0]!.value <= 2, `median room size ${median[0]!.value}`);

		// A peer leaves: its series go stale at the next scrape and drop out of every sum.
		await peers[1]!.close();
		await p.waitForQuery('sum(edumeet_peers)', (r) => r[0]?.value === 2);
		await p.waitForQuery('count(mediasoup_producer_byte_count_bytes{room_id="room-a"})', (r) => r[0]?.value === 2);
		assert.deepEqual(
			(await prometheus.targets()).map((t) => [t.health, t.lastError]),
			[['up', '']]
		);
	} finally {
		await prometheus?.stop();
		proxy.close();
		await Promise.all(peers.map((peer) => peer.close()));
		await server.close();
	}
});
