import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { Logger } from '../base/Logger.js';
import { TypedEmitter } from '../base/TypedEmitter.js';
import { emptyState, applyStateChange, type ObservedState, type StateChange } from '../observer/ObservedState.js';
import {
	PROTOCOL_VERSION,
	type Hello,
	type ServerMessage,
	type StateEvent,
	type Requests,
	type RequestMethod,
	type ProtocolError
} from './protocol.js';
import { NamedError } from '../base/errors.js';

const logger = new Logger('ObserverStreamClient');

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const RECONNECT_MIN_DELAY_MS = 100;
const RECONNECT_MAX_DELAY_MS = 5_000;

/** A request the server answered with an error; `name` is the server's (e.g. 'NotFoundError'). */
export class ObserverRequestError extends Error {
	constructor({ name, message }: ProtocolError) {
		super(message);
		this.name = name;
	}
}

export class ObserverTimeoutError extends NamedError {}

export class ObserverDisconnectedError extends NamedError {}

export class ObserverProtocolError extends NamedError {}

export type ObserverStreamClientEvents = {
	hello: [Hello];
	/** The mirror was replaced by a snapshot (on connect, and after a gap). */
	snapshot: [ObservedState];
	/** One change, applied to the mirror before this is emitted. */
	change: [StateEvent];
	/** An event arrived out of order; the mirror is being resynced from a fresh snapshot. */
	gap: [{ expectedSeq: number; seq: number }];
	/** An error line from the server (a reply to a line it could not use). */
	servererror: [ProtocolError];
	disconnect: [{ error?: Error }];
};

export type ObserverStreamClientOptions = {
	socketPath: string;
	requestTimeoutMs?: number;
	connectTimeoutMs?: number;
	/** Reconnect (with backoff) after the connection drops. Off by default. */
	autoReconnect?: boolean;
};

type PendingRequest = { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

/**
 * A client of the observer stream that keeps a local mirror of the server's ObservedState: the
 * snapshot on connect, then every event in order. A sequence gap triggers a snapshot request.
 * `request()` sends a protocol request and resolves with its result.
 */
export class ObserverStreamClient extends TypedEmitter<ObserverStreamClientEvents> {
	readonly socketPath: string;
	readonly #requestTimeoutMs: number;
	readonly #connectTimeoutMs: number;
	readonly #autoReconnect: boolean;
	#socket?: net.Socket;
	#state: ObservedState = emptyState();
	#seq = -1;
	#hello?: Hello;
	#synced = false;
	#resyncing = false;
	#nextRequestId = 1;
	readonly #pending = new Map<number, PendingRequest>();
	#reconnectDelayMs = RECONNECT_MIN_DELAY_MS;
	#reconnectTimer?: NodeJS.Timeout;
	/** Rejects the connect() in progress, if any. */
	#failConnect?: (error: Error) => void;
	#closed = false;

	constructor({
		socketPath,
		requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
		connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
		autoReconnect = false
	}: ObserverStreamClientOptions) {
		super();
		if (typeof socketPath !== 'string' || !socketPath) throw new TypeError('socketPath must be a non-empty string');
		this.socketPath = socketPath;
		this.#requestTimeoutMs = requestTimeoutMs;
		this.#connectTimeoutMs = connectTimeoutMs;
		this.#autoReconnect = autoReconnect;
	}

	/** The mirror. Do not change it; it is replaced on snapshot and updated in place on events. */
	get state(): Readonly<ObservedState> {
		return this.#state;
	}

	/** Sequence number the mirror is current to (-1 before the first snapshot). */
	get seq(): number {
		return this.#seq;
	}

	get hello(): Hello | undefined {
		return this.#hello;
	}

	/** Connected and holding a snapshot. */
	get connected(): boolean {
		return this.#synced && this.#socket !== undefined && !this.#socket.destroyed;
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** Connects and resolves once the first snapshot is applied. */
	async connect(): Promise<void> {
		if (this.#closed) throw new ObserverDisconnectedError('client closed');
		if (this.connected) return;
		this.#disconnect();
		const socket = net.connect(this.socketPath);
		this.#socket = socket;
		this.#synced = false;
		this.#resyncing = false;
		const decoder = new StringDecoder('utf8');
		let buffered = '';
		socket.on('data', (chunk: Buffer) => {
			// Only the new text is searched for newlines: a multi-megabyte answer arrives in many
			// chunks, and searching the whole buffer each time would be quadratic.
			const text = decoder.write(chunk);
			let start = 0;
			let newline: number;
			while ((newline = text.indexOf('\n', start)) !== -1 && this.#socket === socket) {
				const line = buffered + text.slice(start, newline);
				buffered = '';
				start = newline + 1;
				this.#onLine(line);
			}
			buffered += text.slice(start);
		});
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(
				() => fail(new ObserverTimeoutError(`no snapshot from ${this.socketPath} within ${this.#connectTimeoutMs} ms`)),
				this.#connectTimeoutMs
			);
			const fail = (error: Error): void => {
				clearTimeout(timer);
				this.off('snapshot', onSnapshot);
				this.#failConnect = undefined;
				if (this.#socket === socket) this.#disconnect(error);
				reject(error);
			};
			const onSnapshot = (): void => {
				clearTimeout(timer);
				this.#failConnect = undefined;
				socket.off('error', fail);
				socket.off('close', onEarlyClose);
				resolve();
			};
			this.#failConnect = fail;
			const onEarlyClose = (): void => fail(new ObserverDisconnectedError(`${this.socketPath} closed before the snapshot`));
			socket.once('error', fail);
			socket.once('close', onEarlyClose);
			this.once('snapshot', onSnapshot);
		});
		socket.on('error', (error: Error) => logger.debug('socket error: %s', error.message));
		socket.on('close', () => {
			if (this.#socket === socket) this.#disconnect(new ObserverDisconnectedError('connection closed'));
		});
		this.#reconnectDelayMs = RECONNECT_MIN_DELAY_MS;
	}

	/** Drops the connection without closing the client (no auto-reconnect); connect() resumes. */
	disconnect(): void {
		this.#disconnect();
	}

	/** Drops the connection (if any) and connects again; the mirror is rebuilt from the snapshot. */
	async reconnect(): Promise<void> {
		this.#disconnect();
		await this.connect();
	}

	async request<M extends RequestMethod>(
		method: M,
		params: Requests[M]['params'],
		{ timeoutMs = this.#requestTimeoutMs }: { timeoutMs?: number } = {}
	): Promise<Requests[M]['result']> {
		const socket = this.#socket;
		if (!socket || socket.destroyed || this.#closed) throw new ObserverDisconnectedError('not connected');
		const id = this.#nextRequestId++;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new ObserverTimeoutError(`${method}: no answer within ${timeoutMs} ms`));
			}, timeoutMs);
			this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
			socket.write(`${JSON.stringify({ type: 'request', id, method, params })}\n`);
		});
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearTimeout(this.#reconnectTimer);
		this.#disconnect(new ObserverDisconnectedError('client closed'));
	}

	#disconnect(error?: Error): void {
		const socket = this.#socket;
		if (!socket) return;
		this.#socket = undefined;
		const failConnect = this.#failConnect;
		this.#failConnect = undefined;
		failConnect?.(error ?? new ObserverDisconnectedError('disconnected'));
		const wasSynced = this.#synced;
		this.#synced = false;
		socket.destroy();
		for (const [id, pending] of this.#pending) {
			clearTimeout(pending.timer);
			pending.reject(error ?? new ObserverDisconnectedError('disconnected'));
			this.#pending.delete(id);
		}
		if (wasSynced) this.emit('disconnect', { error });
		if (this.#autoReconnect && !this.#closed && error) this.#scheduleReconnect();
	}

	#scheduleReconnect(): void {
		clearTimeout(this.#reconnectTimer);
		const delay = this.#reconnectDelayMs;
		this.#reconnectDelayMs = Math.min(delay * 2, RECONNECT_MAX_DELAY_MS);
		this.#reconnectTimer = setTimeout(() => {
			this.connect().catch((error: Error) => logger.debug('reconnect failed: %s', error.message));
		}, delay);
	}

	#onLine(line: string): void {
		if (line === '') return;
		let message: ServerMessage;
		try {
			message = JSON.parse(line) as ServerMessage;
		} catch (error) {
			this.#disconnect(new ObserverProtocolError(`not JSON from server: ${(error as Error).message}`));
			return;
		}
		switch (message.type) {
			case 'hello':
				if (message.protocol !== 'meter-sfu-observer' || message.version !== PROTOCOL_VERSION) {
					this.#disconnect(
						new ObserverProtocolError(
							`server speaks ${message.protocol} v${message.version}; this client speaks v${PROTOCOL_VERSION}`
						)
					);
					return;
				}
				this.#hello = message;
				this.emit('hello', message);
				break;
			case 'snapshot':
				this.#applySnapshot(message.state, message.seq);
				break;
			case 'event':
				this.#onEvent(message);
				break;
			case 'response':
				this.#onResponse(message.id, message.ok ? { result: message.result } : { error: message.error });
				break;
			case 'error':
				logger.warn('server: %s: %s', message.error.name, message.error.message);
				this.emit('servererror', message.error);
				break;
			default:
				logger.debug('ignoring message of type %s', (message as { type?: unknown }).type);
		}
	}

	#applySnapshot(state: ObservedState, seq: number): void {
		// Fill kinds a server of an earlier minor revision may not send.
		this.#state = { ...emptyState(), ...state };
		this.#seq = seq;
		this.#synced = true;
		this.#resyncing = false;
		this.emit('snapshot', this.#state);
	}

	#onEvent(event: StateEvent): void {
		if (!this.#synced || this.#resyncing || event.seq <= this.#seq) return;
		if (event.seq !== this.#seq + 1) {
			logger.warn('event %d after %d: resyncing', event.seq, this.#seq);
			this.emit('gap', { expectedSeq: this.#seq + 1, seq: event.seq });
			this.#resync();
			return;
		}
		this.#seq = event.seq;
		const { type: _type, seq: _seq, ...change } = event;
		applyStateChange(this.#state, change as StateChange);
		this.emit('change', event);
	}

	#resync(): void {
		this.#resyncing = true;
		this.request('snapshot', {}).then(
			(snapshot) => this.#applySnapshot(snapshot.state, snapshot.seq),
			(error: Error) => {
				logger.warn('resync failed: %s', error.message);
				this.#disconnect(error);
			}
		);
	}

	#onResponse(id: string | number, outcome: { result: unknown } | { error: ProtocolError }): void {
		const pending = typeof id === 'number' ? this.#pending.get(id) : undefined;
		if (!pending) return;
		this.#pending.delete(id as number);
		clearTimeout(pending.timer);
		if ('error' in outcome) pending.reject(new ObserverRequestError(outcome.error));
		else pending.resolve(outcome.result);
	}
}
