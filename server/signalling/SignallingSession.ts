import type { Socket } from 'socket.io';
import type { Config } from '../../config/configSchema.js';
import { Logger } from '../base/Logger.js';
import type { MeetingCounters } from '../sfu/MeetingCounters.js';
import type { Peer } from '../sfu/Peer.js';
import type { ClientToServerEvents, NotificationMessage, RequestMessage, Response, ServerToClientEvents } from '../contract/signalling.js';
import { isLoopbackAddress } from './loopbackAddress.js';
import { NotJoinedError, RateLimitError } from '../base/errors.js';
import { toClientError, wireError } from './clientErrors.js';
import type { RequestContext, RequestHandler, RequestSession, RoomDirectory } from './RequestHandler.js';
import { requestHandlers } from './requestHandlers.js';
import { RejectedMessageError, type RequestValidator } from './RequestValidator.js';
import { TokenBucket } from './TokenBucket.js';

const logger = new Logger('SignallingSession');

/** Requests one socket may have queued; a client awaits its answers, so more means a flood. */
const MAX_QUEUED_REQUESTS = 32;
const MAX_USER_AGENT_LENGTH = 256;

export type SignallingSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/**
 * One socket.io connection: checks each message at the edge, runs its handler, answers through
 * the ack. Requests of one socket run one at a time, in order, so a client cannot race itself
 * (two joins, a produce during leave). No input throws out of here.
 */
export class SignallingSession implements RequestSession {
	readonly userAgent: string;
	readonly fromLoopback: boolean;
	readonly #socket: SignallingSocket;
	readonly #validator: RequestValidator;
	readonly #counters: MeetingCounters;
	readonly #rooms: RoomDirectory;
	readonly #config: Config;
	readonly #rateLimit: TokenBucket;
	#peer: Peer | undefined;
	#queue: Promise<void> = Promise.resolve();
	#queued = 0;
	#closed = false;

	constructor({
		socket,
		validator,
		counters,
		rooms,
		config
	}: {
		socket: SignallingSocket;
		validator: RequestValidator;
		counters: MeetingCounters;
		rooms: RoomDirectory;
		config: Config;
	}) {
		this.#socket = socket;
		this.#validator = validator;
		this.#counters = counters;
		this.#rooms = rooms;
		this.#config = config;
		const { requestsPerSecond, burst } = config.signalling.rateLimit;
		this.#rateLimit = new TokenBucket({ ratePerSecond: requestsPerSecond, burst });
		const userAgent = socket.handshake.headers['user-agent'];
		this.userAgent = typeof userAgent === 'string' ? userAgent.slice(0, MAX_USER_AGENT_LENGTH) : '';
		this.fromLoopback = isLoopbackAddress(socket.handshake.address);
		// socket.io passes whatever the client sent: the listener takes unknowns and checks them.
		socket.on('request', ((message: unknown, ack: unknown) => this.#onRequest(message, ack)) as ClientToServerEvents['request']);
		socket.onAny((event: unknown) => {
			if (event === 'request') return; // #onRequest takes its token
			this.#counters.rejected(this.#rateLimit.take() ? 'unknown_event' : 'rate_limit');
		});
		socket.on('disconnect', (reason, description) => {
			// socket.io closes a WebSocket whose message exceeds maxHttpBufferSize (polling gets a 413).
			if (reason === 'transport error' && /max payload size/i.test(String((description as Error | undefined)?.message))) {
				this.#counters.rejected('payload_too_large');
			}
			this.close();
		});
	}

	get peer(): Peer | undefined {
		return this.#peer;
	}

	attachPeer(peer: Peer): void {
		// The socket went away while the join was under way: no peer may outlive it.
		if (this.#closed) {
			peer.close();
			throw new NotJoinedError('the connection closed');
		}
		this.#peer = peer;
		peer.once('@close', () => {
			if (this.#peer === peer) this.#peer = undefined;
		});
	}

	notify(message: NotificationMessage): void {
		if (!this.#closed) this.#socket.emit('notification', message);
	}

	/** The socket is gone: leave the room. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#peer?.close();
		this.#peer = undefined;
	}

	#onRequest(message: unknown, ack: unknown): void {
		const startedAt = process.hrtime.bigint();
		// Every message takes a token, good or bad: a flood of garbage is a flood all the same.
		const withinRate = this.#rateLimit.take();
		// Without an ack there is nobody to answer; doing the work anyway would only cost.
		if (typeof ack !== 'function') {
			this.#counters.rejected(withinRate ? 'no_ack' : 'rate_limit');
			return;
		}
		const respond = (method: string, response: Response<unknown>): void => {
			const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
			this.#counters.request(method, response.ok ? 'ok' : response.error.name, seconds);
			try {
				(ack as (response: Response<unknown>) => void)(response);
			} catch (error) {
				logger.warn('ack failed: %s', (error as Error).message);
			}
		};
		if (!withinRate) {
			this.#counters.rejected('rate_limit');
			const { requestsPerSecond, burst } = this.#config.signalling.rateLimit;
			respond(this.#validator.methodOf(message) ?? '_unknown', {
				ok: false,
				error: wireError(new RateLimitError(`more than ${burst} messages at once or ${requestsPerSecond} per second; slow down`))
			});
			return;
		}
		let request: RequestMessage;
		try {
			request = this.#validator.validate(message);
		} catch (error) {
			if (error instanceof RejectedMessageError) {
				this.#counters.rejected(error.reason);
				respond(error.method ?? '_unknown', { ok: false, error: wireError(error.error) });
			} else {
				logger.warn('validation failed unexpectedly: %s', (error as Error).message);
				respond(this.#validator.methodOf(message) ?? '_unknown', { ok: false, error: wireError(toClientError(error).error) });
			}
			return;
		}
		if (this.#queued >= MAX_QUEUED_REQUESTS) {
			this.#counters.rejected('rate_limit');
			respond(request.method, {
				ok: false,
				error: wireError(new RateLimitError(`more than ${MAX_QUEUED_REQUESTS} requests waiting; await the answers`))
			});
			return;
		}
		this.#queued++;
		this.#queue = this.#queue
			.then(() => this.#handle(request, respond))
			.finally(() => {
				this.#queued--;
			});
	}

	/** Never rejects: every outcome becomes a response. */
	async #handle(request: RequestMessage, respond: (method: string, response: Response<unknown>) => void): Promise<void> {
		const followUps: (() => void)[] = [];
		const ctx: RequestContext = {
			session: this,
			rooms: this.#rooms,
			config: this.#config,
			requirePeer: () => {
				if (!this.#peer) throw new NotJoinedError();
				return this.#peer;
			},
			afterResponse: (fn) => followUps.push(fn)
		};
		let response: Response<unknown>;
		try {
			if (this.#closed) throw new NotJoinedError('the connection closed');
			const handler = requestHandlers[request.method] as RequestHandler<typeof request.method>;
			response = { ok: true, data: await handler(ctx, request.data as never) };
		} catch (error) {
			const { error: requestError, expected } = toClientError(error);
			if (!expected) logger.warn('%s failed: %s', request.method, error instanceof Error ? error.message : String(error));
			response = { ok: false, error: wireError(requestError) };
		}
		respond(request.method, response);
		if (!response.ok) return;
		for (const fn of followUps) {
			try {
				fn();
			} catch (error) {
				logger.warn('%s follow-up failed: %s', request.method, (error as Error).message);
			}
		}
	}
}
