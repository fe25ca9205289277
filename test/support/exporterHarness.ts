import dgram from 'node:dgram';
import { once } from 'node:events';
import type { types as ms } from 'mediasoup';
import { ObserverStreamClient } from '../../server/stream/ObserverStreamClient.js';
import { Exporter } from '../../server/exporter/Exporter.js';
import type { ReverseDnsCache } from '../../server/exporter/labels/ReverseDnsCache.js';
import type { ExporterOptions } from '../../server/exporter/ExporterOptions.js';
import type { ObserverSource } from '../../server/exporter/snapshot/ObserverSource.js';
import type { RequestMethod, Requests } from '../../server/stream/protocol.js';
import { startObserverStack, mediaCodecs, type ObserverStack } from './observerFixtures.js';
import { testConfig } from './signallingServer.js';
import { parseExposition, type Exposition } from './exposition.js';

/**
 * The exporter against real mediasoup objects behind the real observer stream, for
 * test/exporter-media.test.ts and test/exporter-options.test.ts: routers, transports, producers
 * and consumers are made by hand (no meeting server, so no rooms or peers) and fed hand-made RTP
 * over UDP, so every value can be checked against mediasoup's own getStats().
 * Entry points must import '../server/workerBinary.js' before this module.
 */

export const RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
export const RID_EXTENSION_ID = 10;

export type Harness = {
	stack: ObserverStack;
	client: ObserverStreamClient;
	exporter: Exporter;
	scrape(openMetrics?: boolean): Promise<Exposition>;
};

export async function withExporter(
	options: Partial<ExporterOptions>,
	body: (h: Harness) => Promise<void>,
	{ dns, source }: { dns?: ReverseDnsCache; source?: (client: ObserverStreamClient) => ObserverSource } = {}
): Promise<void> {
	const stack = await startObserverStack();
	const client = new ObserverStreamClient({ socketPath: stack.socketPath });
	let exporter: Exporter | undefined;
	try {
		await client.connect();
		const config = await testConfig(stack.dir, { prometheus: { numeric: true, ...options } });
		exporter = new Exporter({ source: source?.(client) ?? client, options: config.prometheus, dns });
		const e = exporter;
		await body({
			stack,
			client,
			exporter: e,
			scrape: async (openMetrics = false) => parseExposition(Buffer.concat((await e.scrape({ openMetrics })).chunks).toString())
		});
	} finally {
		exporter?.close();
		client.close();
		await stack.close();
	}
}

export async function router(stack: ObserverStack, roomId: string): Promise<ms.Router> {
	return stack.pool.leastLoadedWorker().createRouter({ mediaCodecs, appData: { roomId } });
}

export async function sendTransport(r: ms.Router, roomId: string, peerId: string, ip = '127.0.0.1'): Promise<ms.PlainTransport> {
	return r.createPlainTransport({ listenIp: { ip }, rtcpMux: true, comedia: true, appData: { roomId, peerId, direction: 'send' } });
}

/** One RTP packet; with `rid`, a one-byte header extension (RFC 8285) carries it. */
export function rtpPacket({
	payloadType,
	ssrc,
	seq,
	timestamp,
	payloadSize,
	rid
}: {
	payloadType: number;
	ssrc: number;
	seq: number;
	timestamp: number;
	payloadSize: number;
	rid?: string;
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

export async function udpTo(transport: ms.PlainTransport): Promise<dgram.Socket> {
	const socket = dgram.createSocket('udp4');
	socket.bind(0, transport.tuple.localIp);
	await once(socket, 'listening');
	socket.connect(transport.tuple.localPort, transport.tuple.localIp);
	await once(socket, 'connect');
	return socket;
}

export async function inboundStats(producer: ms.Producer): Promise<ms.ProducerStat[]> {
	return (await producer.getStats()).filter((s) => s.type === 'inbound-rtp');
}

export type GetStatsAnswer = Requests['getStats']['result'];
export type GetStatsParams = Requests['getStats']['params'];

/**
 * The real stream client as the exporter's source, with each request run through `around`, which
 * asks with `ask()` (its params changed by `patch` if given): to watch requests, hold answers
 * back, change the world between them, or ask in another form.
 */
export function aroundRequests(
	client: ObserverStreamClient,
	around: (method: RequestMethod, ask: (patch?: object) => Promise<unknown>, params: object) => Promise<unknown>
): ObserverSource {
	return {
		get state() {
			return client.state;
		},
		get seq() {
			return client.seq;
		},
		get connected() {
			return client.connected;
		},
		get hello() {
			return client.hello;
		},
		request: ((method: RequestMethod, params: object, options?: { timeoutMs?: number }) =>
			around(
				method,
				(patch) => client.request(method, { ...params, ...patch } as never, options),
				params
			)) as ObserverSource['request']
	};
}

/** As aroundRequests, for getStats requests only (`params` as asked, before any patch); the others pass through. */
export function aroundGetStats(
	client: ObserverStreamClient,
	around: (ask: (patch?: Partial<GetStatsParams>) => Promise<GetStatsAnswer>, params: GetStatsParams) => Promise<GetStatsAnswer>
): ObserverSource {
	return aroundRequests(client, (method, ask, params) =>
		method === 'getStats' ? around((patch) => ask(patch) as Promise<GetStatsAnswer>, params as GetStatsParams) : ask()
	);
}

export async function scrapeOf(exporter: Exporter): Promise<Exposition> {
	return parseExposition(Buffer.concat((await exporter.scrape()).chunks).toString());
}
