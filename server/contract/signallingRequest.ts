/**
 * The client side of a signalling request, in one place for the browser app, the synthetic peers
 * and the tests: a request is a socket.io `request` event whose ack is the contract's Response.
 */
import type { Socket } from 'socket.io-client';
import type {
	ClientToServerEvents,
	RequestMessage,
	RequestMethod,
	Requests,
	ResponseOf,
	ServerToClientEvents,
	SignallingErrorName
} from './signalling.js';

export type SignallingSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A request the server refused (`{ ok: false }`, `errorName` its error's name), or one that got no answer. */
export class SignallingRequestError extends Error {
	readonly method: string;
	readonly errorName: SignallingErrorName | 'TimeoutError' | 'DisconnectedError';

	constructor(method: string, errorName: SignallingRequestError['errorName'], message: string) {
		super(`${method}: ${message}`);
		this.name = 'SignallingRequestError';
		this.method = method;
		this.errorName = errorName;
	}
}

/** Sends a request; resolves with the server's answer, ok or not. Rejects (SignallingRequestError) only when none came. */
export async function exchange<M extends RequestMethod>(
	socket: SignallingSocket,
	method: M,
	data: Requests[M]['request'],
	timeoutMs: number
): Promise<ResponseOf<M>> {
	if (!socket.connected) throw new SignallingRequestError(method, 'DisconnectedError', 'not connected to the server');
	// The union cannot be narrowed from a generic M; the pair is consistent by construction.
	const message = { method, data } as RequestMessage;
	try {
		return (await socket.timeout(timeoutMs).emitWithAck('request', message)) as ResponseOf<M>;
	} catch {
		throw new SignallingRequestError(
			method,
			socket.connected ? 'TimeoutError' : 'DisconnectedError',
			`no answer within ${timeoutMs / 1000} s`
		);
	}
}

/** Sends a request; resolves with its typed data, or rejects with SignallingRequestError. */
export async function request<M extends RequestMethod>(
	socket: SignallingSocket,
	method: M,
	data: Requests[M]['request'],
	timeoutMs: number
): Promise<Requests[M]['response']> {
	const response = await exchange(socket, method, data, timeoutMs);
	if (!response.ok) throw new SignallingRequestError(method, response.error.name, response.error.message);
	return response.data;
}
