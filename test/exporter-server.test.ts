import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { SyntheticPeer } from '../tools/synthetic/SyntheticPeer.js';
import { labelValue } from '../server/exporter/labels/labelValue.js';
import { startTestServer, type TestServer } from './support/signallingServer.js';
import { parseExposition, type Exposition } from './support/exposition.js';
import { promtoolCheckMetrics } from './support/prometheus.js';
import { until } from './support/until.js';
import { version as mediasoupVersion } from 'mediasoup';

/**
 * The embedded exporter of a real Server, scraped over HTTP while synthetic peers send real VP8 and
 * opus RTP through it: every family of prom.md, values against what the peers sent, promtool on
 * the live exposition (names with quotes, backslashes, emoji, 1,000 characters), both formats, and
 * closed peers gone from the next scrape.
 */

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

async function fetchMetrics(server: TestServer, accept?: string): Promise<{ contentType: string; body: string }> {
	const response = await fetch(server.server.metricsUrl!, accept ? { headers: { accept } } : {});
	assert.equal(response.status, 200);
	return { contentType: response.headers.get('content-type') ?? '', body: await response.text() };
}

async function scrape(server: TestServer): Promise<Exposition> {
	return parseExposition((await fetchMetrics(server)).body);
}

/** Families named in prom.md's tables, with `mediasoup_P_*` expanded for producers and consumers. */
function documentedFamilies(): string[] {
	const doc = fs.readFileSync('prom.md', 'utf8');
	const names = new Set<string>();
	for (const [, name] of doc.matchAll(/^\| `((?:edumeet|mediasoup|meter_sfu)_[a-zA-Z_]+)` \|/gm)) {
		if (name!.includes('_P_')) for (const role of ['producer', 'consumer']) names.add(name!.replace('_P_', `_${role}_`));
		else names.add(name!);
	}
	return [...names];
}

// Quotes, backslashes, an emoji and 1,000 characters: the server accepts them (newlines it strips).
const LONG_NAME = `Zoë "the \\ quoter" 😀 ${'x'.repeat(1000)}`.slice(0, 1000);

test('every documented family from a live server with synthetic peers: values, rooms, promtool, both formats, closed peers gone', async () => {
	const server = await startTestServer({
		syntheticPeers: { enabled: true },
		room: { maxDisplayNameLength: 1000 },
		prometheus: { personalLabels: true, numeric: true }
	});
	const peers: SyntheticPeer[] = [];
	try {
		const [alice, bob, carol] = [
			await SyntheticPeer.create({ url: server.url, roomId: 'room-1', displayName: LONG_NAME }),
			await SyntheticPeer.create({ url: server.url, roomId: 'room-1', displayName: 'Bob' }),
			// A lone surrogate has no UTF-8 form: on the way (socket.io frames are UTF-8) or in the
			// exporter it must become U+FFFD, never break the exposition.
			await SyntheticPeer.create({ url: server.url, roomId: 'room-2', displayName: 'Carol \uD83D', video: false })
		] as [SyntheticPeer, SyntheticPeer, SyntheticPeer];
		peers.push(alice, bob, carol);
		await until(
			"alice and bob to receive each other's audio and video",
			() => alice.stats().received.receiving === 2 && bob.stats().received.receiving === 2
		);

		const sentBefore = { alice: alice.stats().sent, bob: bob.stats().sent, carol: carol.stats().sent };
		const { body, contentType } = await fetchMetrics(server);
		const sentAfter = { alice: alice.stats().sent, bob: bob.stats().sent, carol: carol.stats().sent };
		assert.match(contentType, /^text\/plain; charset=utf-8; version=0\.0\.4$/);
		const m = parseExposition(body);

		const lint = promtoolCheckMetrics(body);
		assert.equal(lint.status, 0, `promtool check metrics:\n${lint.output}`);

		// Every family documented in prom.md is in the exposition (HELP/TYPE at least), except those
		// these synthetic peers do not produce: WebRTC ICE/DTLS state (PlainTransports here) and
		// round-trip time (needs RTCP reports from a client); exporter-labelContract.test.ts makes
		// every family, each with exactly its documented labels.
		const notHere = new Set([
			'mediasoup_transport_ice_state',
			'mediasoup_transport_dtls_state',
			'mediasoup_webrtc_transports',
			'mediasoup_producer_round_trip_seconds',
			'mediasoup_consumer_round_trip_seconds'
		]);
		const missing = documentedFamilies().filter(
			(name) => !notHere.has(name) && !m.types.has(name) && !m.types.has(name.replace(/_total$/, ''))
		);
		assert.deepEqual(missing, [], 'documented families missing from the exposition');
		for (const name of m.types.keys()) {
			if (/^(process|nodejs)_/.test(name)) continue;
			assert.ok(documentedFamilies().includes(name), `${name} is exposed but not documented in prom.md`);
		}

		// Meetings.
		assert.equal(m.value('edumeet_rooms'), 2);
		assert.equal(m.value('edumeet_peers', { room_id: 'room-1' }), 2);
		assert.equal(m.value('edumeet_peers', { room_id: 'room-2' }), 1);
		assert.equal(m.value('edumeet_peers_by_client', { client_type: 'synthetic' }), 3);
		assert.equal(m.value('edumeet_peers_by_client', { client_type: 'browser' }), 0);
		assert.equal(m.value('edumeet_senders', { kind: 'audio' }), 3);
		assert.equal(m.value('edumeet_senders', { kind: 'video' }), 2);
		assert.equal(m.value('edumeet_largest_room_peers'), 2);
		assert.equal(m.value('edumeet_room_peers_count'), 2);
		assert.equal(m.value('edumeet_room_peers_sum'), 3);
		assert.equal(m.value('edumeet_room_peers_bucket', { le: '1' }), 1);
		assert.equal(m.value('edumeet_room_peers_bucket', { le: '2' }), 2);
		assert.equal(m.value('edumeet_room_video_senders_bucket', { le: '0' }), 1, 'room-2 has no video sender');
		assert.equal(m.value('edumeet_room_video_senders_bucket', { le: '2' }), 2);
		assert.equal(m.value('edumeet_room_audio_senders_sum'), 3);

		// Media totals.
		assert.equal(m.value('mediasoup_producers', { kind: 'audio' }), 3);
		assert.equal(m.value('mediasoup_producers', { kind: 'video' }), 2);
		assert.equal(m.value('mediasoup_consumers', { kind: 'audio' }), 2);
		assert.equal(m.value('mediasoup_consumers', { kind: 'video' }), 2);
		assert.equal(
			m.find('mediasoup_transports').reduce((sum, s) => sum + s.value, 0),
			6,
			'a send and a recv transport per peer'
		);
		assert.ok(m.value('mediasoup_bitrate_bps', { direction: 'recv' }) > 100_000);
		assert.ok(m.value('mediasoup_bitrate_bps', { direction: 'send' }) > 100_000);
		assert.equal(m.value('mediasoup_stream_score_count', { role: 'producer', kind: 'video' }), 2);
		assert.equal(m.value('mediasoup_stream_score_count', { role: 'consumer', kind: 'audio' }), 2);

		// Per producer: room right for every peer, byte counts match what each peer sent.
		for (const [name, peer, roomId] of [
			['alice', alice, 'room-1'],
			['bob', bob, 'room-1'],
			['carol', carol, 'room-2']
		] as const) {
			for (const [kind, producerId] of peer.producers) {
				const series = m.find('mediasoup_producer_byte_count_bytes', { id: producerId });
				assert.equal(series.length, 1, `${name} ${kind}`);
				const { labels, value } = series[0]!;
				assert.equal(labels.room_id, roomId, `${name}'s ${kind} producer is in ${roomId}`);
				assert.equal(labels.peer_id, peer.peerId);
				assert.equal(labels.kind, kind);
				assert.equal(labels.codec, kind === 'audio' ? 'opus' : 'VP8');
				assert.equal(labels.type, 'inbound-rtp');
				assert.equal(labels.proto, 'udp');
				assert.match(labels.local_addr!, /^127\.0\.0\.1:\d+$/);
				assert.match(labels.remote_addr!, /^127\.0\.0\.1:\d+$/);
				const before = sentBefore[name][kind]!.bytes;
				const after = sentAfter[name][kind]!.bytes;
				assert.ok(
					value <= after && value >= before * 0.9,
					`${name} ${kind}: ${value} bytes in the scrape, ${before}..${after} sent`
				);
				assert.ok(m.value('mediasoup_producer_packets', { id: producerId }) <= sentAfter[name][kind]!.packets);
				assert.equal(m.value('mediasoup_producer_score', { id: producerId }), 10);
				assert.equal(m.value('mediasoup_producer_packets_lost', { id: producerId }), 0);
			}
		}
		const aliceSeries = m.find('mediasoup_producer_byte_count_bytes', { peer_id: alice.peerId });
		assert.ok(
			aliceSeries.every((s) => s.labels.display_name === labelValue(LONG_NAME)),
			'the display name, cut at 128 characters'
		);
		assert.equal([...aliceSeries[0]!.labels.display_name!].length, 128);
		assert.ok(aliceSeries[0]!.labels.display_name!.startsWith('Zoë "the \\ quoter" 😀 xxx'));

		const carolSeries = m.find('mediasoup_producer_byte_count_bytes', { peer_id: carol.peerId });
		assert.deepEqual(
			carolSeries.map((s) => s.labels.display_name),
			['Carol \uFFFD'],
			'the lone surrogate became U+FFFD'
		);

		// Per consumer: alice's consumers carry bob's media in room-1.
		for (const [consumerId, consumer] of alice.consumers) {
			const series = m.find('mediasoup_consumer_byte_count_bytes', { id: consumerId });
			assert.equal(series.length, 1);
			assert.deepEqual(
				[series[0]!.labels.room_id, series[0]!.labels.peer_id, series[0]!.labels.kind, series[0]!.labels.type],
				['room-1', alice.peerId, consumer.kind, 'outbound-rtp']
			);
			assert.ok(series[0]!.value > 0);
		}
		assert.equal(m.find('mediasoup_consumer_byte_count_bytes', { room_id: 'room-2' }).length, 0, 'carol is alone');

		// Signalling counters.
		assert.equal(m.value('edumeet_joins_total'), 3);
		assert.equal(m.value('edumeet_signalling_requests_total', { method: 'join', result: 'ok' }), 3);
		assert.equal(m.value('edumeet_signalling_request_duration_seconds_count', { method: 'join' }), 3);
		assert.equal(m.value('edumeet_signalling_request_duration_seconds_bucket', { method: 'join', le: '+Inf' }), 3);
		assert.equal(m.value('edumeet_produce_successes_total', { kind: 'audio' }), 3);
		assert.equal(m.value('edumeet_produce_successes_total', { kind: 'video' }), 2);
		assert.equal(m.value('edumeet_consume_successes_total', { kind: 'video' }), 2);
		assert.equal(m.value('edumeet_connected_sockets'), 3);
		assert.equal(m.value('edumeet_rooms_created_total'), 2);

		// Workers, server process, exporter.
		const pid = String(server.server.workerPool.workers[0]!.pid);
		assert.equal(m.value('mediasoup_workers'), 1);
		assert.equal(m.value('mediasoup_worker_deaths_total'), 0);
		assert.ok(m.value('mediasoup_worker_cpu_seconds_total', { pid, mode: 'user' }) > 0);
		assert.ok(m.value('mediasoup_worker_max_rss_bytes', { pid }) > 1_000_000);
		assert.equal(m.value('mediasoup_worker_routers', { pid }), 2);
		assert.equal(m.value('mediasoup_worker_transports', { pid }), 6);
		// The worker's WebRtcServer (asked for any free port): where it listens; synthetic peers use plain transports.
		const listening = m.find('mediasoup_webrtc_server_listen_info', { pid });
		assert.deepEqual(listening.map((s) => s.labels.proto).sort(), ['tcp', 'udp']);
		for (const socket of listening) {
			assert.match(socket.labels.local_addr!, /^127\.0\.0\.1:\d+$/);
			assert.equal(socket.value, 1);
		}
		assert.equal(m.value('mediasoup_webrtc_server_transports', { pid }), 0);
		assert.ok(m.value('meter_sfu_server_cpu_seconds_total', { mode: 'user' }) > 0);
		assert.ok(m.value('meter_sfu_server_resident_memory_bytes') > 10_000_000);
		assert.equal(m.value('meter_sfu_exporter_up'), 1);
		assert.equal(m.value('meter_sfu_exporter_scrape_timed_out'), 0);
		assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'error' }), 0);
		assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'ok' }), 6 + 5 + 4);
		assert.equal(m.value('meter_sfu_build_info', { mediasoup_version: mediasoupVersion, node_version: process.version }), 1);
		// Reported, whatever it took (how long is the bench's business, not a test's).
		const scrapeSeconds = m.value('meter_sfu_exporter_scrape_duration_seconds');
		assert.ok(Number.isFinite(scrapeSeconds) && scrapeSeconds > 0, `scrape duration ${scrapeSeconds}`);

		// OpenMetrics: same families, counters without _total in TYPE, # EOF.
		const om = await fetchMetrics(server, OPENMETRICS);
		assert.match(om.contentType, /^application\/openmetrics-text; charset=utf-8; version=1\.0\.0$/);
		assert.ok(om.body.endsWith('\n# EOF\n'));
		assert.match(om.body, /^# TYPE edumeet_joins counter$/m);
		assert.match(om.body, /^edumeet_joins_total 3$/m);
		const omParsed = parseExposition(om.body);
		assert.equal(omParsed.value('edumeet_peers', { room_id: 'room-1' }), 2);
		assert.equal(
			omParsed.find('mediasoup_producer_byte_count_bytes', { peer_id: alice.peerId })[0]!.labels.display_name,
			labelValue(LONG_NAME)
		);

		// Bob leaves: none of his objects is in the next scrape.
		const bobIds = new Set([bob.peerId, ...bob.producers.values(), ...bob.consumers.keys()]);
		const bobProducers = [...bob.producers.values()];
		await bob.close();
		const mirror = server.server.exporterService!.client.state;
		await until(
			"bob to leave the exporter's mirror",
			() =>
				!(bob.peerId in mirror.peers) &&
				bobProducers.every((id) => !(id in mirror.producers)) &&
				Object.values(mirror.consumers).every((c) => !bobProducers.includes(c.producerId))
		);
		const after = await scrape(server);
		const leftovers = after.samples.filter((s) => bobIds.has(s.labels.peer_id ?? '') || bobIds.has(s.labels.id ?? ''));
		assert.deepEqual(
			leftovers.map((s) => s.name),
			[],
			"no series of bob's peer, producers or consumers"
		);
		assert.equal(after.value('edumeet_peers', { room_id: 'room-1' }), 1);
		assert.equal(after.find('mediasoup_consumer_byte_count_bytes', { room_id: 'room-1' }).length, 0, 'alice has nobody to consume');
		assert.equal(after.value('edumeet_leaves_total'), 1);
		assert.equal(promtoolCheckMetrics((await fetchMetrics(server)).body).status, 0);

		// A body is released when its response is done, and later scrapes write their lines into its
		// memory: scrapes of the same objects make no new line memory.
		const exporter = server.server.exporterService!.exporter;
		await fetchMetrics(server);
		const allocated = exporter.lineMemory.allocatedBytes;
		assert.ok(allocated > 0);
		for (let i = 0; i < 3; i++) assert.equal(promtoolCheckMetrics((await fetchMetrics(server)).body).status, 0);
		assert.equal(exporter.lineMemory.allocatedBytes, allocated, 'three more scrapes, no new line memory');
	} finally {
		await Promise.all(peers.map((p) => p.close()));
		await server.close();
	}
});

test('defaults carry no personal data; the landing page links to /metrics', async () => {
	const server = await startTestServer({ syntheticPeers: { enabled: true } });
	let peer: SyntheticPeer | undefined;
	try {
		peer = await SyntheticPeer.create({ url: server.url, roomId: 'private', displayName: 'Private Person', video: false });
		const producerId = peer.producers.get('audio')!;
		await until(
			"the producer's stats",
			async () => (await scrape(server)).find('mediasoup_producer_byte_count_bytes', { id: producerId }).length === 1
		);
		const m = await scrape(server);
		const labels = m.find('mediasoup_producer_byte_count_bytes', { id: producerId })[0]!.labels;
		assert.deepEqual([labels.display_name, labels.user_agent, labels.remote_addr], ['', '', '']);
		assert.ok(!m.samples.some((s) => Object.values(s.labels).some((v) => v.includes('Private Person'))));
		const landing = await fetch(server.server.metricsUrl!.replace(/metrics$/, ''));
		assert.equal(landing.status, 200);
		assert.match(landing.headers.get('content-type') ?? '', /^text\/html/);
		assert.match(await landing.text(), /<a href="metrics">/);
	} finally {
		await peer?.close();
		await server.close();
	}
});
