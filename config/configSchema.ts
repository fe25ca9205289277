/**
 * The schema of config/config.js. The TypeScript type of the loaded config is derived from it
 * (`Config`), so the schema is the single source of truth for keys, types, ranges and defaults.
 * Every key is documented in config/config.example.js.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type Field<T> = {
	/** Human form of what is expected, used in error messages. */
	readonly expected: string;
	readonly optional?: boolean;
	/** Returns the value (with defaults filled) or pushes errors and returns undefined. */
	check(value: unknown, keyPath: string, errors: string[]): T | undefined;
};

export type Infer<F> = F extends Field<infer T> ? T : never;

function describe(value: unknown): string {
	if (value === undefined) return 'undefined';
	if (value === null) return 'null';
	if (Array.isArray(value)) return `an array of ${value.length}`;
	if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
	if (typeof value === 'object') return 'an object';
	return `${typeof value} ${String(value)}`;
}

function fail(errors: string[], keyPath: string, expected: string, value: unknown): undefined {
	errors.push(`${keyPath || '(root)'}: expected ${expected}, got ${describe(value)}`);
	return undefined;
}

function withDefault<T>(field: Field<T>, def: T | (() => T)): Field<T> {
	return {
		expected: field.expected,
		optional: true,
		check(value, keyPath, errors) {
			if (value === undefined) return typeof def === 'function' ? (def as () => T)() : def;
			return field.check(value, keyPath, errors);
		}
	};
}

type Opts<T> = { default?: T | (() => T) };

export function str(opts: Opts<string> & { pattern?: RegExp; patternText?: string; minLength?: number; maxLength?: number } = {}): Field<string> {
	const min = opts.minLength ?? 0;
	const expected = opts.patternText ?? (min > 0 ? `a non-empty string` : 'a string');
	const field: Field<string> = {
		expected,
		check(value, keyPath, errors) {
			if (typeof value !== 'string' || value.length < min || (opts.maxLength !== undefined && value.length > opts.maxLength) ||
				(opts.pattern && !opts.pattern.test(value))) {
				return fail(errors, keyPath, expected, value);
			}
			return value;
		}
	};
	return opts.default === undefined ? field : withDefault(field, opts.default);
}

export function num(opts: Opts<number> & { min?: number; max?: number; integer?: boolean } = {}): Field<number> {
	const { min = -Infinity, max = Infinity, integer = false } = opts;
	const kind = integer ? 'an integer' : 'a number';
	const expected = Number.isFinite(min) && Number.isFinite(max) ? `${kind} from ${min} to ${max}`
		: Number.isFinite(min) ? `${kind} ≥ ${min}` : Number.isFinite(max) ? `${kind} ≤ ${max}` : kind;
	const field: Field<number> = {
		expected,
		check(value, keyPath, errors) {
			if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
				return fail(errors, keyPath, expected, value);
			}
			return value;
		}
	};
	return opts.default === undefined ? field : withDefault(field, opts.default);
}

export function int(opts: Opts<number> & { min?: number; max?: number } = {}): Field<number> {
	return num({ ...opts, integer: true });
}

export function bool(opts: Opts<boolean> = {}): Field<boolean> {
	const field: Field<boolean> = {
		expected: 'true or false',
		check(value, keyPath, errors) {
			if (typeof value !== 'boolean') return fail(errors, keyPath, 'true or false', value);
			return value;
		}
	};
	return opts.default === undefined ? field : withDefault(field, opts.default);
}

export function oneOf<const V extends readonly string[]>(values: V, opts: Opts<V[number]> = {}): Field<V[number]> {
	const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
	const field: Field<V[number]> = {
		expected,
		check(value, keyPath, errors) {
			if (typeof value !== 'string' || !values.includes(value)) return fail(errors, keyPath, expected, value);
			return value as V[number];
		}
	};
	return opts.default === undefined ? field : withDefault(field, opts.default);
}

export function nullable<T>(inner: Field<T>, opts: Opts<T | null> = {}): Field<T | null> {
	const expected = `${inner.expected} or null`;
	const field: Field<T | null> = {
		expected,
		check(value, keyPath, errors) {
			if (value === null) return null;
			const before = errors.length;
			const checked = inner.check(value, keyPath, errors);
			if (errors.length > before) {
				// An object's own errors name the key inside it that is wrong: keep them.
				if (typeof value === 'object') return undefined;
				errors.splice(before, errors.length - before);
				return fail(errors, keyPath, expected, value);
			}
			return checked;
		}
	};
	return opts.default === undefined ? field : withDefault(field, opts.default);
}

export function arrayOf<T>(item: Field<T>, opts: Opts<T[]> & { minItems?: number; maxItems?: number } = {}): Field<T[]> {
	const min = opts.minItems ?? 0;
	const expected = `an array${min > 0 ? ` of at least ${min}` : ''} of ${item.expected}`;
	const field: Field<T[]> = {
		expected,
		check(value, keyPath, errors) {
			if (!Array.isArray(value) || value.length < min || (opts.maxItems !== undefined && value.length > opts.maxItems)) {
				return fail(errors, keyPath, expected, value);
			}
			const out: T[] = [];
			value.forEach((v, i) => {
				const checked = item.check(v, `${keyPath}[${i}]`, errors);
				if (checked !== undefined) out.push(checked);
			});
			return out;
		}
	};
	return opts.default === undefined ? field : withDefault(field, opts.default);
}

/** A map from keys matching `keyPattern` to values of `value` (e.g. user names to password hashes). */
export function recordOf<T>(value: Field<T>, opts: Opts<Record<string, T>> & { keyPattern: RegExp; keyText: string }): Field<Record<string, T>> {
	const expected = `an object mapping ${opts.keyText} to ${value.expected}`;
	const field: Field<Record<string, T>> = {
		expected,
		check(input, keyPath, errors) {
			if (typeof input !== 'object' || input === null || Array.isArray(input)) return fail(errors, keyPath, expected, input);
			const out: Record<string, T> = {};
			for (const [key, v] of Object.entries(input)) {
				if (!opts.keyPattern.test(key)) {
					errors.push(`${keyPath}: key ${JSON.stringify(key)} is not ${opts.keyText}`);
					continue;
				}
				const checked = value.check(v, `${keyPath}.${key}`, errors);
				if (checked !== undefined) out[key] = checked;
			}
			return out;
		}
	};
	return opts.default === undefined ? field : withDefault(field, opts.default);
}

type Shape = Record<string, Field<unknown>>;
export type ObjectOf<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

/**
 * An object with exactly the given keys: an unknown key is an error (a typo must not pass silently).
 * `passthrough` keeps extra keys (for structures mediasoup validates itself, e.g. codecs).
 */
export function obj<S extends Shape>(shape: S, opts: { passthrough?: boolean } = {}): Field<ObjectOf<S>> & { optional: boolean } {
	const required = Object.entries(shape).filter(([, f]) => !f.optional).map(([k]) => k);
	const expected = `an object with keys ${Object.keys(shape).join(', ')}`;
	return {
		expected,
		// An object whose every key has a default may be left out entirely.
		optional: required.length === 0,
		check(value, keyPath, errors) {
			if (value === undefined && required.length === 0) value = {};
			if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(errors, keyPath, 'an object', value);
			const input = value as Record<string, unknown>;
			const out: Record<string, unknown> = opts.passthrough ? { ...input } : {};
			for (const key of Object.keys(input)) {
				if (!(key in shape) && !opts.passthrough) {
					errors.push(`${keyPath ? `${keyPath}.` : ''}${key}: unknown key (known keys here: ${Object.keys(shape).join(', ')})`);
				}
			}
			for (const [key, f] of Object.entries(shape)) {
				const sub = keyPath ? `${keyPath}.${key}` : key;
				const v = Object.prototype.hasOwnProperty.call(input, key) ? input[key] : undefined;
				if (v === undefined && !f.optional) {
					errors.push(`${sub}: missing; expected ${f.expected}`);
					continue;
				}
				const checked = f.check(v, sub, errors);
				if (checked !== undefined) out[key] = checked;
			}
			return out as ObjectOf<S>;
		}
	};
}

const ipAddress = str({ pattern: /^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$/, patternText: 'an IPv4 or IPv6 address' });

/** An IPv4 or IPv6 network in CIDR form ("10.0.0.0/8", "2001:db8::/32"); a bare address is one host. */
const cidrText = 'an IPv4 or IPv6 CIDR such as "10.0.0.5/32" or "2001:db8::/32"';
const cidr: Field<string> = {
	expected: cidrText,
	check(value, keyPath, errors) {
		const [address = '', prefix, ...rest] = typeof value === 'string' ? value.split('/') : [];
		const family = net.isIP(address);
		const bits = prefix === undefined ? (family === 6 ? 128 : 32) : /^[0-9]{1,3}$/.test(prefix) ? Number(prefix) : NaN;
		if (family === 0 || rest.length > 0 || !(bits >= 0 && bits <= (family === 6 ? 128 : 32))) return fail(errors, keyPath, cidrText, value);
		return value as string;
	}
};

/** A bcrypt hash as `htpasswd -B` or scripts/hash-password print it. */
const bcryptHash = str({ pattern: /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/, patternText: 'a bcrypt hash ("$2b$10$…", see scripts/hash-password)' });

const mediaCodec = obj({
	kind: oneOf(['audio', 'video'] as const),
	mimeType: str({ pattern: /^(audio|video)\/[A-Za-z0-9-]+$/, patternText: 'a MIME type such as "video/VP8"' }),
	clockRate: int({ min: 1 }),
	channels: int({ min: 1, max: 8, default: 1 })
}, { passthrough: true });

/** Histogram bucket upper bounds: finite, strictly ascending (Prometheus adds +Inf itself). */
function bucketList(def: number[]): Field<number[]> {
	const list = arrayOf(num({ min: 0 }), { minItems: 1, maxItems: 100 });
	const expected = 'a non-empty, strictly ascending array of numbers ≥ 0';
	return withDefault({
		expected,
		check(value, keyPath, errors) {
			const before = errors.length;
			const checked = list.check(value, keyPath, errors);
			if (checked === undefined || errors.length > before) return undefined;
			if (checked.some((v, i) => i > 0 && v <= checked[i - 1]!)) return fail(errors, keyPath, expected, value);
			return checked;
		}
	}, () => [...def]);
}

/** A WebRtcServer on any free UDP and TCP port of the worker's range: for tests and tools running side by side. */
export function webRtcServerOnAnyPort(ip = '127.0.0.1'): NonNullable<Config['mediasoup']['webRtcServer']> {
	return { listenInfos: (['udp', 'tcp'] as const).map((protocol) => ({ protocol, ip, announcedIp: null, port: 0 })) };
}

export const defaultSocketPath = (): string =>
	path.join(os.tmpdir(), `meter-sfu-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`, 'observer.sock');

export const configSchema = obj({
	/** HTTP server for the app and socket.io signalling. */
	listen: obj({
		ip: ipAddress,
		port: int({ min: 0, max: 65535 })
	}),
	mediasoup: obj({
		numWorkers: int({ min: 1, max: 256, default: () => os.availableParallelism() }),
		worker: obj({
			logLevel: oneOf(['debug', 'warn', 'error', 'none'] as const, { default: 'warn' }),
			logTags: arrayOf(oneOf(['info', 'ice', 'dtls', 'rtp', 'srtp', 'rtcp', 'rtx', 'bwe', 'score', 'simulcast', 'svc', 'sctp', 'message'] as const), { default: [] }),
			rtcMinPort: int({ min: 1024, max: 65535, default: 41000 }),
			rtcMaxPort: int({ min: 1024, max: 65535, default: 49999 })
		}),
		/** One WebRtcServer per worker (worker i on port + i); null: a port per WebRTC transport, from rtcMinPort..rtcMaxPort. */
		webRtcServer: nullable(obj({
			listenInfos: arrayOf(obj({
				protocol: oneOf(['udp', 'tcp'] as const),
				ip: ipAddress,
				announcedIp: nullable(ipAddress, { default: null }),
				port: int({ min: 0, max: 65535 })
			}), { minItems: 1 })
		}), { default: () => ({ listenInfos: [
			{ protocol: 'udp' as const, ip: '127.0.0.1', announcedIp: null, port: 40000 },
			{ protocol: 'tcp' as const, ip: '127.0.0.1', announcedIp: null, port: 40000 }
		] }) }),
		router: obj({
			mediaCodecs: arrayOf(mediaCodec, { minItems: 1 })
		}),
		webRtcTransport: obj({
			listenIps: arrayOf(obj({ ip: ipAddress, announcedIp: nullable(ipAddress, { default: null }) }), { minItems: 1 }),
			enableUdp: bool({ default: true }),
			enableTcp: bool({ default: true }),
			preferUdp: bool({ default: true }),
			initialAvailableOutgoingBitrate: int({ min: 100_000, default: 1_000_000 }),
			maxIncomingBitrate: nullable(int({ min: 100_000 }), { default: 1_500_000 })
		})
	}),
	room: obj({
		maxPeers: int({ min: 1, max: 10_000, default: 50 }),
		emptyRoomGraceSeconds: num({ min: 0, max: 3600, default: 10 }),
		maxRoomIdLength: int({ min: 1, max: 256, default: 64 }),
		maxDisplayNameLength: int({ min: 1, max: 1024, default: 64 })
	}),
	/** socket.io signalling (server/signalling). */
	signalling: obj({
		maxMessageBytes: int({ min: 4096, max: 16 * 1024 * 1024, default: 65536 }),
		/** Per-socket token bucket over every inbound message; beyond it requests get RateLimitError. */
		rateLimit: obj({
			requestsPerSecond: num({ min: 0.1, max: 1_000_000, default: 50 }),
			burst: int({ min: 1, max: 1_000_000, default: 200 })
		})
	}),
	/** Synthetic peers: RTP over PlainTransports, for load tests from this machine. */
	syntheticPeers: obj({
		enabled: bool({ default: false })
	}),
	/** Observer stream on a Unix domain socket (mode 0600, in a directory only this user can write). */
	observer: obj({
		socketPath: str({ minLength: 1, default: defaultSocketPath }),
		maxClientBacklogBytes: int({ min: 65_536, max: 1_073_741_824, default: 8 * 1024 * 1024 })
	}),
	prometheus: obj({
		enabled: bool({ default: true }),
		listen: ipAddress,
		port: int({ min: 0, max: 65535, default: 8889 }),
		deidentify: bool({ default: false }),
		numeric: bool({ default: false }),
		quiet: bool({ default: false }),
		personalLabels: bool({ default: false }),
		perObjectMetrics: bool({ default: true }),
		scrapeTimeoutMs: int({ min: 100, max: 120_000, default: 5000 }),
		statsConcurrency: int({ min: 1, max: 10_000, default: 256 }),
		/** Access to every page on the metrics port (server/exporter/http). Basic auth or a bearer token, not both. */
		basicAuthUsers: recordOf(bcryptHash, { keyPattern: /^[^:\u0000-\u001f]{1,128}$/, keyText: 'a user name (no colon)', default: () => ({}) }),
		bearerToken: nullable(str({ minLength: 16, maxLength: 4096 }), { default: null }),
		bearerTokenFile: nullable(str({ minLength: 1 }), { default: null }),
		tls: obj({
			certFile: nullable(str({ minLength: 1 }), { default: null }),
			keyFile: nullable(str({ minLength: 1 }), { default: null }),
			clientCaFile: nullable(str({ minLength: 1 }), { default: null })
		}),
		allowFrom: arrayOf(cidr, { default: [] }),
		buckets: obj({
			roomPeers: bucketList([1, 2, 3, 4, 5, 10, 20, 50, 100, 200]),
			roomSenders: bucketList([0, 1, 2, 3, 4, 5, 10, 20, 50]),
			score: bucketList([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
		})
	})
});

export type Config = Infer<typeof configSchema>;

export class ConfigError extends Error {
	readonly problems: string[];

	constructor(source: string, problems: string[]) {
		super(`invalid configuration in ${source}:\n  ${problems.join('\n  ')}`);
		this.name = 'ConfigError';
		this.problems = problems;
	}
}

/** Validates raw config (as exported by config.js) and returns it with defaults filled. */
export function validateConfig(raw: unknown, source = 'config'): Config {
	const errors: string[] = [];
	const config = configSchema.check(raw, '', errors);
	// With errors elsewhere, blocks may be missing from `config`: compare only ports that are there.
	const ports = config?.mediasoup?.worker as Partial<Config['mediasoup']['worker']> | undefined;
	if (typeof ports?.rtcMinPort === 'number' && typeof ports.rtcMaxPort === 'number' && ports.rtcMinPort > ports.rtcMaxPort) {
		errors.push(`mediasoup.worker.rtcMinPort: expected ≤ mediasoup.worker.rtcMaxPort (${ports.rtcMaxPort}), got ${ports.rtcMinPort}`);
	}
	const mediasoup = config?.mediasoup as Partial<Config['mediasoup']> | undefined;
	for (const [i, info] of (mediasoup?.webRtcServer?.listenInfos ?? []).entries()) {
		const last = info.port + (mediasoup?.numWorkers ?? 1) - 1;
		if (info.port === 0) continue;
		if (last > 65535) errors.push(`mediasoup.webRtcServer.listenInfos[${i}].port: expected a port that leaves one for each of the ${mediasoup?.numWorkers} workers (≤ 65535), got ${info.port}`);
		else if (ports && typeof ports.rtcMinPort === 'number' && typeof ports.rtcMaxPort === 'number' && info.port <= ports.rtcMaxPort && last >= ports.rtcMinPort) {
			errors.push(`mediasoup.webRtcServer.listenInfos[${i}].port: expected ports ${info.port}-${last} (one per worker) outside mediasoup.worker.rtcMinPort..rtcMaxPort (${ports.rtcMinPort}-${ports.rtcMaxPort})`);
		}
	}
	const metrics = config?.prometheus as Partial<Config['prometheus']> | undefined;
	if (metrics) {
		const schemes = [Object.keys(metrics.basicAuthUsers ?? {}).length > 0 && 'basicAuthUsers', metrics.bearerToken && 'bearerToken',
			metrics.bearerTokenFile && 'bearerTokenFile'].filter(Boolean);
		if (schemes.length > 1) errors.push(`prometheus: ${schemes.join(' and ')} exclude each other (one way to authenticate)`);
		const tls = metrics.tls;
		if (tls && (tls.certFile === null) !== (tls.keyFile === null)) errors.push('prometheus.tls: certFile and keyFile go together');
		if (tls && tls.clientCaFile !== null && tls.certFile === null) errors.push('prometheus.tls.clientCaFile: needs certFile and keyFile (client certificates need TLS)');
	}
	if (errors.length > 0 || !config) throw new ConfigError(source, errors);
	return config;
}
