import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { validateConfig, webRtcServerOnAnyPort, type Config } from '../../config/configSchema.js';
import { Server } from '../../server/Server.js';
import type { RtpParameters } from '../../server/contract/signalling.js';

type Overrides = { [K in keyof Config]?: Partial<Config[K]> };

/** The example config, validated, on free ports and a private observer socket, with `overrides` merged per block. */
export async function testConfig(dir: string, overrides: Overrides = {}): Promise<Config> {
	const example = pathToFileURL(path.resolve('config/config.example.js')).href;
	const base = ((await import(example)) as { default: Record<string, Record<string, unknown>> }).default;
	const raw: Record<string, unknown> = { ...base };
	const blocks: Record<string, Record<string, unknown>> = {
		listen: { ip: '127.0.0.1', port: 0 },
		mediasoup: { numWorkers: 1, webRtcServer: webRtcServerOnAnyPort() },
		prometheus: { port: 0 },
		observer: { socketPath: path.join(dir, 'observer.sock') }
	};
	for (const [key, value] of Object.entries(overrides)) blocks[key] = { ...blocks[key], ...(value as Record<string, unknown>) };
	for (const [key, value] of Object.entries(blocks)) raw[key] = { ...base[key], ...value };
	return validateConfig(raw, 'test config');
}

export type TestServer = { server: Server; url: string; close(): Promise<void> };

/** A real Server (workers, app HTTP server, signalling) on port 0; `close()` tears it all down. */
export async function startTestServer(overrides: Overrides = {}): Promise<TestServer> {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-sig-'));
	fs.chmodSync(dir, 0o700);
	const server = await Server.create({ config: await testConfig(dir, overrides) });
	return {
		server,
		url: server.appUrl,
		async close() {
			await server.close();
			fs.rmSync(dir, { recursive: true, force: true });
		}
	};
}

/** Hand-made RTP parameters, as a browser would send them (no DTLS is needed to produce). */
export function opusParameters(ssrc = 11111111): RtpParameters {
	return {
		mid: '0',
		codecs: [
			{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [] }
		],
		headerExtensions: [],
		encodings: [{ ssrc }],
		rtcp: { cname: 'test-audio', reducedSize: true }
	};
}

export function vp8Parameters(ssrc = 22222222): RtpParameters {
	return {
		mid: '1',
		codecs: [
			{
				mimeType: 'video/VP8',
				payloadType: 96,
				clockRate: 90000,
				parameters: {},
				rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }]
			}
		],
		headerExtensions: [],
		encodings: [{ ssrc }],
		rtcp: { cname: 'test-video', reducedSize: true }
	};
}

/** Three simulcast encodings told apart by ssrc. */
export function vp8SimulcastParameters(firstSsrc = 33333330): RtpParameters {
	const params = vp8Parameters(firstSsrc);
	params.encodings = [0, 1, 2].map((i) => ({ ssrc: firstSsrc + i, maxBitrate: 100_000 * 3 ** i }));
	return params;
}
