import type { SignallingError, SignallingErrorName } from './contract.js';

/**
 * An error a request handler throws on purpose: its name and message reach the client as
 * `{ ok: false, error: { name, message } }`. Messages name the offending field and never echo
 * personal data back into logs.
 */
export class RequestError extends Error {
	override readonly name: SignallingErrorName;

	constructor(name: SignallingErrorName, message: string) {
		super(message);
		this.name = name;
	}

	toJSON(): SignallingError {
		return { name: this.name, message: this.message };
	}
}

export class BadRequestError extends RequestError {
	constructor(message: string) { super('BadRequestError', message); }
}

export class UnknownMethodError extends RequestError {
	constructor(message: string) { super('UnknownMethodError', message); }
}

export class NotJoinedError extends RequestError {
	constructor(message = 'join a room first') { super('NotJoinedError', message); }
}

export class AlreadyJoinedError extends RequestError {
	constructor(message = 'already joined; leave first') { super('AlreadyJoinedError', message); }
}

export class RoomFullError extends RequestError {
	constructor(message: string) { super('RoomFullError', message); }
}

export class NotFoundError extends RequestError {
	constructor(message: string) { super('NotFoundError', message); }
}

export class NotAllowedError extends RequestError {
	constructor(message: string) { super('NotAllowedError', message); }
}

export class RateLimitError extends RequestError {
	constructor(message: string) { super('RateLimitError', message); }
}

export class ServerError extends RequestError {
	constructor(message: string) { super('ServerError', message); }
}

/**
 * What a client learns about an error thrown inside a handler. mediasoup throws `TypeError` for
 * parameters it rejects (rtpParameters, dtlsParameters, …): the client's fault. Anything else it
 * throws (UnsupportedError, InvalidStateError, a worker refusal) is the server's.
 */
export function toRequestError(error: unknown): { error: RequestError; expected: boolean } {
	if (error instanceof RequestError) return { error, expected: true };
	if (error instanceof TypeError) return { error: new BadRequestError(messageOf(error)), expected: true };
	if (error instanceof Error && (error.name === 'UnsupportedError' || error.name === 'InvalidStateError')) {
		return { error: new ServerError(messageOf(error)), expected: true };
	}
	return { error: new ServerError(error instanceof Error ? messageOf(error) : 'internal error'), expected: false };
}

/** mediasoup messages can be long (they may quote the whole parameter object); keep replies short. */
function messageOf(error: Error): string {
	const message = error.message || error.name;
	return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}
