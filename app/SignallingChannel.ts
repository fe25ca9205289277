import { io, type Socket } from 'socket.io-client';
import { enhancedEvents } from 'mediasoup-client';
import type {
	ClientToServerEvents, NotificationMessage, RequestMessage, RequestMethod, Requests, Response,
	ServerToClientEvents, SignallingErrorName
} from '../server/signalling/contract.js';

export type SignallingState = 'connecting' | 'connected' | 'disconnected';

export type SignallingChannelEvents = {
	state: [SignallingState];
	notification: [NotificationMessage];
};

/** A request the server answered with `{ ok: false }`, or that got no answer in time. */
export class SignallingRequestError extends Error {
	readonly errorName: SignallingErrorName | 'TimeoutError' | 'DisconnectedError';

	constructor(method: string, errorName: SignallingRequestError['errorName'], message: string) {
		super(`${method}: ${message}`);
		this.name = 'SignallingRequestError';
		this.errorName = errorName;
	}
}

const REQUEST_TIMEOUT_MS = 15_000;

/**
 * The socket.io connection to the server, typed by the shared contract. socket.io reconnects on
 * its own; the owner sees that as `state` going `disconnected` → `connected` and has to join again
 * (the server forgets a peer whose socket dropped).
 */
export class SignallingChannel extends enhancedEvents.EnhancedEventEmitter<SignallingChannelEvents> {
	readonly #socket: Socket<ServerToClientEvents, ClientToServerEvents>;
	#state: SignallingState = 'connecting';
	#closed = false;

	/** Connects to the page's own origin (the server that served the app also signals). */
	constructor({ url }: { url?: string } = {}) {
		super();
		this.#socket = url ? io(url) : io();
		this.#socket.on('connect', () => this.#setState('connected'));
		this.#socket.on('disconnect', () => this.#setState(this.#closed ? 'disconnected' : 'connecting'));
		this.#socket.io.on('reconnect_attempt', () => this.#setState('connecting'));
		this.#socket.on('connect_error', () => this.#setState('connecting'));
		this.#socket.on('notification', (message) => this.emit('notification', message));
	}

	get state(): SignallingState {
		return this.#state;
	}

	/** Resolves once connected (at once if already), rejects after `timeoutMs`. */
	async waitConnected(timeoutMs = REQUEST_TIMEOUT_MS): Promise<void> {
		if (this.#state === 'connected') return;
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.off('state', onState);
				reject(new SignallingRequestError('connect', 'TimeoutError', `no connection to the server after ${timeoutMs / 1000} s`));
			}, timeoutMs);
			const onState = (state: SignallingState): void => {
				if (state !== 'connected') return;
				clearTimeout(timer);
				this.off('state', onState);
				resolve();
			};
			this.on('state', onState);
		});
	}

	/** Sends a request and resolves with its typed answer; a refusal rejects with SignallingRequestError. */
	async request<M extends RequestMethod>(method: M, data: Requests[M]['request']): Promise<Requests[M]['response']> {
		if (this.#state !== 'connected') throw new SignallingRequestError(method, 'DisconnectedError', 'not connected to the server');
		// The union cannot be narrowed from a generic M; the pair is consistent by construction.
		const message = { method, data } as RequestMessage;
		let response: Response<unknown>;
		try {
			response = await this.#socket.timeout(REQUEST_TIMEOUT_MS).emitWithAck('request', message);
		} catch {
			throw new SignallingRequestError(method, 'TimeoutError', `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
		}
		if (!response.ok) throw new SignallingRequestError(method, response.error.name, response.error.message);
		return response.data as Requests[M]['response'];
	}

	override close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#socket.disconnect();
		this.#setState('disconnected');
		super.close();
	}

	#setState(state: SignallingState): void {
		if (state === this.#state) return;
		this.#state = state;
		this.emit('state', state);
	}
}
