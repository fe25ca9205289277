import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { types as ms } from 'mediasoup';
import type { ObserverStreamClient } from '../server/stream/ObserverStreamClient.js';
import type { ObserverSource } from '../server/exporter/snapshot/ObserverSource.js';
import { Exporter } from '../server/exporter/Exporter.js';
import { AT } from '../server/exporter/snapshot/mediasoupStats.js';
import { testConfig } from './support/signallingServer.js';
import { parseExposition, type Exposition } from './support/exposition.js';
import { until } from './support/until.js';
import { Gate } from './support/Gate.js';
import {
	aroundGetStats,
	inboundStats,
	RID_EXTENSION_ID,
	RID_URI,
	router,
	rtpPacket,
	sendTransport,
	udpTo,
	withExporter
} from './support/exporterHarness.js';

// The exporter's per-object series against real getStats() (harness: test/support/exporterHarness.ts).
test("per-stream series from real getStats: simulcast encodings apart by rid and ssrc, values equal mediasoup's, rooms right, jitter in seconds", async () => {
	await withExporter({}, async ({ stack, client, scrape }) => {
		const routerA = await router(stack, 'room-a');
		const routerB = await router(stack, 'room-b');
		const videoTransport = await sendTransport(routerA, 'room-a', 'peer-1');
		const audioTransport = await sendTransport(routerB, 'room-b', 'peer-2');
		const video = await videoTransport.produce({
			kind: 'video',
			rtpParameters: {
				codecs: [
					{
						mimeType: 'video/VP8',
						payloadType: 101,
						clockRate: 90000,
						rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }]
					}
				],
				headerExtensions: [{ uri: RID_URI, id: RID_EXTENSION_ID }],
				encodings: [{ rid: 'r0' }, { rid: 'r1' }]
			}
		});
		const audio = await audioTransport.produce({
			kind: 'audio',
			rtpParameters: {
				codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
				encodings: [{ ssrc: 7000 }]
			}
		});
		// A consumer of the audio, forwarding to a UDP socket of ours.
		const sink = dgram.createSocket('udp4');
		sink.bind(0, '127.0.0.1');
		await once(sink, 'listening');
		const recvTransport = await routerB.createPlainTransport({
			listenIp: { ip: '127.0.0.1' },
			rtcpMux: true,
			comedia: false,
			appData: { roomId: 'room-b', peerId: 'peer-3', direction: 'recv' }
		});
		await recvTransport.connect({ ip: '127.0.0.1', port: sink.address().port });
		const consumer = await recvTransport.consume({ producerId: audio.id, rtpCapabilities: routerB.rtpCapabilities, paused: false });

		const videoSocket = await udpTo(videoTransport);
		const audioSocket = await udpTo(audioTransport);
		try {
			const sent = { r0: 0, r1: 0 };
			for (let i = 0; i < 20; i++) {
				for (const [rid, ssrc, size] of [
					['r0', 5000, 200],
					['r1', 6000, 300]
				] as const) {
					const packet = rtpPacket({ payloadType: 101, ssrc, seq: 100 + i, timestamp: i * 3000, payloadSize: size, rid });
					videoSocket.send(packet);
					sent[rid] += packet.length;
				}
			}
			// Opus every 20 ms of media time, sent in pairs 40 ms apart: every other packet arrives 20 ms
			// off its media time, and mediasoup's RFC 3550 jitter (in 48 kHz RTP units) settles near
			// 10 ms, more when the machine delays the sleeps.
			for (let i = 0; i < 60; i++) {
				audioSocket.send(rtpPacket({ payloadType: 100, ssrc: 7000, seq: i, timestamp: i * 960, payloadSize: 80 }));
				if (i % 2 === 1) await sleep(40);
			}
			let videoStats: ms.ProducerStat[] = [];
			let audioStats: ms.ProducerStat[] = [];
			const deadline = Date.now() + 10_000;
			while (Date.now() < deadline) {
				videoStats = await inboundStats(video);
				audioStats = await inboundStats(audio);
				if (videoStats.length === 2 && videoStats.every((s) => s.packetCount === 20) && audioStats[0]?.packetCount === 60) break;
				await sleep(20);
			}
			assert.equal(videoStats.length, 2, 'mediasoup sees both encodings');
			await until('the consumer in the mirror', () => Object.keys(client.state.consumers).length === 1);

			const m = await scrape();
			// mediasoup drops a stream's score to 0 once it has had no RTP for 1.5 s, which a
			// slow machine can reach between reading the stats and the scrape: either value is right.
			const videoStatsAfter = await inboundStats(video);
			for (const stat of videoStats) {
				const labels = { id: video.id, rid: stat.rid!, ssrc: String(stat.ssrc) };
				assert.equal(m.value('mediasoup_producer_packets', labels), 20);
				assert.equal(m.value('mediasoup_producer_byte_count_bytes', labels), stat.byteCount);
				const scores = [stat.score, videoStatsAfter.find((s) => s.ssrc === stat.ssrc)?.score];
				assert.ok(
					scores.includes(m.value('mediasoup_producer_score', labels)),
					`score ${m.value('mediasoup_producer_score', labels)} is one of ${JSON.stringify(scores)}`
				);
				assert.equal(m.value('mediasoup_producer_packets_lost', labels), stat.packetsLost);
			}
			assert.deepEqual(
				m
					.find('mediasoup_producer_packets', { id: video.id })
					.map((s) => s.labels.rid)
					.sort(),
				['r0', 'r1'],
				'one series per encoding'
			);
			assert.equal(new Set(m.find('mediasoup_producer_packets', { id: video.id }).map((s) => s.labels.ssrc)).size, 2);
			const [r0] = m.find('mediasoup_producer_packets', { id: video.id, rid: 'r0' });
			assert.deepEqual(
				{ ...r0!.labels },
				{
					pid: String(stack.pool.workers[0]!.pid),
					room_id: 'room-a',
					peer_id: 'peer-1',
					display_name: '',
					user_agent: '',
					transport_id: videoTransport.id,
					proto: 'udp',
					local_addr: `127.0.0.1:${videoTransport.tuple.localPort}`,
					remote_addr: '',
					id: video.id,
					kind: 'video',
					codec: 'VP8',
					type: 'inbound-rtp',
					rid: 'r0',
					ssrc: r0!.labels.ssrc
				},
				"edumeet's labels plus rid and ssrc; no personal data by default"
			);
			assert.ok(
				Math.abs(videoStats.find((s) => s.rid === 'r0')!.byteCount - sent.r0) <= sent.r0 * 0.1,
				'byte counts are of the RTP sent'
			);

			const audioStat = audioStats[0]!;
			const audioLabels = { id: audio.id, room_id: 'room-b', peer_id: 'peer-2', kind: 'audio', codec: 'opus', ssrc: '7000', rid: '' };
			assert.equal(m.value('mediasoup_producer_packets', audioLabels), 60);
			const jitter = m.value('mediasoup_producer_jitter_seconds', audioLabels);
			assert.equal(jitter, audioStat.jitter / 48000);
			assert.ok(jitter >= 0.003 && jitter <= 0.05, `jitter ${jitter} s should be about 0.01 s`);
			assert.equal(m.value('mediasoup_producer_fraction_lost', audioLabels), audioStat.fractionLost / 256);

			const consumerStat = (await consumer.getStats()).find((s) => s.type === 'outbound-rtp')!;
			const consumerSeries = m.find('mediasoup_consumer_packets', { id: consumer.id });
			assert.equal(consumerSeries.length, 1, "only the consumer's outbound-rtp entry, not its copy of the producer's");
			assert.deepEqual(
				[
					consumerSeries[0]!.labels.type,
					consumerSeries[0]!.labels.ssrc,
					consumerSeries[0]!.labels.room_id,
					consumerSeries[0]!.labels.peer_id
				],
				['outbound-rtp', String(consumerStat.ssrc), 'room-b', 'peer-3']
			);
			assert.ok(consumerSeries[0]!.value > 0 && consumerSeries[0]!.value <= 60);
			assert.equal(m.find('mediasoup_consumer_jitter_seconds').length, 0, 'mediasoup reports no consumer jitter');

			// Totals and per-transport series agree with the objects.
			assert.equal(m.value('mediasoup_producers', { kind: 'video' }), 1);
			assert.equal(m.value('mediasoup_producers', { kind: 'audio' }), 1);
			assert.equal(m.value('mediasoup_consumers', { kind: 'audio' }), 1);
			assert.equal(m.value('mediasoup_transports', { transport_type: 'plain', proto: 'udp' }), 3);
			const transportStat = (await videoTransport.getStats())[0]!;
			assert.equal(m.value('mediasoup_transport_received_bytes', { transport_id: videoTransport.id }), transportStat.bytesReceived);
			assert.equal(
				m.value('mediasoup_transport_received_bytes', { transport_id: videoTransport.id, room_id: 'room-a', direction: 'send' }),
				transportStat.bytesReceived
			);
			assert.equal(m.value('mediasoup_worker_routers', { pid: String(stack.pool.workers[0]!.pid) }), 2);
			assert.equal(m.value('mediasoup_worker_transports', { pid: String(stack.pool.workers[0]!.pid) }), 3);
			assert.equal(
				m.value('mediasoup_stream_score_count', { role: 'producer', kind: 'video' }),
				2,
				'one score observation per encoding'
			);
			assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'ok' }), 6);
			assert.equal(m.value('meter_sfu_exporter_up'), 1);
			assert.equal(m.value('meter_sfu_exporter_build_errors'), 0);

			// A server that answers getStats with objects (one without `rows`) gives the same series (those
			// that no longer change: no RTP since, and RTCP only goes out).
			const withoutRows = aroundGetStats(client, (ask) => ask({ rows: undefined }));
			const fromObjects = new Exporter({
				source: withoutRows,
				options: (await testConfig(stack.dir, { prometheus: { numeric: true } })).prometheus
			});
			try {
				const o = parseExposition(Buffer.concat((await fromObjects.scrape()).chunks).toString());
				for (const name of [
					'mediasoup_producer_byte_count_bytes',
					'mediasoup_producer_packets',
					'mediasoup_producer_jitter_seconds',
					'mediasoup_producer_score',
					'mediasoup_consumer_packets',
					'mediasoup_consumer_byte_count_bytes',
					'mediasoup_transport_received_bytes'
				]) {
					// A stream's score still changes: mediasoup drops it to 0 once the stream has had
					// no RTP for its inactivity check (1.5 s), which a slow machine reaches between the two
					// scrapes. Its series must be the same; its values were checked against mediasoup above.
					const valuesToo = name !== 'mediasoup_producer_score';
					const series = (e: Exposition): string[] =>
						e
							.find(name)
							.map((x) => JSON.stringify(valuesToo ? [x.labels, x.value] : [x.labels]))
							.sort();
					assert.ok(series(m).length > 0, name);
					assert.deepEqual(series(o), series(m), name);
				}
			} finally {
				fromObjects.close();
			}
		} finally {
			videoSocket.close();
			audioSocket.close();
			sink.close();
		}
	});
});

test('closed producers, consumers and transports have no series in the next scrape', async () => {
	await withExporter({}, async ({ stack, client, scrape }) => {
		const r = await router(stack, 'room-c');
		const send = await sendTransport(r, 'room-c', 'peer-1');
		const recv = await r.createPlainTransport({
			listenIp: { ip: '127.0.0.1' },
			rtcpMux: true,
			comedia: true,
			appData: { roomId: 'room-c', direction: 'recv' }
		});
		const producer = await send.produce({
			kind: 'audio',
			rtpParameters: {
				codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
				encodings: [{ ssrc: 8000 }]
			}
		});
		const consumer = await recv.consume({ producerId: producer.id, rtpCapabilities: r.rtpCapabilities });
		// A producer has per-stream stats (and series) once its first RTP packet arrived.
		const socket = await udpTo(send);
		socket.send(rtpPacket({ payloadType: 100, ssrc: 8000, seq: 1, timestamp: 0, payloadSize: 50 }));
		socket.close();
		await until('the consumer in the mirror', () => consumer.id in client.state.consumers);
		const statsDeadline = Date.now() + 10_000;
		while ((await inboundStats(producer)).length === 0 && Date.now() < statsDeadline) await sleep(20);
		const idsIn = (m: Exposition): Set<string> =>
			new Set(m.samples.flatMap((s) => [s.labels.id, s.labels.transport_id]).filter((v): v is string => !!v));

		const before = await scrape();
		for (const id of [producer.id, consumer.id, send.id, recv.id]) assert.ok(idsIn(before).has(id), `${id} before`);
		assert.equal(before.find('mediasoup_producer_score', { id: producer.id }).length, 1);

		consumer.close();
		await until('the consumer to leave the mirror', () => !(consumer.id in client.state.consumers));
		const afterConsumer = await scrape();
		assert.ok(!idsIn(afterConsumer).has(consumer.id), 'the consumer is gone from the very next scrape');
		assert.ok(afterConsumer.samples.every((s) => s.labels.id !== consumer.id));
		assert.equal(afterConsumer.value('mediasoup_consumers', { kind: 'audio' }), 0);
		assert.ok(idsIn(afterConsumer).has(producer.id));

		send.close();
		await until(
			'the transport and its producer to leave the mirror',
			() => !(send.id in client.state.transports) && !(producer.id in client.state.producers)
		);
		const afterTransport = await scrape();
		assert.ok(!idsIn(afterTransport).has(producer.id) && !idsIn(afterTransport).has(send.id));
		assert.equal(afterTransport.value('mediasoup_producers', { kind: 'audio' }), 0);
		assert.equal(
			afterTransport.value('mediasoup_transports', { transport_type: 'plain', proto: '' }),
			1,
			'the recv transport, which never had a tuple'
		);
		assert.equal(afterTransport.find('mediasoup_transports', { proto: 'udp' }).length, 0);
		assert.equal(
			afterTransport.value('meter_sfu_exporter_stats_objects', { result: 'error' }),
			0,
			'a closed object is churn, not an error'
		);
	});
});

test('an object that closes during the sweep, after its series were written, is not in that scrape; one whose labels changed has them as at the end', async () => {
	// The real stream with two requests held at gates (statsConcurrency 1: one id a request, one in
	// flight): the second, until the send transport (answered first) has a tuple and so other labels;
	// the one after the first consumer's answer, until that consumer (the victim) has closed.
	const afterFirstAnswer = new Gate();
	const afterVictimAnswer = new Gate();
	let getStatsCalls = 0;
	let consumers: ms.Consumer[] = [];
	let victim: ms.Consumer | undefined;
	const events: string[] = [];
	const holdTwo = (client: ObserverStreamClient): ObserverSource =>
		aroundGetStats(client, async (ask) => {
			getStatsCalls++;
			if (getStatsCalls === 2) await afterFirstAnswer.pass();
			else if (victim && !afterVictimAnswer.wasReached) await afterVictimAnswer.pass();
			const answer = await ask();
			events.push(...Object.keys(answer.stats));
			victim ??= consumers.find((c) => c.id in answer.stats);
			return answer;
		});
	await withExporter(
		{ statsConcurrency: 1 },
		async ({ stack, client, exporter, scrape }) => {
			const r = await router(stack, 'room-mid');
			const send = await sendTransport(r, 'room-mid', 'peer-1');
			const recv = await r.createPlainTransport({
				listenIp: { ip: '127.0.0.1' },
				rtcpMux: true,
				comedia: true,
				appData: { roomId: 'room-mid', direction: 'recv' }
			});
			const producer = await send.produce({
				kind: 'audio',
				rtpParameters: {
					codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
					encodings: [{ ssrc: 8100 }]
				}
			});
			consumers = await Promise.all(
				Array.from({ length: 40 }, () => recv.consume({ producerId: producer.id, rtpCapabilities: r.rtpCapabilities }))
			);
			await until('the consumers in the mirror', () => consumers.every((c) => c.id in client.state.consumers));
			const scraped = scrape().finally(() => events.push('scrape answered'));
			await afterFirstAnswer.reached;
			assert.equal(client.state.transports[send.id]!.tuple, null, 'the send transport answered without a tuple');
			const socket = await udpTo(send);
			socket.send(rtpPacket({ payloadType: 100, ssrc: 8100, seq: 1, timestamp: 0, payloadSize: 50 }));
			await until('the tuple in the mirror', () => client.state.transports[send.id]?.tuple !== null);
			socket.close();
			events.push('tuple');
			afterFirstAnswer.open();

			await afterVictimAnswer.reached;
			assert.ok(victim, 'a consumer answered');
			assert.ok(exporter.lineMemory.allocatedBytes > 0, 'the answers so far were written as lines');
			victim.close();
			await until('the victim to leave the mirror', () => !(victim!.id in client.state.consumers));
			events.push('victim closed');
			afterVictimAnswer.open();
			const m = await scraped;

			const names = new Map([send, recv, producer, victim].map((o, i) => [o.id, ['send', 'recv', 'producer', 'victim'][i]!]));
			const others = consumers.filter((c) => c !== victim).map((c) => c.id);
			assert.deepEqual(
				events.map((e) => names.get(e) ?? e),
				['send', 'tuple', 'recv', 'producer', 'victim', 'victim closed', ...others, 'scrape answered'],
				'the race happened: the victim answered, then closed while the sweep went on; the send transport answered before its labels changed'
			);
			assert.equal(getStatsCalls, 43, 'one request per object');
			const victimSeries = m.samples.filter((s) => s.labels.id === victim!.id);
			assert.deepEqual(victimSeries, [], 'no series of it');
			const scored = new Set(m.find('mediasoup_consumer_score').map((s) => s.labels.id));
			assert.equal(scored.size, 39, 'every other consumer has its series');
			assert.ok(consumers.every((c) => c === victim || scored.has(c.id)));
			assert.equal(m.find('mediasoup_transport_sent_bytes').length, 2);
			const sendSeries = m.samples.filter((x) => x.labels.transport_id === send.id && x.name.startsWith('mediasoup_transport_'));
			assert.ok(sendSeries.length >= 4, 'the send transport has its series');
			assert.ok(
				sendSeries.every((x) => x.labels.proto === 'udp'),
				'written again with the labels of the end of the sweep'
			);
			assert.equal(m.find('mediasoup_transport_received_bytes', { transport_id: send.id }).length, 1, 'once');
			assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'error' }), 0, 'closing is churn, not an error');
		},
		{ source: holdTwo }
	);
});

test("answers that come after their scrape's deadline do not touch the next scrape's series", async () => {
	// The real stream, with each answer of the first two scrapes held at a gate of its own until
	// the test opens it: the first scrape's past its deadline, then in the middle of the second's.
	type Held = { scrape: number; ids: string[]; gate: Gate };
	let scrapeNo = 1;
	const held: Held[] = [];
	const heldOf = (scrape: number): Held[] => held.filter((h) => h.scrape === scrape);
	const transports: ms.PlainTransport[] = [];
	const name = (id: string): string => `t${transports.findIndex((t) => t.id === id) + 1}`;
	const events: string[] = [];
	const returned = new Map<string, number>();
	const holdAll = (client: ObserverStreamClient): ObserverSource =>
		aroundGetStats(client, async (ask, { ids }) => {
			const scrape = scrapeNo;
			const answer = await ask();
			if (scrape > 2) return answer;
			const gate = new Gate();
			held.push({ scrape, ids, gate });
			await gate.pass();
			// A stale answer is told apart by its value: the first scrape's are made 1 byte larger.
			for (const [id, [row]] of Object.entries(answer.stats as Record<string, number[][]>)) {
				if (scrape === 1) row![AT.bytesReceived]! += 1;
				else returned.set(id, row![AT.bytesReceived]!);
			}
			events.push(`scrape ${scrape}: ${ids.map(name).join()}`);
			return answer;
		});
	// Two requests of one id in flight; a deadline the second scrape's steps below stay far from.
	await withExporter(
		{ statsConcurrency: 2, scrapeTimeoutMs: 2000 },
		async ({ stack, client, scrape }) => {
			const r = await router(stack, 'room-late');
			for (const peer of ['peer-1', 'peer-2', 'peer-3']) transports.push(await sendTransport(r, 'room-late', peer));
			await until('the transports in the mirror', () => transports.every((t) => t.id in client.state.transports));
			const first = await scrape();
			events.push('scrape 1 answered');
			assert.equal(first.value('meter_sfu_exporter_scrape_timed_out'), 1, 'the first scrape hit its deadline');
			assert.equal(first.find('mediasoup_transport_received_bytes').length, 0);
			const firstHeld = heldOf(1).map((h) => h.ids.map(name));
			assert.deepEqual(firstHeld, [['t1'], ['t2']], 'both its requests answered by the server, held');

			scrapeNo = 2;
			const second = scrape().finally(() => events.push('scrape 2 answered'));
			await until("the second scrape's first two answers held", () => heldOf(2).length === 2);
			heldOf(2)[0]!.gate.open();
			await until("the second scrape's third answer held", () => heldOf(2).length === 3);
			// The first scrape's late answers arrive while the second scrape is under way.
			for (const h of heldOf(1)) h.gate.open();
			await until("the first scrape's late answers returned", () => events.filter((e) => e.startsWith('scrape 1:')).length === 2);
			for (const h of heldOf(2)) h.gate.open();
			const m = await second;
			assert.deepEqual(
				events,
				['scrape 1 answered', 'scrape 2: t1', 'scrape 1: t1', 'scrape 1: t2', 'scrape 2: t2', 'scrape 2: t3', 'scrape 2 answered'],
				"the race happened: the first scrape's answers came after the second scrape had its first answer, before its last"
			);
			assert.equal(m.value('meter_sfu_exporter_scrape_timed_out'), 0);
			const received = m.find('mediasoup_transport_received_bytes');
			assert.deepEqual(
				received.map((s) => s.labels.transport_id).sort(),
				transports.map((t) => t.id).sort(),
				'one series per transport, none missing'
			);
			for (const sample of received)
				assert.equal(sample.value, returned.get(sample.labels.transport_id!), "the second scrape's own value");
			// Every held answer has returned: a third scrape is whole too.
			scrapeNo = 3;
			const third = await scrape();
			assert.equal(third.find('mediasoup_transport_received_bytes').length, transports.length);
		},
		{ source: holdAll }
	);
});

test('transports without a selected tuple have empty address labels; WebRTC transports have ICE and DTLS state series', async () => {
	await withExporter({ personalLabels: true }, async ({ stack, client, scrape }) => {
		const r = await router(stack, 'room-d');
		const webrtc = await r.createWebRtcTransport({
			listenIps: [{ ip: '127.0.0.1' }],
			enableUdp: true,
			enableTcp: false,
			appData: { roomId: 'room-d', peerId: 'p', direction: 'send' }
		});
		const producer = await webrtc.produce({
			kind: 'audio',
			rtpParameters: {
				codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
				encodings: [{ ssrc: 9000 }]
			}
		});
		await until('the producer in the mirror', () => producer.id in client.state.producers);
		const m = await scrape();
		const t = { transport_id: webrtc.id };
		for (const name of ['mediasoup_transport_received_bytes', 'mediasoup_transport_sent_bytes']) {
			assert.deepEqual(
				m.find(name, t).map((s) => [s.labels.proto, s.labels.local_addr, s.labels.remote_addr]),
				[['', '', '']],
				name
			);
		}
		const producerSeries = m.find('mediasoup_producer_score', { id: producer.id });
		assert.ok(producerSeries.every((s) => s.labels.proto === '' && s.labels.local_addr === '' && s.labels.remote_addr === ''));
		assert.equal(m.value('mediasoup_transport_ice_state', { ...t, state: 'new' }), 1);
		for (const state of ['connected', 'completed', 'disconnected', 'closed'])
			assert.equal(m.value('mediasoup_transport_ice_state', { ...t, state }), 0);
		assert.equal(m.value('mediasoup_transport_dtls_state', { ...t, state: 'new' }), 1);
		assert.equal(m.value('mediasoup_transport_dtls_state', { ...t, state: 'failed' }), 0);
		assert.equal(m.value('mediasoup_webrtc_transports', { ice_state: 'new', dtls_state: 'new' }), 1);
		assert.equal(m.value('mediasoup_transports', { transport_type: 'webrtc', proto: '' }), 1);
	});
});
