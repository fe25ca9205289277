import { io, type Socket } from 'socket.io-client';
import { Logger } from '../Logger.js';
import { TypedEmitter } from '../TypedEmitter.js';
import type {
	ClientToServerEvents, NotificationMessage, RequestMessage, RequestMethod, Requests, Response,
	ServerToClientEvents, SignallingErrorName
} from '../signalling/contract.js';
import { NamedError } from '../NamedError.js';

const logger = new Logger('SignallingClient');

const DEFAULT_TIMEOUT_MS = 15_000;

/** A request the server refused (`{ ok: false }`), or one that got no answer. */
export class SignallingRequestError extends NamedError {
	readonly method: string;
	readonly errorName: SignallingErrorName | 'TimeoutError' | 'DisconnectedError';

	constructor(method: string, errorName: SignallingRequestError['errorName'], message: string) {
		super(`${method}: ${errorName}: ${message}`);
		this.method = method;
		this.errorName = errorName;
	}
}

export type SignallingClientEvents = {
	notification: [NotificationMessage];
	/** The connection is gone for good (no reconnection: a synthetic peer simply ends). */
	disconnect: [string];
};

/**
 * socket.io signalling from Node, typed by the shared contract: the same protocol the browser app
 * speaks. Reconnection is off: the server forgets a peer whose socket drops, and a load generator
 * should see that rather than paper over it.
 */
export class SignallingClient extends TypedEmitter<SignallingClientEvents> {
	readonly #socket: Socket<ServerToClientEvents, ClientToServerEvents>;
	readonly #timeoutMs: number;
	#closed = false;

	static async connect({ url, timeoutMs = DEFAULT_TIMEOUT_MS }: { url: string; timeoutMs?: number }): Promise<SignallingClient> {
		const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
			transports: ['websocket'], reconnection: false, forceNew: true, timeout: timeoutMs
		});
		try {
			await new Promise<void>((resolve, reject) => {
				socket.once('connect', resolve);
				socket.once('connect_error', (error) => reject(new SignallingRequestError('connect', 'DisconnectedError', error.message)));
			});
		} catch (error) {
			socket.disconnect();
			throw error;
		}
		return new SignallingClient(socket, timeoutMs);
	}

	private constructor(socket: Socket<ServerToClientEvents, ClientToServerEvents>, timeoutMs: number) {
		super();
		this.#socket = socket;
		this.#timeoutMs = timeoutMs;
		socket.on('notification', (message) => this.emit('notification', message));
		socket.on('disconnect', (reason) => {
			logger.debug('disconnected: %s', reason);
			this.#closed = true;
			this.emit('disconnect', reason);
		});
	}

	get connected(): boolean {
		return !this.#closed && this.#socket.connected;
	}

	/** Sends a request and resolves with its typed answer; a refusal rejects with SignallingRequestError. */
	async request<M extends RequestMethod>(method: M, data: Requests[M]['request'], timeoutMs = this.#timeoutMs): Promise<Requests[M]['response']> {
		if (!this.connected) throw new SignallingRequestError(method, 'DisconnectedError', 'not connected');
		// The union cannot be narrowed from a generic M; the pair is consistent by construction.
		const message = { method, data } as RequestMessage;
		let response: Response<unknown>;
		try {
			response = await this.#socket.timeout(timeoutMs).emitWithAck('request', message);
		} catch {
			throw new SignallingRequestError(method, this.connected ? 'TimeoutError' : 'DisconnectedError', `no answer within ${timeoutMs} ms`);
		}
		if (!response.ok) throw new SignallingRequestError(method, response.error.name, response.error.message);
		return response.data as Requests[M]['response'];
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#socket.disconnect();
	}
}
