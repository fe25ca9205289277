import { io } from 'socket.io-client';
import { enhancedEvents } from 'mediasoup-client';
import type { NotificationMessage, RequestMethod, Requests } from '../server/contract/signalling.js';
import { request, SignallingRequestError, type SignallingSocket } from '../server/contract/signallingRequest.js';

export { SignallingRequestError };

export type SignallingState = 'connecting' | 'connected' | 'disconnected';

export type SignallingChannelEvents = {
	state: [SignallingState];
	notification: [NotificationMessage];
};

const REQUEST_TIMEOUT_MS = 15_000;

/**
 * The socket.io connection to the server, typed by the shared contract. socket.io reconnects on
 * its own; the owner sees that as `state` going `disconnected` → `connected` and has to join again
 * (the server forgets a peer whose socket dropped).
 */
export class SignallingChannel extends enhancedEvents.EnhancedEventEmitter<SignallingChannelEvents> {
	readonly #socket: SignallingSocket;
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
		return request(this.#socket, method, data, REQUEST_TIMEOUT_MS);
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
