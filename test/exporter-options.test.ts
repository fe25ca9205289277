import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import type { types as ms } from 'mediasoup';
import { ReverseDnsCache } from '../server/exporter/labels/ReverseDnsCache.js';
import type { ObserverStreamClient } from '../server/stream/ObserverStreamClient.js';
import type { ObserverSource } from '../server/exporter/snapshot/ObserverSource.js';
import { parseExposition, type Exposition } from './support/exposition.js';
import { startPtrServer } from './support/dnsPtrServer.js';
import { startHeldDnsRelay, resolverForRelay } from './support/heldDnsRelay.js';
import { until } from './support/until.js';
import {
	aroundRequests,
	inboundStats,
	router,
	rtpPacket,
	scrapeOf,
	sendTransport,
	udpTo,
	withExporter
} from './support/exporterHarness.js';

// The exporter's options (personal labels, quiet, perObjectMetrics, reverse DNS) and its scrapes
// under load and past the deadline, against real mediasoup objects (test/support/exporterHarness.ts).
test('personal data only on request: remote_addr empty by default, masked with deidentify; quiet folds streams', async () => {
	for (const [options, expectRemote] of [
		[{}, () => ''],
		[{ personalLabels: true, deidentify: true }, (port: number) => `127.0.x.x:${port}`],
		[{ personalLabels: true, numeric: true }, (port: number) => `127.0.0.1:${port}`]
	] as const) {
		await withExporter(options, async ({ stack, client, scrape }) => {
			const r = await router(stack, 'room-e');
			const transport = await sendTransport(r, 'room-e', 'peer-e');
			await transport.produce({
				kind: 'audio',
				rtpParameters: {
					codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
					encodings: [{ ssrc: 4242 }]
				}
			});
			const socket = await udpTo(transport);
			try {
				socket.send(rtpPacket({ payloadType: 100, ssrc: 4242, seq: 1, timestamp: 0, payloadSize: 50 }));
				await until(
					"the transport's remote tuple",
					() => client.state.transports[transport.id]?.tuple?.remotePort === socket.address().port
				);
				const m = await scrape();
				const series = m.find('mediasoup_producer_byte_count_bytes', { transport_id: transport.id });
				assert.equal(series.length, 1);
				assert.equal(series[0]!.labels.remote_addr, expectRemote(socket.address().port), JSON.stringify(options));
				assert.equal(
					m.find('mediasoup_transport_sent_bytes', { transport_id: transport.id })[0]!.labels.remote_addr,
					expectRemote(socket.address().port)
				);
				if ('deidentify' in options) assert.equal(series[0]!.labels.local_addr, `127.0.x.x:${transport.tuple.localPort}`);
			} finally {
				socket.close();
			}
		});
	}

	await withExporter({ quiet: true }, async ({ stack, client, scrape }) => {
		const r = await router(stack, 'room-q');
		const transports = [await sendTransport(r, 'room-q', 'peer-1'), await sendTransport(r, 'room-q', 'peer-2')];
		const producers: ms.Producer[] = [];
		const sockets: dgram.Socket[] = [];
		try {
			for (const [i, transport] of transports.entries()) {
				producers.push(
					await transport.produce({
						kind: 'audio',
						rtpParameters: {
							codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
							encodings: [{ ssrc: 3000 + i }]
						}
					})
				);
				const socket = await udpTo(transport);
				sockets.push(socket);
				for (let seq = 0; seq < 10 * (i + 1); seq++)
					socket.send(rtpPacket({ payloadType: 100, ssrc: 3000 + i, seq, timestamp: seq * 960, payloadSize: 60 }));
			}
			let direct: ms.ProducerStat[] = [];
			await until('the producers in the mirror', () => producers.every((p) => p.id in client.state.producers));
			const deadline = Date.now() + 10_000;
			while (Date.now() < deadline) {
				direct = (await Promise.all(producers.map(inboundStats))).flat();
				if (direct.length === 2 && direct[0]!.packetCount === 10 && direct[1]!.packetCount === 20) break;
				await sleep(20);
			}
			const m = await scrape();
			const series = m.find('mediasoup_producer_packets', { room_id: 'room-q' });
			assert.equal(series.length, 1, 'two producers fold into one series');
			assert.deepEqual(
				[
					series[0]!.labels.id,
					series[0]!.labels.peer_id,
					series[0]!.labels.transport_id,
					series[0]!.labels.ssrc,
					series[0]!.labels.local_addr
				],
				['', '', '', '', '127.0.0.1']
			);
			assert.equal(series[0]!.value, 30, 'packet counts are summed');
			assert.equal(
				m.value('mediasoup_producer_byte_count_bytes', { room_id: 'room-q' }),
				direct[0]!.byteCount + direct[1]!.byteCount
			);
			assert.equal(
				m.value('mediasoup_producer_score', { room_id: 'room-q' }),
				Math.min(direct[0]!.score, direct[1]!.score),
				'the worst score'
			);
			assert.equal(
				m.value('mediasoup_transport_received_bytes', { room_id: 'room-q', direction: 'send' }),
				(await Promise.all(transports.map(async (t) => (await t.getStats())[0]!.bytesReceived))).reduce((a, b) => a + b)
			);
		} finally {
			for (const socket of sockets) socket.close();
		}
	});
});

test('perObjectMetrics false: every aggregate, no per-object series, only transports swept', async () => {
	await withExporter({ perObjectMetrics: false }, async ({ stack, client, scrape }) => {
		const r = await router(stack, 'room-f');
		const transport = await sendTransport(r, 'room-f', 'peer-f');
		const producer = await transport.produce({
			kind: 'audio',
			rtpParameters: {
				codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
				encodings: [{ ssrc: 5151 }]
			}
		});
		await until('the producer in the mirror', () => producer.id in client.state.producers);
		const m = await scrape();
		const perObject = [...m.names()].filter((n) => /^mediasoup_(producer|consumer|transport)_|^edumeet_peers$/.test(n));
		assert.deepEqual(perObject, []);
		for (const name of [
			'edumeet_rooms',
			'edumeet_peers_by_client',
			'edumeet_room_peers_count',
			'mediasoup_producers',
			'mediasoup_transports',
			'mediasoup_bitrate_bps',
			'mediasoup_stream_score_count',
			'mediasoup_workers',
			'mediasoup_worker_cpu_seconds_total'
		]) {
			assert.ok(m.names().has(name), `${name} is kept`);
		}
		assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'ok' }), 1, 'the transport only');
	});
});

test('concurrent scrapes share one snapshot, in either format', async () => {
	await withExporter({}, async ({ stack, client, exporter }) => {
		const r = await router(stack, 'room-g');
		const transport = await sendTransport(r, 'room-g', 'peer-g');
		await until('the transport in the mirror', () => transport.id in client.state.transports);
		const [textResult, openMetricsResult, againResult] = await Promise.all([
			exporter.scrape({ openMetrics: false }),
			exporter.scrape({ openMetrics: true }),
			exporter.scrape()
		]);
		assert.equal(textResult.contentType, 'text/plain; charset=utf-8; version=0.0.4');
		assert.equal(openMetricsResult.contentType, 'application/openmetrics-text; charset=utf-8; version=1.0.0');
		assert.equal(againResult.chunks, textResult.chunks, 'concurrent scrapes of one format share the rendered body');
		const [text, openMetrics, again] = [textResult, openMetricsResult, againResult].map((r) => Buffer.concat(r.chunks).toString()) as [
			string,
			string,
			string
		];
		assert.ok(openMetrics.endsWith('# EOF\n') && !text.includes('# EOF'));
		const sweeps = [text, openMetrics, again].map((body) => parseExposition(body).value('meter_sfu_exporter_sweeps_total'));
		assert.deepEqual(sweeps, [1, 1, 1], 'three scrapes, one sweep');
		assert.match(openMetrics, /^# TYPE meter_sfu_exporter_sweeps counter$/m, 'OpenMetrics names the counter family without _total');
		assert.match(text, /^# TYPE meter_sfu_exporter_sweeps_total counter$/m);
		assert.match(
			text,
			/^# TYPE process_cpu_seconds_total counter$/m,
			'a text scrape after an OpenMetrics one keeps process counter names'
		);
		// Both formats carry the same per-object series (rendered once for the snapshot).
		const series = (body: string): string[] => body.split('\n').filter((l) => l.startsWith('mediasoup_transport_'));
		assert.ok(series(text).length > 0);
		assert.deepEqual(series(openMetrics), series(text));
		assert.equal((await scrapeOf(exporter)).value('meter_sfu_exporter_sweeps_total'), 2, 'a later scrape sweeps again');
	});
});

test('past the deadline (worker stopped) a scrape answers in time with the state it has and says it timed out', async () => {
	// The state of the scrape's last usage request, as the exporter's source saw it.
	const usage = { state: 'none' as 'none' | 'pending' | 'settled' };
	const watchUsage = (client: ObserverStreamClient): ObserverSource =>
		aroundRequests(client, (method, ask) => {
			if (method !== 'usage') return ask();
			usage.state = 'pending';
			return ask().finally(() => (usage.state = 'settled'));
		});
	await withExporter(
		{ scrapeTimeoutMs: 600 },
		async ({ stack, client, scrape }) => {
			const r = await router(stack, 'room-h');
			const transport = await sendTransport(r, 'room-h', 'peer-h');
			const producer = await transport.produce({
				kind: 'audio',
				rtpParameters: {
					codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
					encodings: [{ ssrc: 6161 }]
				}
			});
			const socket = await udpTo(transport);
			socket.send(rtpPacket({ payloadType: 100, ssrc: 6161, seq: 1, timestamp: 0, payloadSize: 50 }));
			socket.close();
			await until('the producer in the mirror', () => producer.id in client.state.producers);
			const statsDeadline = Date.now() + 10_000;
			while ((await inboundStats(producer)).length === 0 && Date.now() < statsDeadline) await sleep(20);
			const ok = await scrape();
			assert.equal(ok.value('meter_sfu_exporter_scrape_timed_out'), 0);
			assert.equal(ok.find('mediasoup_producer_score', { id: producer.id }).length, 1);
			const pid = stack.pool.workers[0]!.pid;
			process.kill(pid, 'SIGSTOP');
			let m: Exposition;
			let usageWhenAnswered: string;
			try {
				m = await scrape();
				usageWhenAnswered = usage.state;
			} finally {
				process.kill(pid, 'SIGCONT');
			}
			// The usage request waits on the stopped worker until its own timeout, a second past the
			// scrape's deadline: a scrape that waited for it (or for the worker) would answer after it.
			assert.equal(usageWhenAnswered, 'pending', 'the scrape answered while the stopped worker still owed its usage');
			assert.equal(m.value('meter_sfu_exporter_scrape_timed_out'), 1);
			assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'timeout' }), 2);
			assert.equal(m.value('meter_sfu_exporter_collector_success', { collector: 'stats' }), 0);
			assert.equal(m.value('meter_sfu_exporter_collector_success', { collector: 'usage' }), 0);
			assert.equal(m.value('meter_sfu_exporter_up'), 1);
			assert.equal(m.value('mediasoup_producers', { kind: 'audio' }), 1, 'state-based metrics are there');
			assert.equal(m.find('mediasoup_producer_score', { id: producer.id }).length, 0, 'no stale stats');
			assert.equal(m.find('mediasoup_worker_cpu_seconds_total').length, 0, 'no usage');
			assert.ok(m.value('meter_sfu_exporter_stats_failures_total', { reason: 'timeout' }) >= 2);
			// Once the worker runs again, so do scrapes.
			const deadline = Date.now() + 10_000;
			let after = await scrape();
			while (after.value('meter_sfu_exporter_scrape_timed_out') === 1 && Date.now() < deadline) after = await scrape();
			assert.equal(after.value('meter_sfu_exporter_scrape_timed_out'), 0);
			assert.equal(after.find('mediasoup_producer_score', { id: producer.id }).length, 1);
		},
		{ source: watchUsage }
	);
});

test('reverse DNS: the first scrape shows the address, later ones the name; a look-up the DNS server holds delays no scrape', async () => {
	const ptr = await startPtrServer(new Map([['5.0.0.127.in-addr.arpa', 'media.example.test']]));
	// The DNS server holds every query until released: scrapes must finish while a look-up is pending.
	const relay = await startHeldDnsRelay(ptr);
	const dns = new ReverseDnsCache({ resolver: resolverForRelay(relay) });
	try {
		await withExporter(
			{ numeric: false },
			async ({ stack, client, scrape }) => {
				const r = await router(stack, 'room-i');
				const transport = await sendTransport(r, 'room-i', 'peer-i', '127.0.0.5');
				// A comedia transport has a tuple once the first packet arrived.
				await transport.produce({
					kind: 'audio',
					rtpParameters: {
						codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
						encodings: [{ ssrc: 7171 }]
					}
				});
				const socket = await udpTo(transport);
				socket.send(rtpPacket({ payloadType: 100, ssrc: 7171, seq: 1, timestamp: 0, payloadSize: 50 }));
				socket.close();
				await until(
					"the transport's tuple in the mirror",
					() => client.state.transports[transport.id]?.tuple !== null && client.state.transports[transport.id] !== undefined
				);
				const localAddr = async (): Promise<string> =>
					(await scrape()).find('mediasoup_transport_sent_bytes', { transport_id: transport.id })[0]!.labels.local_addr!;
				const port = transport.tuple.localPort;
				assert.equal(await localAddr(), `127.0.0.5:${port}`, 'the first scrape shows the address');
				await until('the look-up to reach the DNS server', () => relay.held === 1);
				assert.equal(await localAddr(), `127.0.0.5:${port}`, 'a scrape while the look-up is held shows the address');
				assert.deepEqual(
					[relay.held, relay.answered, dns.stats.failures],
					[1, 0, 0],
					'and finished with the look-up still pending: no scrape waits for DNS'
				);
				relay.release();
				await until('a scrape to show the name', async () => (await localAddr()) === `media.example.test:${port}`);
				assert.deepEqual([relay.answered, ptr.queries], [1, ['5.0.0.127.in-addr.arpa']], 'from the one look-up');
			},
			{ dns }
		);
	} finally {
		relay.close();
		ptr.close();
	}
});

test('an overview poll takes a snapshot without writing exposition lines; a scrape that joins its sweep gets every series', async () => {
	await withExporter({}, async ({ stack, client, exporter, scrape }) => {
		const transport = await sendTransport(await router(stack, 'room-o'), 'room-o', 'peer-o');
		await until('the transport in the mirror', () => client.state.transports[transport.id] !== undefined);
		const snapshot = await exporter.snapshot();
		assert.ok(snapshot.sweep.stats.has(transport.id), "the overview's snapshot has the transport's stats");
		assert.equal(exporter.lineMemory.allocatedBytes, 0, 'and no exposition line was written for it');

		const alone = await scrape();
		assert.equal(alone.find('mediasoup_transport_received_bytes', { transport_id: transport.id }).length, 1);
		assert.ok(exporter.lineMemory.allocatedBytes > 0);

		// The overview starts the sweep, a scrape joins it: its answers so far are written at the end.
		const [, joined] = await Promise.all([exporter.snapshot(), scrape()]);
		assert.equal(joined.find('mediasoup_transport_received_bytes', { transport_id: transport.id }).length, 1);
		assert.equal(joined.find('mediasoup_transport_sent_bytes', { transport_id: transport.id }).length, 1);
	});
});
