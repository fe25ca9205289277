import { io } from 'socket.io-client';
import { Logger } from '../../server/base/Logger.js';
import { TypedEmitter } from '../../server/base/TypedEmitter.js';
import type { NotificationMessage, RequestMethod, Requests } from '../../server/contract/signalling.js';
import { request, SignallingRequestError, type SignallingSocket } from '../../server/contract/signallingRequest.js';

export { SignallingRequestError };

const logger = new Logger('SignallingClient');

const DEFAULT_TIMEOUT_MS = 15_000;

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
	readonly #socket: SignallingSocket;
	readonly #timeoutMs: number;
	#closed = false;

	static async connect({ url, timeoutMs = DEFAULT_TIMEOUT_MS }: { url: string; timeoutMs?: number }): Promise<SignallingClient> {
		const socket: SignallingSocket = io(url, {
			transports: ['websocket'],
			reconnection: false,
			forceNew: true,
			timeout: timeoutMs
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

	private constructor(socket: SignallingSocket, timeoutMs: number) {
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
	async request<M extends RequestMethod>(
		method: M,
		data: Requests[M]['request'],
		timeoutMs = this.#timeoutMs
	): Promise<Requests[M]['response']> {
		if (!this.connected) throw new SignallingRequestError(method, 'DisconnectedError', 'not connected');
		return request(this.#socket, method, data, timeoutMs);
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#socket.disconnect();
	}
}
