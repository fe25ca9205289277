/**
 * Real mediasoup objects for the observer and stream tests: a worker pool, an SfuObserver and an
 * ObserverStreamServer on a socket in a fresh 0700 temp dir, plus hand-made RTP parameters.
 * Entry points must import '../server/workerBinary.js' before this module.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { types as ms } from 'mediasoup';
import { WorkerPool } from '../../server/sfu/WorkerPool.js';
import { SfuObserver } from '../../server/observer/SfuObserver.js';
import { ObserverRequestHandler } from '../../server/stream/ObserverRequestHandler.js';
import { ObserverStreamServer } from '../../server/stream/ObserverStreamServer.js';
import type { ObservedMeetingServer } from '../../server/observer/ObservedSources.js';

export const mediaCodecs: ms.RtpCodecCapability[] = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }
];

export const workerSettings = { logLevel: 'warn' as const, logTags: [], rtcMinPort: 42000, rtcMaxPort: 42999 };

export function tempDir(prefix = 'msfu-obs-'): string {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	fs.chmodSync(dir, 0o700);
	return dir;
}

export type ObserverStack = {
	dir: string;
	socketPath: string;
	pool: WorkerPool;
	sfuObserver: SfuObserver;
	stream: ObserverStreamServer;
	close(): Promise<void>;
};

export async function startObserverStack({
	numWorkers = 1,
	maxClientBacklogBytes,
	meetingServer
}: {
	numWorkers?: number;
	maxClientBacklogBytes?: number;
	meetingServer?: ObservedMeetingServer;
} = {}): Promise<ObserverStack> {
	const dir = tempDir();
	const socketPath = path.join(dir, 'observer.sock');
	const pool = await WorkerPool.create({ numWorkers, settings: workerSettings });
	const sfuObserver = new SfuObserver({ workerPool: pool, meetingServer });
	const stream = await ObserverStreamServer.create({
		socketPath,
		sfuObserver,
		requestHandler: new ObserverRequestHandler({ sfuObserver }),
		maxClientBacklogBytes
	});
	const stack: ObserverStack = {
		dir,
		socketPath,
		pool,
		sfuObserver,
		stream,
		async close() {
			// stack.stream, not stream: a test may have replaced it.
			await stack.stream.close();
			sfuObserver.close();
			// A worker a test closed itself emits no second close.
			const closed = pool.workers
				.filter((w) => !w.closed)
				.map((w) => new Promise<void>((resolve) => w.observer.once('close', () => resolve())));
			pool.close();
			await Promise.all(closed);
			fs.rmSync(dir, { recursive: true, force: true });
		}
	};
	return stack;
}

export function rtpParameters(kind: 'audio' | 'video', ssrc: number): ms.RtpParameters {
	return kind === 'audio'
		? {
				codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
				encodings: [{ ssrc }]
			}
		: {
				codecs: [
					{
						mimeType: 'video/VP8',
						payloadType: 101,
						clockRate: 90000,
						parameters: {},
						rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }]
					}
				],
				encodings: [{ ssrc }]
			};
}

let nextSsrc = 1111;

export async function produce(
	transport: ms.Transport,
	kind: 'audio' | 'video',
	appData: Record<string, unknown> = {}
): Promise<ms.Producer> {
	return transport.produce({ kind, rtpParameters: rtpParameters(kind, nextSsrc++), appData });
}

export async function consume(
	transport: ms.Transport,
	router: ms.Router,
	producer: ms.Producer,
	appData: Record<string, unknown> = {}
): Promise<ms.Consumer> {
	return transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true, appData });
}

export async function webRtcTransport(router: ms.Router, appData: Record<string, unknown> = {}): Promise<ms.WebRtcTransport> {
	return router.createWebRtcTransport({ listenIps: [{ ip: '127.0.0.1' }], enableUdp: true, enableTcp: false, appData });
}

export async function plainTransport(router: ms.Router, appData: Record<string, unknown> = {}): Promise<ms.PlainTransport> {
	return router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: true, appData });
}
