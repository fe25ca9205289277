import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import path from 'node:path';
import { once } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { Vp8Stream } from '../tools/synthetic/Vp8Stream.js';
import { OpusStream } from '../tools/synthetic/OpusStream.js';
import { RtpReceiveStats } from '../tools/synthetic/RtpReceiveStats.js';
import { RtpStreamSender } from '../tools/synthetic/RtpStreamSender.js';
import { RtpSink } from '../tools/synthetic/RtpSink.js';
import { syntheticRtpCapabilities } from '../tools/synthetic/syntheticRtpCapabilities.js';
import { loadConfig } from '../server/config/loadConfig.js';
import { until } from './support/until.js';

test('Vp8Stream: 15-bit PictureID descriptors, ≤1200-byte packets, marker on each frame end, periodic keyframes', () => {
	const stream = new Vp8Stream({ bitrate: 400_000, fps: 30, keyFrameIntervalMs: 1000, width: 320, height: 240 });
	const frames = Array.from({ length: 60 }, () => stream.nextFrame());
	let bytes = 0;
	let previousSeq = -1;
	const pictureIds: number[] = [];
	const timestamps: number[] = [];
	frames.forEach((packets, index) => {
		packets.forEach((packet, i) => {
			assert.ok(packet.length <= 1200, `packet of ${packet.length} bytes`);
			assert.equal(packet[0], 0x80, 'RTP v2, no padding/extension/CSRC');
			assert.equal(packet[1]! & 0x7f, stream.payloadType);
			assert.equal(Boolean(packet[1]! & 0x80), i === packets.length - 1, 'marker only on the last packet of a frame');
			assert.equal(packet.readUInt32BE(8), stream.ssrc);
			const seq = packet.readUInt16BE(2);
			if (previousSeq >= 0) assert.equal(seq, (previousSeq + 1) & 0xffff);
			previousSeq = seq;
			// X=1, S only on the first packet, PID 0; I=1; M=1 (15-bit PictureID).
			assert.equal(packet[12], i === 0 ? 0x90 : 0x80);
			assert.equal(packet[13], 0x80);
			assert.ok(packet[14]! & 0x80);
			if (i === 0) pictureIds.push(((packet[14]! & 0x7f) << 8) | packet[15]!);
			else assert.equal(((packet[14]! & 0x7f) << 8) | packet[15]!, pictureIds.at(-1));
			bytes += packet.length - 16;
		});
		timestamps.push(packets[0]!.readUInt32BE(4));
		const first = packets[0]!;
		const keyFrame = index % 30 === 0;
		assert.equal(RtpReceiveStats.isVp8KeyFrameStart(first), keyFrame, `frame ${index}`);
		if (keyFrame) {
			assert.deepEqual([...first.subarray(19, 22)], [0x9d, 0x01, 0x2a], 'keyframe start code');
			assert.equal(first.readUInt16LE(22), 320);
			assert.equal(first.readUInt16LE(24), 240);
		}
	});
	for (let i = 1; i < pictureIds.length; i++) assert.equal(pictureIds[i], (pictureIds[i - 1]! + 1) & 0x7fff);
	for (let i = 1; i < timestamps.length; i++) assert.equal((timestamps[i]! - timestamps[i - 1]!) >>> 0, 3000, '90 kHz at 30 fps');
	assert.equal(stream.keyFrames, 2);
	// Two seconds of frames carry the target bitrate's payload (within rounding).
	assert.ok(Math.abs((bytes * 8) / 2 - 400_000) < 400_000 * 0.02, `payload bitrate ${(bytes * 8) / 2}`);
	assert.ok(frames[0]!.length > frames[1]!.length, 'a keyframe is larger than an inter frame');
});

test('OpusStream: one 20 ms packet per frame, 960 ticks apart, opus TOC byte', () => {
	const stream = new OpusStream({ payloadSize: 80 });
	const packets = Array.from({ length: 50 }, () => stream.nextFrame());
	assert.ok(packets.every((p) => p.length === 1 && p[0]!.length === 12 + 80));
	assert.equal(packets[0]![0]![1]! & 0x80, 0x80, 'marker on the first packet');
	assert.ok(packets.slice(1).every((p) => (p[0]![1]! & 0x80) === 0));
	for (let i = 1; i < 50; i++) assert.equal((packets[i]![0]!.readUInt32BE(4) - packets[i - 1]![0]!.readUInt32BE(4)) >>> 0, 960);
	assert.equal(packets[0]![0]![12]! >> 3, 31, 'CELT fullband 20 ms');
	assert.deepEqual(stream.rtpParameters().codecs[0], {
		mimeType: 'audio/opus',
		payloadType: 100,
		clockRate: 48000,
		channels: 2,
		rtcpFeedback: []
	});
});

test('RtpReceiveStats counts loss from sequence gaps across a wrap and ignores reordering', () => {
	const stats = new RtpReceiveStats({ remotePort: 1, ssrc: 1 });
	const packet = (seq: number) => {
		const p = Buffer.alloc(20);
		p[0] = 0x80;
		p[1] = 101;
		p.writeUInt16BE(seq, 2);
		return p;
	};
	for (const seq of [65530, 65531, 65533, 65535, 0, 1, 65534, 3]) stats.record(packet(seq), 0);
	assert.equal(stats.expected, 65536 + 3 - 65530 + 1);
	assert.equal(stats.packets, 8);
	assert.equal(stats.lost, 2, '65532 and 2 are missing');
	assert.equal(stats.outOfOrder, 1);
});

test('RTP from RtpStreamSender is produced and consumed by a real mediasoup router into RtpSink', async () => {
	const worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: 43000, rtcMaxPort: 43999 });
	const sink = await RtpSink.create({ sockets: 2 });
	let sender: RtpStreamSender | undefined;
	try {
		assert.ok(sink.recvBufferSize >= 1024 * 1024, `receive buffer ${sink.recvBufferSize}`);
		const { config } = await loadConfig(path.resolve('config/config.example.js'));
		const router = await worker.createRouter({ mediaCodecs: config.mediasoup.router.mediaCodecs as ms.RtpCodecCapability[] });
		const sendTransport = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: true });
		const recvTransport = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: false });
		const sinkAddress = sink.nextAddress();
		await recvTransport.connect({ ip: sinkAddress.ip, port: sinkAddress.port });

		const audio = new OpusStream();
		const video = new Vp8Stream({ bitrate: 300_000, keyFrameIntervalMs: 500 });
		const producers = await Promise.all(
			[audio, video].map((stream) => sendTransport.produce({ kind: stream.kind, rtpParameters: stream.rtpParameters() }))
		);
		const rtpCapabilities = syntheticRtpCapabilities(router.rtpCapabilities);
		const consumers: ms.Consumer[] = [];
		const received: RtpReceiveStats[] = [];
		for (const producer of producers) {
			assert.ok(router.canConsume({ producerId: producer.id, rtpCapabilities }));
			const consumer = await recvTransport.consume({ producerId: producer.id, rtpCapabilities, paused: true });
			consumers.push(consumer);
			received.push(
				sink.watch({
					remotePort: recvTransport.tuple.localPort,
					ssrc: consumer.rtpParameters.encodings![0]!.ssrc!,
					mimeType: consumer.rtpParameters.codecs[0]!.mimeType
				})
			);
			await consumer.resume();
		}

		sender = await RtpStreamSender.create({
			ip: sendTransport.tuple.localIp,
			port: sendTransport.tuple.localPort,
			streams: [audio, video]
		});
		sender.start();
		// comedia: the transport learns our socket as its remote tuple from the first packet.
		await once(sendTransport, 'tuple', { signal: AbortSignal.timeout(5000) });
		assert.equal(sendTransport.tuple.remotePort, sender.localAddress.port);

		const byteCount = async (entity: ms.Producer | ms.Consumer, type: string) =>
			((await entity.getStats()) as { type: string; byteCount: number }[]).find((s) => s.type === type)?.byteCount ?? 0;
		await until(
			'producers to receive bytes',
			async () => (await byteCount(producers[0]!, 'inbound-rtp')) > 2000 && (await byteCount(producers[1]!, 'inbound-rtp')) > 50_000
		);
		await until(
			'consumers to send bytes',
			async () => (await byteCount(consumers[0]!, 'outbound-rtp')) > 2000 && (await byteCount(consumers[1]!, 'outbound-rtp')) > 50_000
		);
		await until('the sink to receive opus and VP8 with two keyframes', () => received[0]!.packets >= 25 && received[1]!.keyFrames >= 2);

		const [audioIn, videoIn] = received as [RtpReceiveStats, RtpReceiveStats];
		assert.equal(audioIn.payloadType, consumers[0]!.rtpParameters.codecs[0]!.payloadType);
		assert.equal(audioIn.mimeType, 'audio/opus');
		assert.equal(videoIn.payloadType, consumers[1]!.rtpParameters.codecs[0]!.payloadType);
		assert.equal(videoIn.mimeType, 'video/VP8');
		assert.ok(videoIn.markers > 0, 'frames end with the marker bit after forwarding');
		// Loopback, a few hundred packets per second, 4 MiB buffers: nothing may be lost.
		assert.equal(audioIn.lost + videoIn.lost, 0);
		assert.equal(sink.totals().packets, audioIn.packets + videoIn.packets);
		assert.ok(sender.totals.packets >= audioIn.packets + videoIn.packets);
		// RTCP both ways: our sender reports reach the producers, the consumers' reach the sink.
		await until(
			'sender reports from both ends',
			() => sender!.streams.every((s) => s.counters.senderReports >= 1) && sink.totals().rtcpPackets > 0
		);
	} finally {
		sender?.close();
		sink.close();
		worker.close();
	}
});

test('RtpStreamSender counts PLIs and NACKs from the transport and close() is idempotent', async () => {
	const receiver = dgram.createSocket('udp4');
	receiver.bind(0, '127.0.0.1');
	await once(receiver, 'listening');
	const stream = new OpusStream();
	const sender = await RtpStreamSender.create({ ip: '127.0.0.1', port: receiver.address().port, streams: [stream] });
	try {
		// A compound RTCP packet: RR (no blocks) + PLI + generic NACK.
		const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 1]);
		const pli = Buffer.from([0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
		const nack = Buffer.from([0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 0]);
		const { ip, port } = sender.localAddress;
		receiver.send(Buffer.concat([rr, pli, nack]), port, ip);
		await until('the feedback to be counted', () => sender.feedback.rtcpPackets === 3);
		assert.deepEqual(sender.feedback, { rtcpPackets: 3, receiverReports: 1, pli: 1, fir: 0, nack: 1 });
		const got: Buffer[] = [];
		receiver.on('message', (m) => got.push(m));
		sender.start();
		await until('a sender report and RTP', () => got.some((m) => m[1] === 200) && got.some((m) => m[1] === 100 || m[1] === 0xe4));
		const report = got.find((m) => m[1] === 200)!;
		assert.equal(report.readUInt32BE(4), stream.ssrc);
	} finally {
		sender.close();
		sender.close();
		assert.ok(sender.closed);
		receiver.close();
	}
});
