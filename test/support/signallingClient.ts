import { io } from 'socket.io-client';
import type { NotificationMessage, Notifications, RequestMethod, Requests, ResponseOf } from '../../server/contract/signalling.js';
import { exchange, request, type SignallingSocket as ClientSocket } from '../../server/contract/signallingRequest.js';

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * A real socket.io client speaking the signalling contract, for tests: typed requests, every
 * notification recorded, and waits that poll recorded notifications with a deadline.
 */
export class SignallingClient {
	readonly socket: ClientSocket;
	/** Every notification received, in order. */
	readonly notifications: NotificationMessage[] = [];
	readonly #waiters = new Set<() => void>();

	static async connect(url: string, options: { extraHeaders?: Record<string, string> } = {}): Promise<SignallingClient> {
		const socket: ClientSocket = io(url, {
			transports: ['websocket'],
			reconnection: false,
			forceNew: true,
			...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {})
		});
		const client = new SignallingClient(socket);
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error('connect timed out')), DEFAULT_TIMEOUT_MS);
			socket.once('connect', () => {
				clearTimeout(timer);
				resolve();
			});
			socket.once('connect_error', (error) => {
				clearTimeout(timer);
				socket.close();
				reject(error);
			});
		});
		return client;
	}

	private constructor(socket: ClientSocket) {
		this.socket = socket;
		socket.on('notification', (message) => {
			this.notifications.push(message);
			for (const wake of this.#waiters) wake();
		});
		socket.on('disconnect', () => {
			for (const wake of this.#waiters) wake();
		});
	}

	/** A request as the contract types it; resolves with the response (ok or error). */
	request<M extends RequestMethod>(method: M, data: Requests[M]['request'], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ResponseOf<M>> {
		return exchange(this.socket, method, data, timeoutMs);
	}

	/** The response's data, or a SignallingRequestError naming the error the server answered. */
	requestOk<M extends RequestMethod>(method: M, data: Requests[M]['request']): Promise<Requests[M]['response']> {
		return request(this.socket, method, data, DEFAULT_TIMEOUT_MS);
	}

	/** Anything as a request message (for malformed-input tests). */
	rawRequest(message: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
		return (
			this.socket.timeout(timeoutMs) as unknown as {
				emitWithAck(event: string, ...args: unknown[]): Promise<unknown>;
			}
		).emitWithAck('request', message);
	}

	/** Emits anything, without waiting for an ack (for missing-ack and unknown-event tests). */
	rawEmit(event: string, ...args: unknown[]): void {
		(this.socket as unknown as { emit(event: string, ...args: unknown[]): void }).emit(event, ...args);
	}

	/** Resolves with the first notification (already received or future) of `method` matching `predicate`. */
	async waitForNotification<N extends keyof Notifications>(
		method: N,
		predicate: (data: Notifications[N]) => boolean = () => true,
		timeoutMs = DEFAULT_TIMEOUT_MS
	): Promise<Notifications[N]> {
		const find = (): Notifications[N] | undefined => {
			const found = this.notifications.find((n) => n.method === method && predicate(n.data as Notifications[N]));
			return found?.data as Notifications[N] | undefined;
		};
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const found = find();
			if (found) return found;
			const left = deadline - Date.now();
			if (left <= 0)
				throw new Error(
					`no ${method} notification within ${timeoutMs} ms (got: ${this.notifications.map((n) => n.method).join(', ') || 'none'})`
				);
			await new Promise<void>((resolve) => {
				const wake = (): void => {
					clearTimeout(timer);
					this.#waiters.delete(wake);
					resolve();
				};
				const timer = setTimeout(wake, left);
				this.#waiters.add(wake);
			});
		}
	}

	/** Notifications of one method received so far. */
	received<N extends keyof Notifications>(method: N): Notifications[N][] {
		return this.notifications.filter((n) => n.method === method).map((n) => n.data as Notifications[N]);
	}

	get connected(): boolean {
		return this.socket.connected;
	}

	close(): void {
		this.socket.close();
	}
}
