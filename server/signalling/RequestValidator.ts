import type { RequestMessage, RequestMethod } from './contract.js';
import { BadRequestError, UnknownMethodError } from './RequestError.js';
import { NamedError } from '../NamedError.js';

/** Keys that could reach an object's prototype if some code ever merged the payload into one. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Deeper than any rtpParameters / rtpCapabilities / dtlsParameters a real client sends. */
const MAX_DEPTH = 12;
/** Values (objects, arrays, scalars) in one message; Chrome's rtpCapabilities are a few hundred. */
const MAX_NODES = 20_000;
/** mediasoup ids are UUIDs (36 characters). */
const MAX_ID_LENGTH = 64;
const MAX_METHOD_LENGTH = 64;

export type ValidatorLimits = { maxRoomIdLength: number; maxDisplayNameLength: number };

/** Why a message was refused, for the rejectedMessages counter. */
export type RejectReason = 'malformed' | 'forbidden_key' | 'unknown_method' | 'bad_request';

export class RejectedMessageError extends NamedError {
	readonly reason: RejectReason;
	readonly error: BadRequestError | UnknownMethodError;
	/** The method, when the message named a known one (for per-method counting). */
	readonly method: RequestMethod | undefined;

	constructor(reason: RejectReason, error: BadRequestError | UnknownMethodError, method?: RequestMethod) {
		super(error.message);
		this.reason = reason;
		this.error = error;
		this.method = method;
	}
}

type FieldCheck = {
	optional?: boolean;
	/** Throws a BadRequestError naming `path` when `value` does not fit. */
	check(value: unknown, path: string): void;
};

type Shape = Record<string, FieldCheck>;

function bad(path: string, expected: string): never {
	throw new BadRequestError(`${path}: expected ${expected}`);
}

const string = ({ min = 0, max, pattern, expected }: { min?: number; max: number; pattern?: RegExp; expected?: string }): FieldCheck => ({
	check(value, path) {
		const text = expected ?? `a string of ${min} to ${max} characters`;
		if (typeof value !== 'string' || value.length < min || value.length > max || (pattern && !pattern.test(value))) bad(path, text);
	}
});

const id = (): FieldCheck => string({ min: 1, max: MAX_ID_LENGTH, expected: `an id (a string of 1 to ${MAX_ID_LENGTH} characters)` });

const oneOf = (values: readonly string[]): FieldCheck => ({
	check(value, path) {
		if (typeof value !== 'string' || !values.includes(value)) bad(path, `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`);
	}
});

const boolean = (): FieldCheck => ({
	check(value, path) {
		if (typeof value !== 'boolean') bad(path, 'true or false');
	}
});

const integer = (min: number, max: number): FieldCheck => ({
	check(value, path) {
		if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) bad(path, `an integer from ${min} to ${max}`);
	}
});

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A plain object whose details mediasoup validates itself (rtpParameters, dtlsParameters, …). It
 * goes to the worker as JSON, whose parser drops a message with a lone surrogate (`\ud800`)
 * without answering: the request would hang until mediasoup's 15 s timeout. So none may carry one,
 * in a key or a value.
 */
const mediasoupObject = (): FieldCheck => ({
	check(value, path) {
		if (!isPlainObject(value)) bad(path, 'an object');
		const visit = (v: unknown, at: string): void => {
			if (typeof v === 'string') {
				if (LONE_SURROGATE.test(v)) throw new BadRequestError(`${at}: not well-formed Unicode (a lone surrogate)`);
			} else if (Array.isArray(v)) {
				v.forEach((item, i) => visit(item, `${at}[${i}]`));
			} else if (typeof v === 'object' && v !== null) {
				for (const [key, item] of Object.entries(v)) {
					if (LONE_SURROGATE.test(key)) throw new BadRequestError(`${at}: a key that is not well-formed Unicode (a lone surrogate)`);
					visit(item, `${at}.${key}`);
				}
			}
		};
		visit(value, path);
	}
});

const shape = (fields: Shape): FieldCheck => ({
	check(value, path) {
		checkShape(value, path, fields);
	}
});

const optional = (field: FieldCheck): FieldCheck => ({ ...field, optional: true });

const ipAddress = string({ min: 2, max: 45, pattern: /^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$/, expected: 'an IPv4 or IPv6 address' });

function isPlainObject(value: unknown): value is Record<string, unknown> {
	if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
	const proto: unknown = Object.getPrototypeOf(value);
	return proto === Object.prototype || proto === null;
}

function checkShape(value: unknown, path: string, fields: Shape): void {
	if (!isPlainObject(value)) bad(path, 'an object');
	for (const key of Object.keys(value)) {
		if (!Object.hasOwn(fields, key)) {
			throw new BadRequestError(`${path}.${key}: unknown field (known fields: ${Object.keys(fields).join(', ') || 'none'})`);
		}
	}
	for (const [key, field] of Object.entries(fields)) {
		const v = Object.hasOwn(value, key) ? value[key] : undefined;
		if (v === undefined) {
			if (!field.optional) throw new BadRequestError(`${path}.${key}: missing`);
			continue;
		}
		field.check(v, `${path}.${key}`);
	}
}

/**
 * Walks the whole payload once: only JSON values (socket.io's binary attachments arrive as
 * Buffers and are refused), bounded depth and size, and no key that could pollute a prototype.
 */
function checkJsonTree(root: unknown): void {
	let nodes = 0;
	const visit = (value: unknown, path: string, depth: number): void => {
		if (++nodes > MAX_NODES) throw new RejectedMessageError('malformed', new BadRequestError(`message: more than ${MAX_NODES} values`));
		if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
		if (typeof value === 'number') {
			if (!Number.isFinite(value)) throw new RejectedMessageError('malformed', new BadRequestError(`${path}: not a finite number`));
			return;
		}
		if (depth > MAX_DEPTH) throw new RejectedMessageError('malformed', new BadRequestError(`${path}: nested deeper than ${MAX_DEPTH}`));
		if (Array.isArray(value)) {
			value.forEach((item, i) => visit(item, `${path}[${i}]`, depth + 1));
			return;
		}
		if (!isPlainObject(value)) throw new RejectedMessageError('malformed', new BadRequestError(`${path}: not a JSON value`));
		for (const key of Object.keys(value)) {
			if (FORBIDDEN_KEYS.has(key)) throw new RejectedMessageError('forbidden_key', new BadRequestError(`${path}.${key}: forbidden key`));
			visit(value[key], `${path}.${key}`, depth + 1);
		}
	};
	visit(root, 'message', 0);
}

/**
 * Checks every inbound signalling message at the edge, before any handler sees it: the envelope
 * (`{ method, data }`), then each field of `data` by method. Deep structures (rtpParameters,
 * rtpCapabilities, dtlsParameters) are only checked to be objects here; mediasoup validates them
 * and its TypeErrors become BadRequestErrors.
 */
export class RequestValidator {
	readonly #shapes: Record<RequestMethod, Shape>;

	constructor({ maxRoomIdLength, maxDisplayNameLength }: ValidatorLimits) {
		const roomId = string({ min: 1, max: maxRoomIdLength, pattern: /^[A-Za-z0-9_.-]+$/,
			expected: `a room id (1 to ${maxRoomIdLength} of A-Z a-z 0-9 _ - .)` });
		// The display name is normalised (trimmed, control characters removed) after this check;
		// the raw bound leaves room for what normalisation strips.
		const displayName = string({ min: 1, max: maxDisplayNameLength * 4, expected: `a string of 1 to ${maxDisplayNameLength} characters` });
		const direction = oneOf(['send', 'recv']);
		this.#shapes = {
			join: { roomId, displayName, rtpCapabilities: mediasoupObject() },
			getRouterRtpCapabilities: { roomId },
			createWebRtcTransport: { direction, forceTcp: optional(boolean()) },
			connectWebRtcTransport: { transportId: id(), dtlsParameters: mediasoupObject() },
			restartIce: { transportId: id() },
			createPlainTransport: { direction },
			connectPlainTransport: { transportId: id(), ip: ipAddress, port: integer(1, 65535), rtcpPort: optional(integer(1, 65535)) },
			produce: {
				transportId: id(),
				kind: oneOf(['audio', 'video']),
				rtpParameters: mediasoupObject(),
				paused: optional(boolean()),
				appData: optional(shape({ source: optional(oneOf(['mic', 'webcam', 'synthetic'])) }))
			},
			pauseProducer: { producerId: id() },
			resumeProducer: { producerId: id() },
			closeProducer: { producerId: id() },
			resumeConsumer: { consumerId: id() },
			pauseConsumer: { consumerId: id() },
			setConsumerPreferredLayers: { consumerId: id(), spatialLayer: integer(0, 15), temporalLayer: optional(integer(0, 15)) },
			leave: {}
		};
	}

	/** The known method named by a raw message, if any (for counting a message that fails later). */
	methodOf(message: unknown): RequestMethod | undefined {
		if (!isPlainObject(message) || typeof message.method !== 'string') return undefined;
		return Object.hasOwn(this.#shapes, message.method) ? message.method as RequestMethod : undefined;
	}

	/** Returns the message typed, or throws a RejectedMessageError carrying the client's error. */
	validate(message: unknown): RequestMessage {
		if (!isPlainObject(message)) throw new RejectedMessageError('malformed', new BadRequestError('message: expected an object { method, data }'));
		checkJsonTree(message);
		const { method, data } = message;
		if (typeof method !== 'string' || method.length === 0 || method.length > MAX_METHOD_LENGTH) {
			throw new RejectedMessageError('malformed', new BadRequestError(`method: expected a string of 1 to ${MAX_METHOD_LENGTH} characters`));
		}
		if (!Object.hasOwn(this.#shapes, method)) {
			throw new RejectedMessageError('unknown_method', new UnknownMethodError(`method: unknown method ${JSON.stringify(method)}`));
		}
		const known = method as RequestMethod;
		for (const key of Object.keys(message)) {
			if (key !== 'method' && key !== 'data') throw new RejectedMessageError('malformed', new BadRequestError(`message.${key}: unknown field (known fields: method, data)`), known);
		}
		if (!isPlainObject(data)) throw new RejectedMessageError('malformed', new BadRequestError('data: expected an object'), known);
		try {
			checkShape(data, 'data', this.#shapes[known]);
		} catch (error) {
			if (error instanceof BadRequestError) throw new RejectedMessageError('bad_request', error, known);
			throw error;
		}
		return { method: known, data } as RequestMessage;
	}
}
