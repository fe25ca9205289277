/**
 * The schema of config/config.js (Zod). The TypeScript type of the loaded config is inferred from
 * it (`Config`), so the schema is the single source of truth for keys, types, ranges and defaults.
 * Objects are strict: a typo must not pass silently. Every key is documented in config/config.example.js.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { validate, whenValid } from '../server/contract/schemaIssues.js';

/** A string matching `pattern`; `description` is the expected form that messages name. */
const matching = (pattern: RegExp, description: string) => z.string().regex(pattern).describe(description);

const port = z.int().min(0).max(65535);
const ipAddress = matching(/^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$/, 'an IPv4 or IPv6 address');
const filePath = z.string().min(1).nullable().default(null);

/** An IPv4 or IPv6 network in CIDR form ("10.0.0.0/8", "2001:db8::/32"); a bare address is one host. */
const cidr = z
	.stringFormat('cidr', (value) => {
		const [address = '', prefix, ...rest] = value.split('/');
		const family = net.isIP(address);
		const bits = prefix === undefined ? (family === 6 ? 128 : 32) : /^[0-9]{1,3}$/.test(prefix) ? Number(prefix) : NaN;
		return family !== 0 && rest.length === 0 && bits >= 0 && bits <= (family === 6 ? 128 : 32);
	})
	.describe('an IPv4 or IPv6 CIDR such as "10.0.0.5/32" or "2001:db8::/32"');

/** A bcrypt hash as `htpasswd -B` or scripts/hash-password print it. */
const bcryptHash = matching(
	/^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/,
	'a bcrypt hash ("$2b$10$…", see scripts/hash-password)'
);
const userName = matching(/^[^:\u0000-\u001f]{1,128}$/, 'a user name (no colon)');

/** Extra keys pass: mediasoup validates codecs itself (preferredPayloadType, parameters, …). */
const mediaCodec = z.looseObject({
	kind: z.enum(['audio', 'video']),
	mimeType: matching(/^(audio|video)\/[A-Za-z0-9-]+$/, 'a MIME type such as "video/VP8"'),
	clockRate: z.int().min(1),
	channels: z.int().min(1).max(8).default(1)
});

/** Histogram bucket upper bounds: finite, strictly ascending (Prometheus adds +Inf itself). */
const bucketList = (bounds: number[]) =>
	z
		.array(z.number().min(0))
		.min(1)
		.max(100)
		.refine((list) => list.every((v, i) => i === 0 || v > list[i - 1]!), {
			error: (issue) => `expected strictly ascending bounds, got ${JSON.stringify(issue.input)}`
		})
		.default(() => [...bounds]);

const worker = z
	.strictObject({
		logLevel: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
		logTags: z
			.array(z.enum(['info', 'ice', 'dtls', 'rtp', 'srtp', 'rtcp', 'rtx', 'bwe', 'score', 'simulcast', 'svc', 'sctp', 'message']))
			.default([]),
		rtcMinPort: z.int().min(1024).max(65535).default(41000),
		rtcMaxPort: z.int().min(1024).max(65535).default(49999)
	})
	.superRefine(
		({ rtcMinPort, rtcMaxPort }, ctx) => {
			if (rtcMinPort > rtcMaxPort) {
				ctx.addIssue({
					code: 'custom',
					path: ['rtcMinPort'],
					message: `expected ≤ mediasoup.worker.rtcMaxPort (${rtcMaxPort}), got ${rtcMinPort}`
				});
			}
		},
		whenValid('rtcMinPort', 'rtcMaxPort')
	);

const mediasoup = z
	.strictObject({
		numWorkers: z
			.int()
			.min(1)
			.max(256)
			.default(() => os.availableParallelism()),
		worker: worker.prefault({}),
		/** One WebRtcServer per worker (worker i on port + i); null: a port per WebRTC transport, from rtcMinPort..rtcMaxPort. */
		webRtcServer: z
			.strictObject({
				listenInfos: z
					.array(
						z.strictObject({
							protocol: z.enum(['udp', 'tcp']),
							ip: ipAddress,
							announcedIp: ipAddress.nullable().default(null),
							port
						})
					)
					.min(1)
			})
			.nullable()
			.default(() => ({
				listenInfos: [
					{ protocol: 'udp' as const, ip: '127.0.0.1', announcedIp: null, port: 40000 },
					{ protocol: 'tcp' as const, ip: '127.0.0.1', announcedIp: null, port: 40000 }
				]
			})),
		router: z.strictObject({
			mediaCodecs: z.array(mediaCodec).min(1)
		}),
		webRtcTransport: z.strictObject({
			listenIps: z.array(z.strictObject({ ip: ipAddress, announcedIp: ipAddress.nullable().default(null) })).min(1),
			enableUdp: z.boolean().default(true),
			enableTcp: z.boolean().default(true),
			preferUdp: z.boolean().default(true),
			initialAvailableOutgoingBitrate: z.int().min(100_000).default(1_000_000),
			maxIncomingBitrate: z.int().min(100_000).nullable().default(1_500_000)
		})
	})
	.superRefine(
		({ numWorkers, worker: { rtcMinPort, rtcMaxPort }, webRtcServer }, ctx) => {
			// Each WebRtcServer port is taken once per worker: ports port..port+numWorkers-1.
			for (const [i, { port: first }] of (webRtcServer?.listenInfos ?? []).entries()) {
				const last = first + numWorkers - 1;
				const at = ['webRtcServer', 'listenInfos', i, 'port'];
				if (first === 0) continue;
				if (last > 65535) {
					ctx.addIssue({
						code: 'custom',
						path: at,
						message: `expected a port that leaves one for each of the ${numWorkers} workers (≤ 65535), got ${first}`
					});
				} else if (first <= rtcMaxPort && last >= rtcMinPort) {
					ctx.addIssue({
						code: 'custom',
						path: at,
						message: `expected ports ${first}-${last} (one per worker) outside mediasoup.worker.rtcMinPort..rtcMaxPort (${rtcMinPort}-${rtcMaxPort})`
					});
				}
			}
		},
		whenValid('numWorkers', 'worker', 'webRtcServer')
	);

const prometheus = z
	.strictObject({
		enabled: z.boolean().default(true),
		listen: ipAddress,
		port: port.default(8889),
		deidentify: z.boolean().default(false),
		numeric: z.boolean().default(false),
		quiet: z.boolean().default(false),
		personalLabels: z.boolean().default(false),
		perObjectMetrics: z.boolean().default(true),
		scrapeTimeoutMs: z.int().min(100).max(120_000).default(5000),
		statsConcurrency: z.int().min(1).max(10_000).default(256),
		/** Access to every page on the metrics port (server/exporter/http). Basic auth or a bearer token, not both. */
		basicAuthUsers: z
			.record(userName, bcryptHash)
			.describe(`an object mapping ${userName.description} to ${bcryptHash.description}`)
			.default(() => ({})),
		bearerToken: z.string().min(16).max(4096).nullable().default(null),
		bearerTokenFile: filePath,
		tls: z
			.strictObject({
				certFile: filePath,
				keyFile: filePath,
				clientCaFile: filePath
			})
			.superRefine(({ certFile, keyFile, clientCaFile }, ctx) => {
				if ((certFile === null) !== (keyFile === null)) {
					ctx.addIssue({ code: 'custom', message: 'certFile and keyFile go together' });
				}
				if (clientCaFile !== null && certFile === null) {
					ctx.addIssue({
						code: 'custom',
						path: ['clientCaFile'],
						message: 'needs certFile and keyFile (client certificates need TLS)'
					});
				}
			})
			.prefault({}),
		allowFrom: z.array(cidr).default([]),
		buckets: z
			.strictObject({
				roomPeers: bucketList([1, 2, 3, 4, 5, 10, 20, 50, 100, 200]),
				roomSenders: bucketList([0, 1, 2, 3, 4, 5, 10, 20, 50]),
				score: bucketList([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
			})
			.prefault({})
	})
	.superRefine(
		({ basicAuthUsers, bearerToken, bearerTokenFile }, ctx) => {
			const schemes = [
				Object.keys(basicAuthUsers).length > 0 && 'basicAuthUsers',
				bearerToken && 'bearerToken',
				bearerTokenFile && 'bearerTokenFile'
			].filter(Boolean);
			if (schemes.length > 1) {
				ctx.addIssue({ code: 'custom', message: `${schemes.join(' and ')} exclude each other (one way to authenticate)` });
			}
		},
		whenValid('basicAuthUsers', 'bearerToken', 'bearerTokenFile')
	);

export const defaultSocketPath = (): string =>
	path.join(os.tmpdir(), `meter-sfu-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`, 'observer.sock');

export const configSchema = z.strictObject({
	/** HTTP server for the app and socket.io signalling. */
	listen: z.strictObject({ ip: ipAddress, port }),
	mediasoup,
	room: z
		.strictObject({
			maxPeers: z.int().min(1).max(10_000).default(50),
			emptyRoomGraceSeconds: z.number().min(0).max(3600).default(10),
			maxRoomIdLength: z.int().min(1).max(256).default(64),
			maxDisplayNameLength: z.int().min(1).max(1024).default(64)
		})
		.prefault({}),
	/** socket.io signalling (server/signalling). */
	signalling: z
		.strictObject({
			maxMessageBytes: z
				.int()
				.min(4096)
				.max(16 * 1024 * 1024)
				.default(65536),
			/** Per-socket token bucket over every inbound message; beyond it requests get RateLimitError. */
			rateLimit: z
				.strictObject({
					requestsPerSecond: z.number().min(0.1).max(1_000_000).default(50),
					burst: z.int().min(1).max(1_000_000).default(200)
				})
				.prefault({})
		})
		.prefault({}),
	/** Synthetic peers: RTP over PlainTransports, for load tests from this machine. */
	syntheticPeers: z
		.strictObject({
			enabled: z.boolean().default(false)
		})
		.prefault({}),
	/** Observer stream on a Unix domain socket (mode 0600, in a directory only this user can write). */
	observer: z
		.strictObject({
			socketPath: z.string().min(1).default(defaultSocketPath),
			maxClientBacklogBytes: z
				.int()
				.min(65_536)
				.max(1_073_741_824)
				.default(8 * 1024 * 1024)
		})
		.prefault({}),
	prometheus
});

export type Config = z.output<typeof configSchema>;

/** A WebRtcServer on any free UDP and TCP port of the worker's range: for tests and tools running side by side. */
export function webRtcServerOnAnyPort(ip = '127.0.0.1'): NonNullable<Config['mediasoup']['webRtcServer']> {
	return { listenInfos: (['udp', 'tcp'] as const).map((protocol) => ({ protocol, ip, announcedIp: null, port: 0 })) };
}

export class ConfigError extends Error {
	readonly problems: string[];

	constructor(source: string, problems: string[]) {
		super(`invalid configuration in ${source}:\n  ${problems.join('\n  ')}`);
		this.name = 'ConfigError';
		this.problems = problems;
	}
}

/** Validates raw config (as exported by config.js) and returns it with defaults filled; a ConfigError lists every problem. */
export function validateConfig(raw: unknown, source = 'config'): Config {
	const result = validate(configSchema, raw, { root: '', members: 'keys' });
	if (!result.ok) throw new ConfigError(source, result.problems);
	return result.value;
}
