import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { types as ms } from 'mediasoup';
import { ObserverStreamClient } from '../server/stream/ObserverStreamClient.js';
import { Exporter } from '../server/exporter/Exporter.js';
import { ReverseDnsCache } from '../server/exporter/ReverseDnsCache.js';
import type { ExporterOptions } from '../server/exporter/ExporterOptions.js';
import type { ObserverSource } from '../server/exporter/ObserverSource.js';
import type { RequestMethod, Requests } from '../server/stream/protocol.js';
import { startObserverStack, mediaCodecs, type ObserverStack } from './support/observerFixtures.js';
import { testConfig } from './support/signallingServer.js';
import { parseExposition, type Exposition } from './support/exposition.js';
import { startPtrServer, resolverFor } from './support/dnsPtrServer.js';
import { until } from './support/until.js';

/**
 * The exporter against real mediasoup objects behind the real observer stream: routers,
 * transports, producers and consumers are made by hand (no meeting server, so no rooms or peers)
 * and fed hand-made RTP over UDP, so every value can be checked against mediasoup's own getStats().
 */

const RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
const RID_EXTENSION_ID = 10;

type Harness = { stack: ObserverStack; client: ObserverStreamClient; exporter: Exporter; scrape(openMetrics?: boolean): Promise<Exposition> };

async function withExporter(options: Partial<ExporterOptions>, body: (h: Harness) => Promise<void>, { dns }: { dns?: ReverseDnsCache } = {}): Promise<void> {
	const stack = await startObserverStack();
	const client = new ObserverStreamClient({ socketPath: stack.socketPath });
	let exporter: Exporter | undefined;
	try {
		await client.connect();
		const config = await testConfig(stack.dir, { prometheus: { numeric: true, ...options } });
		exporter = new Exporter({ source: client, options: config.prometheus, dns });
		const e = exporter;
		await body({ stack, client, exporter: e, scrape: async (openMetrics = false) => parseExposition(Buffer.concat((await e.scrape({ openMetrics })).chunks).toString()) });
	} finally {
		exporter?.close();
		client.close();
		await stack.close();
	}
}

async function router(stack: ObserverStack, roomId: string): Promise<ms.Router> {
	return stack.pool.leastLoadedWorker().createRouter({ mediaCodecs, appData: { roomId } });
}

async function sendTransport(r: ms.Router, roomId: string, peerId: string, ip = '127.0.0.1'): Promise<ms.PlainTransport> {
	return r.createPlainTransport({ listenIp: { ip }, rtcpMux: true, comedia: true, appData: { roomId, peerId, direction: 'send' } });
}

/** One RTP packet; with `rid`, a one-byte header extension (RFC 8285) carries it. */
function rtpPacket({ payloadType, ssrc, seq, timestamp, payloadSize, rid }: {
	payloadType: number; ssrc: number; seq: number; timestamp: number; payloadSize: number; rid?: string;
}): Buffer {
	const header = Buffer.alloc(12);
	header[0] = rid ? 0x90 : 0x80;
	header[1] = payloadType;
	header.writeUInt16BE(seq & 0xffff, 2);
	header.writeUInt32BE(timestamp >>> 0, 4);
	header.writeUInt32BE(ssrc, 8);
	const parts = [header];
	if (rid) {
		const element = Buffer.concat([Buffer.from([(RID_EXTENSION_ID << 4) | (rid.length - 1)]), Buffer.from(rid, 'ascii')]);
		const words = Math.ceil(element.length / 4);
		const extension = Buffer.alloc(4 + words * 4);
		extension.writeUInt16BE(0xbede, 0);
		extension.writeUInt16BE(words, 2);
		element.copy(extension, 4);
		parts.push(extension);
	}
	// VP8 descriptor with a 15-bit PictureID, or filler for opus: the SFU counts either.
	const payload = Buffer.alloc(payloadSize, 0x55);
	payload.set([0x90, 0x80, 0x80 | ((seq >> 8) & 0x7f), seq & 0xff, 0x10], 0);
	parts.push(payload);
	return Buffer.concat(parts);
}

async function udpTo(transport: ms.PlainTransport): Promise<dgram.Socket> {
	const socket = dgram.createSocket('udp4');
	socket.bind(0, transport.tuple.localIp);
	await once(socket, 'listening');
	socket.connect(transport.tuple.localPort, transport.tuple.localIp);
	await once(socket, 'connect');
	return socket;
}

async function inboundStats(producer: ms.Producer): Promise<ms.ProducerStat[]> {
	return (await producer.getStats()).filter((s) => s.type === 'inbound-rtp');
}

type GetStatsAnswer = Requests['getStats']['result'];

/**
 * The real stream client as the exporter's source, with each getStats request run through
 * `around` (which asks with `ask()`): to hold answers back, or to change the world between them.
 */
function aroundGetStats(client: ObserverStreamClient, around: (ask: () => Promise<GetStatsAnswer>) => Promise<GetStatsAnswer>): ObserverSource {
	return {
		get state() { return client.state; },
		get seq() { return client.seq; },
		get connected() { return client.connected; },
		get hello() { return client.hello; },
		request: ((method: RequestMethod, params: never, options?: { timeoutMs?: number }) => method === 'getStats'
			? around(() => client.request('getStats', params, options))
			: client.request(method, params, options)) as ObserverSource['request']
	};
}

async function scrapeOf(exporter: Exporter): Promise<Exposition> {
	return parseExposition(Buffer.concat((await exporter.scrape()).chunks).toString());
}

test('per-stream series from real getStats: simulcast encodings apart by rid and ssrc, values equal mediasoup\'s, rooms right, jitter in seconds', async () => {
	await withExporter({}, async ({ stack, client, scrape }) => {
		const routerA = await router(stack, 'room-a');
		const routerB = await router(stack, 'room-b');
		const videoTransport = await sendTransport(routerA, 'room-a', 'peer-1');
		const audioTransport = await sendTransport(routerB, 'room-b', 'peer-2');
		const video = await videoTransport.produce({
			kind: 'video',
			rtpParameters: {
				codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
				headerExtensions: [{ uri: RID_URI, id: RID_EXTENSION_ID }],
				encodings: [{ rid: 'r0' }, { rid: 'r1' }]
			}
		});
		const audio = await audioTransport.produce({
			kind: 'audio',
			rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 7000 }] }
		});
		// A consumer of the audio, forwarding to a UDP socket of ours.
		const sink = dgram.createSocket('udp4');
		sink.bind(0, '127.0.0.1');
		await once(sink, 'listening');
		const recvTransport = await routerB.createPlainTransport({
			listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: false, appData: { roomId: 'room-b', peerId: 'peer-3', direction: 'recv' }
		});
		await recvTransport.connect({ ip: '127.0.0.1', port: sink.address().port });
		const consumer = await recvTransport.consume({ producerId: audio.id, rtpCapabilities: routerB.rtpCapabilities, paused: false });

		const videoSocket = await udpTo(videoTransport);
		const audioSocket = await udpTo(audioTransport);
		try {
			const sent = { r0: 0, r1: 0 };
			for (let i = 0; i < 20; i++) {
				for (const [rid, ssrc, size] of [['r0', 5000, 200], ['r1', 6000, 300]] as const) {
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
				assert.ok(scores.includes(m.value('mediasoup_producer_score', labels)), `score ${m.value('mediasoup_producer_score', labels)} is one of ${JSON.stringify(scores)}`);
				assert.equal(m.value('mediasoup_producer_packets_lost', labels), stat.packetsLost);
			}
			assert.deepEqual(m.find('mediasoup_producer_packets', { id: video.id }).map((s) => s.labels.rid).sort(), ['r0', 'r1'], 'one series per encoding');
			assert.equal(new Set(m.find('mediasoup_producer_packets', { id: video.id }).map((s) => s.labels.ssrc)).size, 2);
			const [r0] = m.find('mediasoup_producer_packets', { id: video.id, rid: 'r0' });
			assert.deepEqual({ ...r0!.labels }, {
				pid: String(stack.pool.workers[0]!.pid), room_id: 'room-a', peer_id: 'peer-1', display_name: '', user_agent: '',
				transport_id: videoTransport.id, proto: 'udp', local_addr: `127.0.0.1:${videoTransport.tuple.localPort}`,
				remote_addr: '', id: video.id, kind: 'video', codec: 'VP8', type: 'inbound-rtp', rid: 'r0', ssrc: r0!.labels.ssrc
			}, 'edumeet\'s labels plus rid and ssrc; no personal data by default');
			assert.ok(Math.abs(videoStats.find((s) => s.rid === 'r0')!.byteCount - sent.r0) <= sent.r0 * 0.1, 'byte counts are of the RTP sent');

			const audioStat = audioStats[0]!;
			const audioLabels = { id: audio.id, room_id: 'room-b', peer_id: 'peer-2', kind: 'audio', codec: 'opus', ssrc: '7000', rid: '' };
			assert.equal(m.value('mediasoup_producer_packets', audioLabels), 60);
			const jitter = m.value('mediasoup_producer_jitter_seconds', audioLabels);
			assert.equal(jitter, audioStat.jitter / 48000);
			assert.ok(jitter >= 0.003 && jitter <= 0.05, `jitter ${jitter} s should be about 0.01 s`);
			assert.equal(m.value('mediasoup_producer_fraction_lost', audioLabels), audioStat.fractionLost / 256);

			const consumerStat = (await consumer.getStats()).find((s) => s.type === 'outbound-rtp')!;
			const consumerSeries = m.find('mediasoup_consumer_packets', { id: consumer.id });
			assert.equal(consumerSeries.length, 1, 'only the consumer\'s outbound-rtp entry, not its copy of the producer\'s');
			assert.deepEqual([consumerSeries[0]!.labels.type, consumerSeries[0]!.labels.ssrc, consumerSeries[0]!.labels.room_id, consumerSeries[0]!.labels.peer_id],
				['outbound-rtp', String(consumerStat.ssrc), 'room-b', 'peer-3']);
			assert.ok(consumerSeries[0]!.value > 0 && consumerSeries[0]!.value <= 60);
			assert.equal(m.find('mediasoup_consumer_jitter_seconds').length, 0, 'mediasoup reports no consumer jitter');

			// Totals and per-transport series agree with the objects.
			assert.equal(m.value('mediasoup_producers', { kind: 'video' }), 1);
			assert.equal(m.value('mediasoup_producers', { kind: 'audio' }), 1);
			assert.equal(m.value('mediasoup_consumers', { kind: 'audio' }), 1);
			assert.equal(m.value('mediasoup_transports', { transport_type: 'plain', proto: 'udp' }), 3);
			const transportStat = (await videoTransport.getStats())[0]!;
			assert.equal(m.value('mediasoup_transport_received_bytes', { transport_id: videoTransport.id }), transportStat.bytesReceived);
			assert.equal(m.value('mediasoup_transport_received_bytes', { transport_id: videoTransport.id, room_id: 'room-a', direction: 'send' }), transportStat.bytesReceived);
			assert.equal(m.value('mediasoup_worker_routers', { pid: String(stack.pool.workers[0]!.pid) }), 2);
			assert.equal(m.value('mediasoup_worker_transports', { pid: String(stack.pool.workers[0]!.pid) }), 3);
			assert.equal(m.value('mediasoup_stream_score_count', { role: 'producer', kind: 'video' }), 2, 'one score observation per encoding');
			assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'ok' }), 6);
			assert.equal(m.value('meter_sfu_exporter_up'), 1);
			assert.equal(m.value('meter_sfu_exporter_build_errors'), 0);

			// A server that answers getStats with objects (one without `rows`) gives the same series (those
			// that no longer change: no RTP since, and RTCP only goes out).
			const withoutRows: ObserverSource = {
				get state() { return client.state; },
				get seq() { return client.seq; },
				get connected() { return client.connected; },
				get hello() { return client.hello; },
				request: ((method: RequestMethod, params: Record<string, unknown>, options?: { timeoutMs?: number }) =>
					client.request(method, (method === 'getStats' ? { ...params, rows: undefined } : params) as never, options)) as ObserverSource['request']
			};
			const fromObjects = new Exporter({ source: withoutRows, options: (await testConfig(stack.dir, { prometheus: { numeric: true } })).prometheus });
			try {
				const o = parseExposition(Buffer.concat((await fromObjects.scrape()).chunks).toString());
				for (const name of ['mediasoup_producer_byte_count_bytes', 'mediasoup_producer_packets', 'mediasoup_producer_jitter_seconds', 'mediasoup_producer_score',
					'mediasoup_consumer_packets', 'mediasoup_consumer_byte_count_bytes', 'mediasoup_transport_received_bytes']) {
					// A stream's score still changes: mediasoup drops it to 0 once the stream has had
					// no RTP for its inactivity check (1.5 s), which a slow machine reaches between the two
					// scrapes. Its series must be the same; its values were checked against mediasoup above.
					const valuesToo = name !== 'mediasoup_producer_score';
					const series = (e: Exposition): string[] => e.find(name).map((x) => JSON.stringify(valuesToo ? [x.labels, x.value] : [x.labels])).sort();
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
		const recv = await r.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: true, appData: { roomId: 'room-c', direction: 'recv' } });
		const producer = await send.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 8000 }] } });
		const consumer = await recv.consume({ producerId: producer.id, rtpCapabilities: r.rtpCapabilities });
		// A producer has per-stream stats (and series) once its first RTP packet arrived.
		const socket = await udpTo(send);
		socket.send(rtpPacket({ payloadType: 100, ssrc: 8000, seq: 1, timestamp: 0, payloadSize: 50 }));
		socket.close();
		await until('the consumer in the mirror', () => consumer.id in client.state.consumers);
		const statsDeadline = Date.now() + 10_000;
		while ((await inboundStats(producer)).length === 0 && Date.now() < statsDeadline) await sleep(20);
		const idsIn = (m: Exposition): Set<string> => new Set(m.samples.flatMap((s) => [s.labels.id, s.labels.transport_id]).filter((v): v is string => !!v));

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
		await until('the transport and its producer to leave the mirror', () => !(send.id in client.state.transports) && !(producer.id in client.state.producers));
		const afterTransport = await scrape();
		assert.ok(!idsIn(afterTransport).has(producer.id) && !idsIn(afterTransport).has(send.id));
		assert.equal(afterTransport.value('mediasoup_producers', { kind: 'audio' }), 0);
		assert.equal(afterTransport.value('mediasoup_transports', { transport_type: 'plain', proto: '' }), 1, 'the recv transport, which never had a tuple');
		assert.equal(afterTransport.find('mediasoup_transports', { proto: 'udp' }).length, 0);
		assert.equal(afterTransport.value('meter_sfu_exporter_stats_objects', { result: 'error' }), 0, 'a closed object is churn, not an error');
	});
});

test('an object that closes during the sweep, after its series were written, is not in that scrape; one whose labels changed has them as at the end', async () => {
	const stack = await startObserverStack();
	const client = new ObserverStreamClient({ socketPath: stack.socketPath });
	try {
		await client.connect();
		const r = await router(stack, 'room-mid');
		const send = await sendTransport(r, 'room-mid', 'peer-1');
		const recv = await r.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: true, appData: { roomId: 'room-mid', direction: 'recv' } });
		const producer = await send.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 8100 }] } });
		const consumers = await Promise.all(Array.from({ length: 40 }, () => recv.consume({ producerId: producer.id, rtpCapabilities: r.rtpCapabilities })));
		await until('the consumers in the mirror', () => consumers.every((c) => c.id in client.state.consumers));
		// The real stream, except that the first getStats request after a consumer's answer waits
		// until that consumer has closed and left the mirror (statsConcurrency 1: one id a request).
		let getStatsCalls = 0;
		let answered: ms.Consumer | undefined;
		let victim: ms.Consumer | undefined;
		const source = aroundGetStats(client, async (ask) => {
			getStatsCalls++;
			if (getStatsCalls === 2) {
				// After the first answer (the send transport's): its first RTP packet gives it a
				// tuple, so its labels change (proto, local_addr).
				const socket = await udpTo(send);
				socket.send(rtpPacket({ payloadType: 100, ssrc: 8100, seq: 1, timestamp: 0, payloadSize: 50 }));
				await until('the tuple in the mirror', () => client.state.transports[send.id]?.tuple !== null);
				socket.close();
			}
			if (answered && !victim) {
				victim = answered;
				victim.close();
				await until('the victim to leave the mirror', () => !(victim!.id in client.state.consumers));
			}
			const answer = await ask();
			answered ??= consumers.find((c) => c.id in answer.stats);
			return answer;
		});
		const config = await testConfig(stack.dir, { prometheus: { numeric: true, statsConcurrency: 1 } });
		const exporter = new Exporter({ source, options: config.prometheus });
		try {
			const m = await scrapeOf(exporter);
			assert.equal(getStatsCalls, 43, 'one request per object');
			assert.ok(victim, 'a consumer closed after its answer, before the sweep ended');
			assert.deepEqual(m.samples.filter((s) => s.labels.id === victim!.id), [], 'no series of it');
			const scored = new Set(m.find('mediasoup_consumer_score').map((s) => s.labels.id));
			assert.equal(scored.size, 39, 'every other consumer has its series');
			assert.ok(consumers.every((c) => c === victim || scored.has(c.id)));
			assert.equal(m.find('mediasoup_transport_sent_bytes').length, 2);
			const sendSeries = m.samples.filter((x) => x.labels.transport_id === send.id && x.name.startsWith('mediasoup_transport_'));
			assert.ok(sendSeries.length >= 4, 'the send transport has its series');
			assert.ok(sendSeries.every((x) => x.labels.proto === 'udp'), 'written again with the labels of the end of the sweep');
			assert.equal(m.find('mediasoup_transport_received_bytes', { transport_id: send.id }).length, 1, 'once');
			assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'error' }), 0, 'closing is churn, not an error');
		} finally {
			exporter.close();
		}
	} finally {
		client.close();
		await stack.close();
	}
});

test('answers that come after their scrape\'s deadline do not touch the next scrape\'s series', async () => {
	const stack = await startObserverStack();
	const client = new ObserverStreamClient({ socketPath: stack.socketPath });
	try {
		await client.connect();
		const r = await router(stack, 'room-late');
		const transports = [await sendTransport(r, 'room-late', 'peer-1'), await sendTransport(r, 'room-late', 'peer-2'), await sendTransport(r, 'room-late', 'peer-3')];
		await until('the transports in the mirror', () => transports.every((t) => t.id in client.state.transports));
		// The real stream, with answers held back: the first scrape's past its deadline (600 ms less
		// its reserve), the second's so that the first's late answers land between its first two
		// answers (80 ms) and its last (200 ms more).
		let phase: 'late' | 'slow' | 'quick' = 'late';
		let slowCalls = 0;
		const returned = new Map<string, number>();
		const source = aroundGetStats(client, async (ask) => {
			const asked = phase;
			const answer = await ask();
			if (asked !== 'quick') await sleep(asked === 'late' ? 650 : slowCalls++ < 2 ? 80 : 280);
			// A stale answer is told apart by its value: the first phase's are made 1 byte larger.
			for (const [id, [entry]] of Object.entries(answer.stats as Record<string, { bytesReceived?: number }[]>)) {
				if (!entry) continue;
				if (asked === 'late') entry.bytesReceived = (entry.bytesReceived ?? 0) + 1;
				else if (asked === 'slow') returned.set(id, entry.bytesReceived ?? 0);
			}
			return answer;
		});
		const config = await testConfig(stack.dir, { prometheus: { numeric: true, statsConcurrency: 2, scrapeTimeoutMs: 600 } });
		const exporter = new Exporter({ source, options: config.prometheus });
		try {
			const first = await scrapeOf(exporter);
			assert.equal(first.value('meter_sfu_exporter_scrape_timed_out'), 1, 'the first scrape hit its deadline');
			assert.equal(first.find('mediasoup_transport_received_bytes').length, 0);
			phase = 'slow';
			const second = await scrapeOf(exporter);
			const received = second.find('mediasoup_transport_received_bytes');
			assert.deepEqual(received.map((s) => s.labels.transport_id).sort(), transports.map((t) => t.id).sort(), 'one series per transport, none missing');
			for (const sample of received) assert.equal(sample.value, returned.get(sample.labels.transport_id!), 'the second scrape\'s own value');
			// The first scrape's stragglers are done by now; a third scrape is whole too.
			phase = 'quick';
			await sleep(200);
			const third = await scrapeOf(exporter);
			assert.equal(third.find('mediasoup_transport_received_bytes').length, transports.length);
		} finally {
			exporter.close();
		}
	} finally {
		client.close();
		await stack.close();
	}
});

test('transports without a selected tuple have empty address labels; WebRTC transports have ICE and DTLS state series', async () => {
	await withExporter({ personalLabels: true }, async ({ stack, client, scrape }) => {
		const r = await router(stack, 'room-d');
		const webrtc = await r.createWebRtcTransport({ listenIps: [{ ip: '127.0.0.1' }], enableUdp: true, enableTcp: false, appData: { roomId: 'room-d', peerId: 'p', direction: 'send' } });
		const producer = await webrtc.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 9000 }] } });
		await until('the producer in the mirror', () => producer.id in client.state.producers);
		const m = await scrape();
		const t = { transport_id: webrtc.id };
		for (const name of ['mediasoup_transport_received_bytes', 'mediasoup_transport_sent_bytes']) {
			assert.deepEqual(m.find(name, t).map((s) => [s.labels.proto, s.labels.local_addr, s.labels.remote_addr]), [['', '', '']], name);
		}
		const producerSeries = m.find('mediasoup_producer_score', { id: producer.id });
		assert.ok(producerSeries.every((s) => s.labels.proto === '' && s.labels.local_addr === '' && s.labels.remote_addr === ''));
		assert.equal(m.value('mediasoup_transport_ice_state', { ...t, state: 'new' }), 1);
		for (const state of ['connected', 'completed', 'disconnected', 'closed']) assert.equal(m.value('mediasoup_transport_ice_state', { ...t, state }), 0);
		assert.equal(m.value('mediasoup_transport_dtls_state', { ...t, state: 'new' }), 1);
		assert.equal(m.value('mediasoup_transport_dtls_state', { ...t, state: 'failed' }), 0);
		assert.equal(m.value('mediasoup_webrtc_transports', { ice_state: 'new', dtls_state: 'new' }), 1);
		assert.equal(m.value('mediasoup_transports', { transport_type: 'webrtc', proto: '' }), 1);
	});
});

test('personal data only on request: remote_addr empty by default, masked with deidentify; quiet folds streams', async () => {
	for (const [options, expectRemote] of [
		[{}, () => ''],
		[{ personalLabels: true, deidentify: true }, (port: number) => `127.0.x.x:${port}`],
		[{ personalLabels: true, numeric: true }, (port: number) => `127.0.0.1:${port}`]
	] as const) {
		await withExporter(options, async ({ stack, client, scrape }) => {
			const r = await router(stack, 'room-e');
			const transport = await sendTransport(r, 'room-e', 'peer-e');
			await transport.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 4242 }] } });
			const socket = await udpTo(transport);
			try {
				socket.send(rtpPacket({ payloadType: 100, ssrc: 4242, seq: 1, timestamp: 0, payloadSize: 50 }));
				await until('the transport\'s remote tuple', () => client.state.transports[transport.id]?.tuple?.remotePort === socket.address().port);
				const m = await scrape();
				const series = m.find('mediasoup_producer_byte_count_bytes', { transport_id: transport.id });
				assert.equal(series.length, 1);
				assert.equal(series[0]!.labels.remote_addr, expectRemote(socket.address().port), JSON.stringify(options));
				assert.equal(m.find('mediasoup_transport_sent_bytes', { transport_id: transport.id })[0]!.labels.remote_addr, expectRemote(socket.address().port));
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
				producers.push(await transport.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 3000 + i }] } }));
				const socket = await udpTo(transport);
				sockets.push(socket);
				for (let seq = 0; seq < 10 * (i + 1); seq++) socket.send(rtpPacket({ payloadType: 100, ssrc: 3000 + i, seq, timestamp: seq * 960, payloadSize: 60 }));
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
			assert.deepEqual([series[0]!.labels.id, series[0]!.labels.peer_id, series[0]!.labels.transport_id, series[0]!.labels.ssrc, series[0]!.labels.local_addr], ['', '', '', '', '127.0.0.1']);
			assert.equal(series[0]!.value, 30, 'packet counts are summed');
			assert.equal(m.value('mediasoup_producer_byte_count_bytes', { room_id: 'room-q' }), direct[0]!.byteCount + direct[1]!.byteCount);
			assert.equal(m.value('mediasoup_producer_score', { room_id: 'room-q' }), Math.min(direct[0]!.score, direct[1]!.score), 'the worst score');
			assert.equal(m.value('mediasoup_transport_received_bytes', { room_id: 'room-q', direction: 'send' }),
				(await Promise.all(transports.map(async (t) => (await t.getStats())[0]!.bytesReceived))).reduce((a, b) => a + b));
		} finally {
			for (const socket of sockets) socket.close();
		}
	});
});

test('perObjectMetrics false: every aggregate, no per-object series, only transports swept', async () => {
	await withExporter({ perObjectMetrics: false }, async ({ stack, client, scrape }) => {
		const r = await router(stack, 'room-f');
		const transport = await sendTransport(r, 'room-f', 'peer-f');
		const producer = await transport.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 5151 }] } });
		await until('the producer in the mirror', () => producer.id in client.state.producers);
		const m = await scrape();
		const perObject = [...m.names()].filter((n) => /^mediasoup_(producer|consumer|transport)_|^edumeet_peers$/.test(n));
		assert.deepEqual(perObject, []);
		for (const name of ['edumeet_rooms', 'edumeet_peers_by_client', 'edumeet_room_peers_count', 'mediasoup_producers', 'mediasoup_transports',
			'mediasoup_bitrate_bps', 'mediasoup_stream_score_count', 'mediasoup_workers', 'mediasoup_worker_cpu_seconds_total']) {
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
		const [textResult, openMetricsResult, againResult] = await Promise.all([exporter.scrape({ openMetrics: false }), exporter.scrape({ openMetrics: true }), exporter.scrape()]);
		assert.equal(textResult.contentType, 'text/plain; charset=utf-8; version=0.0.4');
		assert.equal(openMetricsResult.contentType, 'application/openmetrics-text; charset=utf-8; version=1.0.0');
		assert.equal(againResult.chunks, textResult.chunks, 'concurrent scrapes of one format share the rendered body');
		const [text, openMetrics, again] = [textResult, openMetricsResult, againResult].map((r) => Buffer.concat(r.chunks).toString()) as [string, string, string];
		assert.ok(openMetrics.endsWith('# EOF\n') && !text.includes('# EOF'));
		const sweeps = [text, openMetrics, again].map((body) => parseExposition(body).value('meter_sfu_exporter_sweeps_total'));
		assert.deepEqual(sweeps, [1, 1, 1], 'three scrapes, one sweep');
		assert.match(openMetrics, /^# TYPE meter_sfu_exporter_sweeps counter$/m, 'OpenMetrics names the counter family without _total');
		assert.match(text, /^# TYPE meter_sfu_exporter_sweeps_total counter$/m);
		assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m, 'a text scrape after an OpenMetrics one keeps process counter names');
		// Both formats carry the same per-object series (rendered once for the snapshot).
		const series = (body: string): string[] => body.split('\n').filter((l) => l.startsWith('mediasoup_transport_'));
		assert.ok(series(text).length > 0);
		assert.deepEqual(series(openMetrics), series(text));
		assert.equal((await scrapeOf(exporter)).value('meter_sfu_exporter_sweeps_total'), 2, 'a later scrape sweeps again');
	});
});

test('past the deadline (worker stopped) a scrape answers in time with the state it has and says it timed out', async () => {
	await withExporter({ scrapeTimeoutMs: 600 }, async ({ stack, client, scrape }) => {
		const r = await router(stack, 'room-h');
		const transport = await sendTransport(r, 'room-h', 'peer-h');
		const producer = await transport.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 6161 }] } });
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
		const t0 = performance.now();
		try {
			m = await scrape();
		} finally {
			process.kill(pid, 'SIGCONT');
		}
		const took = performance.now() - t0;
		assert.ok(took >= 400 && took < 1500, `the scrape took ${took} ms for a 600 ms deadline`);
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
	});
});

test('reverse DNS: the first scrape shows the address, later ones the name; a DNS server that never answers delays no scrape', async () => {
	const ptr = await startPtrServer(new Map([['5.0.0.127.in-addr.arpa', 'media.example.test']]));
	try {
		for (const silent of [true, false]) {
			ptr.silent = silent;
			const dns = new ReverseDnsCache({ resolver: resolverFor(ptr, 5000) });
			await withExporter({ numeric: false }, async ({ stack, client, scrape }) => {
				const r = await router(stack, 'room-i');
				const transport = await sendTransport(r, 'room-i', 'peer-i', '127.0.0.5');
				// A comedia transport has a tuple once the first packet arrived.
				await transport.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 7171 }] } });
				const socket = await udpTo(transport);
				socket.send(rtpPacket({ payloadType: 100, ssrc: 7171, seq: 1, timestamp: 0, payloadSize: 50 }));
				socket.close();
				await until('the transport\'s tuple in the mirror', () => client.state.transports[transport.id]?.tuple !== null && client.state.transports[transport.id] !== undefined);
				const localAddr = async (): Promise<string> =>
					(await scrape()).find('mediasoup_transport_sent_bytes', { transport_id: transport.id })[0]!.labels.local_addr!;
				const port = transport.tuple.localPort;
				const t0 = performance.now();
				assert.equal(await localAddr(), `127.0.0.5:${port}`, 'the first scrape shows the address');
				assert.ok(performance.now() - t0 < 1000, 'and does not wait for DNS');
				if (silent) {
					await until('the look-up to be sent', () => ptr.queries.length > 0);
					const t1 = performance.now();
					assert.equal(await localAddr(), `127.0.0.5:${port}`);
					assert.ok(performance.now() - t1 < 1000, 'a look-up in flight (5 s timeout) delays no scrape');
				} else {
					const deadline = Date.now() + 10_000;
					let label = '';
					while (!label.startsWith('media.') && Date.now() < deadline) {
						label = await localAddr();
						await sleep(20);
					}
					assert.equal(label, `media.example.test:${port}`, 'a later scrape shows the name');
				}
			}, { dns });
		}
	} finally {
		ptr.close();
	}
});
