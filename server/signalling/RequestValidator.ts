import type { z } from 'zod';
import type { RequestMessage, RequestMethod } from '../contract/signalling.js';
import { requestProblem } from '../contract/schemaIssues.js';
import { requestSchemas, type RequestLimits, type RequestSchemas } from '../contract/signallingSchemas.js';
import { BadRequestError, NamedError, UnknownMethodError } from '../base/errors.js';

/** Keys that could reach an object's prototype if some code ever merged the payload into one. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Deeper than any rtpParameters / rtpCapabilities / dtlsParameters a real client sends. */
const MAX_DEPTH = 12;
/** Values (objects, arrays, scalars) in one message; Chrome's rtpCapabilities are a few hundred. */
const MAX_NODES = 20_000;
const MAX_METHOD_LENGTH = 64;

export type ValidatorLimits = RequestLimits;

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

function isPlainObject(value: unknown): value is Record<string, unknown> {
	if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
	const proto: unknown = Object.getPrototypeOf(value);
	return proto === Object.prototype || proto === null;
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
			if (FORBIDDEN_KEYS.has(key))
				throw new RejectedMessageError('forbidden_key', new BadRequestError(`${path}.${key}: forbidden key`));
			visit(value[key], `${path}.${key}`, depth + 1);
		}
	};
	visit(root, 'message', 0);
}

/**
 * Checks every inbound signalling message at the edge, before any handler sees it: the whole
 * payload's limits, the envelope (`{ method, data }`), then `data` against its method's schema
 * (server/contract/signallingSchemas.ts), whose output (a display name cleaned) is what handlers get.
 */
export class RequestValidator {
	readonly #schemas: RequestSchemas;

	constructor(limits: ValidatorLimits) {
		this.#schemas = requestSchemas(limits);
	}

	/** The known method named by a raw message, if any (for counting a message that fails later). */
	methodOf(message: unknown): RequestMethod | undefined {
		if (!isPlainObject(message) || typeof message.method !== 'string') return undefined;
		return Object.hasOwn(this.#schemas, message.method) ? (message.method as RequestMethod) : undefined;
	}

	/** Returns the message typed, or throws a RejectedMessageError carrying the client's error. */
	validate(message: unknown): RequestMessage {
		if (!isPlainObject(message)) {
			throw new RejectedMessageError('malformed', new BadRequestError('message: expected an object { method, data }'));
		}
		checkJsonTree(message);
		const { method, data } = message;
		if (typeof method !== 'string' || method.length === 0 || method.length > MAX_METHOD_LENGTH) {
			throw new RejectedMessageError(
				'malformed',
				new BadRequestError(`method: expected a string of 1 to ${MAX_METHOD_LENGTH} characters`)
			);
		}
		if (!Object.hasOwn(this.#schemas, method)) {
			throw new RejectedMessageError('unknown_method', new UnknownMethodError(`method: unknown method ${JSON.stringify(method)}`));
		}
		const known = method as RequestMethod;
		for (const key of Object.keys(message)) {
			if (key !== 'method' && key !== 'data') {
				throw new RejectedMessageError(
					'malformed',
					new BadRequestError(`message.${key}: unknown field (known fields: method, data)`),
					known
				);
			}
		}
		if (!isPlainObject(data)) throw new RejectedMessageError('malformed', new BadRequestError('data: expected an object'), known);
		const schema: z.ZodType = this.#schemas[known];
		const result = schema.safeParse(data, { reportInput: true });
		if (!result.success) {
			throw new RejectedMessageError('bad_request', new BadRequestError(requestProblem(schema, result.error.issues)), known);
		}
		return { method: known, data: result.data } as RequestMessage;
	}
}
