import {
	BadRequestError,
	ClientError,
	InvalidMediaError,
	NoWorkerError,
	NotAllowedError,
	NotFoundError,
	NotJoinedError,
	NotPermittedError,
	PeerClosedError,
	RoomCapacityError,
	RoomClosedError,
	RoomFullError,
	ServerError,
	ShuttingDownError,
	UnknownIdError
} from '../base/errors.js';
import type { SignallingError } from '../contract/signalling.js';

/** What each of the SFU's domain errors is on the wire (its message goes as it is). */
const WIRE_ERRORS: [domain: abstract new (...args: never[]) => Error, wire: new (message: string) => ClientError][] = [
	[InvalidMediaError, BadRequestError],
	[NotPermittedError, NotAllowedError],
	[UnknownIdError, NotFoundError],
	[PeerClosedError, NotJoinedError],
	[RoomCapacityError, RoomFullError],
	[RoomClosedError, ServerError],
	[ShuttingDownError, ServerError],
	[NoWorkerError, ServerError]
];

/**
 * What a client learns about an error thrown inside a handler. The SFU's domain errors map to
 * the contract's names. mediasoup throws `TypeError` for parameters it rejects (rtpParameters,
 * dtlsParameters, …): the client's fault. Anything else it throws (UnsupportedError,
 * InvalidStateError, a worker refusal) is the server's; `expected: false` marks what is worth a log.
 */
export function toClientError(error: unknown): { error: ClientError; expected: boolean } {
	if (error instanceof ClientError) return { error, expected: true };
	for (const [domain, wire] of WIRE_ERRORS) {
		if (error instanceof domain) return { error: new wire(error.message), expected: true };
	}
	if (error instanceof TypeError) return { error: new BadRequestError(messageOf(error)), expected: true };
	if (error instanceof Error && (error.name === 'UnsupportedError' || error.name === 'InvalidStateError')) {
		return { error: new ServerError(messageOf(error)), expected: true };
	}
	return { error: new ServerError(error instanceof Error ? messageOf(error) : 'internal error'), expected: false };
}

/** The error as the signalling contract sends it: every ClientError the handlers throw has a contract name. */
export function wireError(error: ClientError): SignallingError {
	return error.toJSON() as SignallingError;
}

/** mediasoup messages can be long (they may quote the whole parameter object); keep replies short. */
function messageOf(error: Error): string {
	const message = error.message || error.name;
	return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}
