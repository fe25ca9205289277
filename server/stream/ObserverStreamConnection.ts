import type net from 'node:net';
import { Logger } from '../base/Logger.js';
import { TypedEmitter } from '../base/TypedEmitter.js';
import { MAX_CLIENT_LINE_BYTES, type ProtocolError, type ServerMessage } from './protocol.js';

const logger = new Logger('ObserverStreamConnection');

/** Requests one client may have in flight; more get an error (a client cannot queue unbounded work). */
export const MAX_INFLIGHT_REQUESTS = 32;
const MAX_REQUEST_ID_LENGTH = 128;

export type InboundRequest = {
	id: string | number;
	method: string;
	params: Record<string, unknown>;
	/** Answers the request (once; later calls and calls after close are ignored). */
	reply(outcome: { result: unknown } | { error: ProtocolError }): void;
};

export type ObserverStreamConnectionEvents = {
	request: [InboundRequest];
	/** The connection is gone; `reason` says why (e.g. 'end', 'backlog', 'server closed'). */
	close: [{ reason: string }];
};

/**
 * One client of the observer stream: splits its input into lines (bounded), checks the request
 * envelope, and writes NDJSON to it while its unsent backlog stays under the bound.
 */
export class ObserverStreamConnection extends TypedEmitter<ObserverStreamConnectionEvents> {
	readonly id: number;
	readonly #socket: net.Socket;
	readonly #maxBacklogBytes: number;
	#pending: Buffer[] = [];
	#pendingBytes = 0;
	/** Inside an oversized line: its rest is dropped up to the next newline. */
	#discarding = false;
	#inflight = 0;
	#peakBacklogBytes = 0;
	/** Extra room for the largest snapshot sent, so a big state does not lock clients out. */
	#slackBytes = 0;
	#closed = false;

	constructor({ id, socket, maxBacklogBytes }: { id: number; socket: net.Socket; maxBacklogBytes: number }) {
		super();
		this.id = id;
		this.#socket = socket;
		this.#maxBacklogBytes = maxBacklogBytes;
		socket.on('data', (chunk: Buffer) => this.#onData(chunk));
		socket.on('error', (error: Error) => logger.debug('client %d: %s', id, error.message));
		socket.on('close', () => this.close('end'));
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** Bytes written to this client that the kernel has not taken yet. */
	get backlogBytes(): number {
		return this.#socket.writableLength;
	}

	/** The largest backlog seen after a write (for tests and diagnostics). */
	get peakBacklogBytes(): number {
		return this.#peakBacklogBytes;
	}

	send(message: ServerMessage): void {
		const line = `${JSON.stringify(message)}\n`;
		// A snapshot may be larger than the bound on its own: the bound counts on top of it.
		if (message.type === 'snapshot' || (message.type === 'response' && message.ok && isSnapshot(message.result))) {
			this.#slackBytes = Math.max(this.#slackBytes, Buffer.byteLength(line));
		}
		this.sendLine(line);
	}

	/**
	 * Writes one serialised line; drops the client when its backlog passes the bound (plus the
	 * largest snapshot it was sent), so a client that does not read costs bounded memory.
	 */
	sendLine(line: string): void {
		if (this.#closed) return;
		this.#socket.write(line);
		const backlog = this.#socket.writableLength;
		if (backlog > this.#peakBacklogBytes) this.#peakBacklogBytes = backlog;
		const bound = this.#maxBacklogBytes + this.#slackBytes;
		if (backlog > bound) {
			logger.warn('client %d: %d bytes unsent (bound %d); dropping it', this.id, backlog, bound);
			this.close('backlog');
		}
	}

	close(reason: string): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#pending = [];
		// destroy(), not end(): a client that does not read would keep the backlog alive.
		this.#socket.destroy();
		this.emit('close', { reason });
	}

	#onData(chunk: Buffer): void {
		let start = 0;
		while (start < chunk.length && !this.#closed) {
			const newline = chunk.indexOf(0x0a, start);
			const end = newline === -1 ? chunk.length : newline;
			if (!this.#discarding) {
				if (this.#pendingBytes + (end - start) > MAX_CLIENT_LINE_BYTES) {
					this.#discarding = true;
					this.#pending = [];
					this.#pendingBytes = 0;
					this.#sendError('PayloadTooLargeError', `line longer than ${MAX_CLIENT_LINE_BYTES} bytes; ignored`);
				} else {
					this.#pending.push(chunk.subarray(start, end));
					this.#pendingBytes += end - start;
				}
			}
			if (newline === -1) break;
			if (!this.#discarding) {
				const line = Buffer.concat(this.#pending, this.#pendingBytes).toString('utf8');
				this.#pending = [];
				this.#pendingBytes = 0;
				this.#onLine(line);
			}
			this.#discarding = false;
			start = newline + 1;
		}
	}

	#onLine(line: string): void {
		if (line.trim() === '') return;
		let message: unknown;
		try {
			message = JSON.parse(line);
		} catch (error) {
			this.#sendError('BadRequestError', `not JSON: ${(error as Error).message}`);
			return;
		}
		if (typeof message !== 'object' || message === null || Array.isArray(message)) {
			this.#sendError('BadRequestError', 'expected a JSON object');
			return;
		}
		const { type, id, method, params } = message as Record<string, unknown>;
		if (type !== 'request') {
			this.#sendError('BadRequestError', 'expected type "request"');
			return;
		}
		if (!((typeof id === 'string' && id.length <= MAX_REQUEST_ID_LENGTH) || (typeof id === 'number' && Number.isFinite(id)))) {
			this.#sendError('BadRequestError', `id: expected a string of at most ${MAX_REQUEST_ID_LENGTH} characters or a finite number`);
			return;
		}
		const respondError = (name: string, text: string): void =>
			this.send({ type: 'response', id, ok: false, error: { name, message: text } });
		if (typeof method !== 'string') {
			respondError('BadRequestError', 'method: expected a string');
			return;
		}
		if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
			respondError('BadRequestError', 'params: expected an object');
			return;
		}
		if (this.#inflight >= MAX_INFLIGHT_REQUESTS) {
			respondError('TooManyRequestsError', `more than ${MAX_INFLIGHT_REQUESTS} requests in flight`);
			return;
		}
		this.#inflight++;
		let answered = false;
		this.emit('request', {
			id,
			method,
			params: (params ?? {}) as Record<string, unknown>,
			reply: (outcome) => {
				if (answered) return;
				answered = true;
				this.#inflight--;
				if ('error' in outcome) this.send({ type: 'response', id, ok: false, error: outcome.error });
				else this.send({ type: 'response', id, ok: true, result: outcome.result });
			}
		});
	}

	#sendError(name: string, message: string): void {
		this.send({ type: 'error', error: { name, message } });
	}
}

function isSnapshot(value: unknown): boolean {
	return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'snapshot';
}
