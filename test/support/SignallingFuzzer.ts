import type { RequestMethod, RtpCapabilities } from '../../server/contract/signalling.js';
import type { SeededRandom } from '../../tools/random/SeededRandom.js';
import { opusParameters, vp8Parameters } from './signallingServer.js';

/** What one fuzzing socket does next. */
export type FuzzAction =
	/** A request with an ack: the server must answer it. */
	| { type: 'request'; message: unknown; label: string }
	/** A request without an ack (or with a non-function "ack"): the server must ignore it. */
	| { type: 'noAck'; message: unknown; extra: unknown[]; label: string }
	/** Any other event name: ignored. */
	| { type: 'event'; event: string; args: unknown[]; label: string }
	/** A 'request' emit (these arguments, then an ack) over maxMessageBytes: the server closes the connection. */
	| { type: 'oversize'; args: unknown[]; label: string }
	/** A raw engine.io message that is not a valid socket.io packet: the server closes the connection. */
	| { type: 'rawFrame'; frame: string; label: string }
	/** The client hangs up with requests in flight. */
	| { type: 'hangUp'; label: string };

/** Ids a socket has learnt from answers and notifications, to use (rightly or wrongly) later. */
export type FuzzMemory = {
	caps?: RtpCapabilities;
	transportIds: string[];
	producerIds: string[];
	consumerIds: string[];
	peerIds: string[];
};

const METHODS: RequestMethod[] = [
	'join',
	'getRouterRtpCapabilities',
	'createWebRtcTransport',
	'connectWebRtcTransport',
	'restartIce',
	'createPlainTransport',
	'connectPlainTransport',
	'produce',
	'pauseProducer',
	'resumeProducer',
	'closeProducer',
	'resumeConsumer',
	'pauseConsumer',
	'setConsumerPreferredLayers',
	'leave'
];
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];
const NAME_ALPHABET = 'abcXYZ "\'\\\n\r\t\u0000\u0007\u001b\u007f\u0085\u2028\u202e\u200b\ud800\udc00é日本🎉<>&{}';
/** socket.io-client refuses to emit these itself. */
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

/**
 * Generates the messages of one fuzzing socket from a seeded PRNG: mostly requests of the contract
 * (valid, in a plausible order, out of order, after leave, with ids of its own, of other sockets or
 * made up), mutated ones (missing, extra and mistyped fields, huge strings and arrays, deep
 * nesting, prototype-pollution keys, binary), unknown methods and events, malformed envelopes,
 * requests without ack and, rarely, oversized messages, broken frames and hang-ups.
 */
export class SignallingFuzzer {
	readonly #random: SeededRandom;
	readonly #roomIds: readonly string[];
	/** Ids seen by every socket (shared, so sockets try each other's ids). */
	readonly #shared: FuzzMemory;
	readonly #maxMessageBytes: number;

	constructor({
		random,
		roomIds,
		shared,
		maxMessageBytes
	}: {
		random: SeededRandom;
		roomIds: readonly string[];
		shared: FuzzMemory;
		maxMessageBytes: number;
	}) {
		this.#random = random;
		this.#roomIds = roomIds;
		this.#shared = shared;
		this.#maxMessageBytes = maxMessageBytes;
	}

	next(own: FuzzMemory): FuzzAction {
		const r = this.#random;
		const roll = r.next();
		if (roll < 0.002) return { type: 'hangUp', label: 'hangUp' };
		if (roll < 0.004)
			return {
				type: 'oversize',
				args: [
					{ method: 'join', data: { roomId: 'x'.repeat(this.#maxMessageBytes + 100), displayName: 'big', rtpCapabilities: {} } }
				],
				label: 'oversize'
			};
		if (roll < 0.006) return { type: 'rawFrame', frame: this.#brokenFrame(), label: 'rawFrame' };
		if (roll < 0.03) return { type: 'event', event: this.#eventName(), args: [this.junk(2)], label: 'unknownEvent' };
		if (roll < 0.05)
			return { type: 'noAck', message: this.#validRequest(own), extra: r.chance(0.5) ? [] : [this.junk(1)], label: 'noAck' };
		if (roll < 0.1) return { type: 'request', message: this.#badEnvelope(), label: 'badEnvelope' };
		if (roll < 0.15) return { type: 'request', message: this.#polluted(own), label: 'pollution' };
		if (roll < 0.2) return { type: 'request', message: { method: this.#unknownMethod(), data: this.junk(2) }, label: 'unknownMethod' };
		if (roll < 0.55) return { type: 'request', message: this.#mutated(this.#validRequest(own)), label: 'mutated' };
		return { type: 'request', message: this.#validRequest(own), label: 'valid' };
	}

	/** Any JSON-ish value, sometimes huge, deep or binary. */
	junk(depth: number): unknown {
		const r = this.#random;
		switch (r.int(0, 13)) {
			case 0:
				return null;
			case 1:
				return r.chance(0.5);
			case 2:
				return r.pick([0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308, -0, 65536, Number.NaN, Number.POSITIVE_INFINITY]);
			case 3:
				return r.string(r.int(0, 12), NAME_ALPHABET);
			case 4:
				return 'x'.repeat(r.int(1_000, 40_000));
			case 5:
				return Array.from({ length: r.int(0, 5) }, () => (depth > 0 ? this.junk(depth - 1) : 0));
			case 6:
				return new Array<number>(r.int(20_001, 25_000)).fill(0); // more values than the edge allows
			case 7: {
				let deep: unknown = { leaf: true };
				for (let i = 0; i < r.int(5, 40); i++) deep = r.chance(0.5) ? { d: deep } : [deep];
				return deep;
			}
			case 8:
				return Buffer.from(r.string(r.int(0, 16), 'abc'));
			case 9:
				return this.#id();
			case 10:
				return { [r.string(r.int(1, 8), NAME_ALPHABET)]: depth > 0 ? this.junk(depth - 1) : 1 };
			case 11:
				return JSON.parse(`{"${r.pick(FORBIDDEN_KEYS)}":{"polluted":true}}`) as unknown;
			case 12:
				return r.pick(this.#roomIds);
			default:
				return {};
		}
	}

	#validRequest(own: FuzzMemory): { method: RequestMethod; data: Record<string, unknown> } {
		const r = this.#random;
		// Weighted towards getting somewhere: capabilities, join, transports, produce.
		const method = r.chance(0.4)
			? r.pick<RequestMethod>([
					'getRouterRtpCapabilities',
					'join',
					'join',
					'createWebRtcTransport',
					'createPlainTransport',
					'produce',
					'resumeConsumer'
				])
			: r.pick(METHODS);
		const transportId = this.#idFrom(own.transportIds, this.#shared.transportIds);
		const producerId = this.#idFrom(own.producerIds, this.#shared.producerIds);
		const consumerId = this.#idFrom(own.consumerIds, this.#shared.consumerIds);
		const direction = r.pick(['send', 'recv']);
		switch (method) {
			case 'join':
				return {
					method,
					data: {
						roomId: r.pick(this.#roomIds),
						displayName: this.#displayName(),
						rtpCapabilities: own.caps ?? this.#shared.caps ?? {}
					}
				};
			case 'getRouterRtpCapabilities':
				return { method, data: { roomId: r.pick(this.#roomIds) } };
			case 'createWebRtcTransport':
				return { method, data: r.chance(0.3) ? { direction, forceTcp: r.chance(0.5) } : { direction } };
			case 'connectWebRtcTransport':
				return {
					method,
					data: {
						transportId,
						dtlsParameters: {
							role: r.pick(['client', 'server', 'auto']),
							fingerprints: [{ algorithm: 'sha-256', value: this.#fingerprint() }]
						}
					}
				};
			case 'restartIce':
				return { method, data: { transportId } };
			case 'createPlainTransport':
				return { method, data: { direction } };
			case 'connectPlainTransport':
				return { method, data: { transportId, ip: r.pick(['127.0.0.1', '::1', '127.1.2.3']), port: r.int(1, 65535) } };
			case 'produce': {
				const kind = r.chance(0.7) ? 'audio' : 'video';
				const ssrc = r.int(1, 2 ** 32 - 1);
				return {
					method,
					data: {
						transportId,
						kind,
						rtpParameters: kind === 'audio' ? opusParameters(ssrc) : vp8Parameters(ssrc),
						...(r.chance(0.2) ? { paused: true } : {})
					}
				};
			}
			case 'pauseProducer':
			case 'resumeProducer':
			case 'closeProducer':
				return { method, data: { producerId } };
			case 'resumeConsumer':
			case 'pauseConsumer':
				return { method, data: { consumerId } };
			case 'setConsumerPreferredLayers':
				return {
					method,
					data: { consumerId, spatialLayer: r.int(0, 3), ...(r.chance(0.5) ? { temporalLayer: r.int(0, 3) } : {}) }
				};
			case 'leave':
				return { method, data: {} };
		}
	}

	/** Drops, adds or retypes one field, or replaces `data` altogether. */
	#mutated(request: { method: RequestMethod; data: Record<string, unknown> }): unknown {
		const r = this.#random;
		const data = { ...request.data };
		const keys = Object.keys(data);
		switch (r.int(0, 4)) {
			case 0:
				if (keys.length > 0) delete data[r.pick(keys)];
				break;
			case 1:
				data[r.pick(['role', 'admin', 'peerId', 'x', r.string(4, NAME_ALPHABET)])] = this.junk(1);
				break;
			case 2:
			case 3:
				if (keys.length > 0) data[r.pick(keys)] = this.junk(2);
				else data.unexpected = this.junk(1);
				break;
			default:
				return { method: request.method, data: this.junk(2) };
		}
		return { method: request.method, data };
	}

	/** Forbidden keys at a random depth: top level, in data, deep in rtpParameters. */
	#polluted(own: FuzzMemory): unknown {
		const r = this.#random;
		const key = r.pick(FORBIDDEN_KEYS);
		const poison = `{"${key}":{"polluted":true,"toString":"x"}}`;
		switch (r.int(0, 3)) {
			case 0:
				return JSON.parse(`{"method":"leave","data":{},"${key}":{"polluted":true}}`) as unknown;
			case 1:
				return JSON.parse(`{"method":"getRouterRtpCapabilities","data":${poison}}`) as unknown;
			case 2: {
				const request = this.#validRequest(own);
				return { ...request, data: { ...request.data, nested: JSON.parse(poison) as unknown } };
			}
			default: {
				const params = opusParameters(r.int(1, 1000));
				return {
					method: 'produce',
					data: {
						transportId: this.#idFrom(own.transportIds, []),
						kind: 'audio',
						rtpParameters: { ...params, codecs: [JSON.parse(poison) as unknown] }
					}
				};
			}
		}
	}

	#badEnvelope(): unknown {
		const r = this.#random;
		return r.pick<() => unknown>([
			() => null,
			() => 'join',
			() => 42,
			() => [this.junk(1)],
			() => ({}),
			() => ({ method: 'join' }),
			() => ({ data: {} }),
			() => ({ method: r.pick(METHODS), data: {}, extra: this.junk(1) }),
			() => ({ method: this.junk(1), data: {} }),
			() => ({ method: '', data: {} }),
			() => ({ method: 'x'.repeat(r.int(65, 5000)), data: {} }),
			() => this.junk(3)
		])();
	}

	#unknownMethod(): string {
		const r = this.#random;
		return r.pick([
			'becomeAdmin',
			'toString',
			'hasOwnProperty',
			'valueOf',
			'__proto__',
			'constructor',
			'prototype',
			'JOIN',
			'join ',
			r.string(r.int(1, 20), NAME_ALPHABET)
		]);
	}

	#eventName(): string {
		const r = this.#random;
		const name = r.pick(['hello', 'notification', 'requests', 'Request', 'ping', 'error', r.string(r.int(1, 30), NAME_ALPHABET)]);
		return RESERVED_EVENTS.has(name) ? `x-${name}` : name;
	}

	/** Engine.io message payloads that socket.io cannot decode (or decodes into something invalid). */
	#brokenFrame(): string {
		return this.#random.pick([
			'garbage',
			'9',
			'42[',
			'42["request"',
			'4{"method":"join"}',
			'2["request",{}]',
			'3["request"]',
			'451-["request",{"_placeholder":true,"num":7}]',
			'42/other,["request",{}]',
			'0{"token":1}',
			'1'
		]);
	}

	#displayName(): string {
		const r = this.#random;
		if (r.chance(0.05)) return 'x'.repeat(r.int(300, 20_000));
		return r.string(r.int(0, 40), NAME_ALPHABET);
	}

	/** An id of this socket, of another socket, or made up (well-formed or not). */
	#idFrom(own: string[], shared: string[]): string {
		const r = this.#random;
		const roll = r.next();
		if (roll < 0.55 && own.length > 0) return r.pick(own);
		if (roll < 0.75 && shared.length > 0) return r.pick(shared);
		return this.#id();
	}

	#id(): string {
		const r = this.#random;
		return r.pick([
			'00000000-0000-0000-0000-000000000000',
			'',
			'x'.repeat(65),
			'constructor',
			'__proto__',
			'../../etc/passwd',
			`${r.int(0, 0xffffffff).toString(16)}-${r.int(0, 0xffff).toString(16)}`
		]);
	}

	#fingerprint(): string {
		return Array.from({ length: 32 }, () => this.#random.int(0, 255).toString(16).padStart(2, '0').toUpperCase()).join(':');
	}
}
