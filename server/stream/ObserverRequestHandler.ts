import debug from 'debug';
import { Logger } from '../base/Logger.js';
import type { SfuObserver, MediasoupObjects } from '../observer/SfuObserver.js';
import type { Requests, RequestMethod } from './protocol.js';
import { BadRequestError, NotFoundError, UnavailableError, UnknownMethodError } from '../base/errors.js';

const logger = new Logger('ObserverRequestHandler');

/** Bounds on a getStats request: it must not be able to hog the workers' channels. */
export const MAX_STATS_IDS = 20_000;
export const DEFAULT_STATS_TIMEOUT_MS = 5_000;
export const MAX_STATS_TIMEOUT_MS = 60_000;
/** getStats() calls in flight at once per request (one Promise.all over thousands stalls a busy worker). */
export const DEFAULT_STATS_CONCURRENCY = 64;
const MAX_ID_LENGTH = 128;
/** getStats' `fields`: how many, and what a field name looks like. */
const MAX_STATS_FIELDS = 64;
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const MAX_NAMESPACES_LENGTH = 1_000;
const DUMP_ENTITIES = ['worker', 'webRtcServer', 'router', 'transport', 'producer', 'consumer'] as const;
/** In the order looked up: most ids in a sweep are consumers'. */
const STATS_ENTITIES = ['consumer', 'producer', 'transport'] as const;

/** Requests the handler answers; `snapshot` is the stream's own (it knows the sequence number). */
export type HandledMethod = Exclude<RequestMethod, 'snapshot'>;
type Handlers = { [M in HandledMethod]: (params: Record<string, unknown>) => Promise<Requests[M]['result']> };

/**
 * Answers the observer protocol's requests from the SfuObserver's id → object maps. Every input is
 * validated here (the stream only checks the envelope); errors are thrown as named classes.
 */
export class ObserverRequestHandler {
	readonly #sfuObserver: SfuObserver;
	readonly #statsConcurrency: number;
	readonly #handlers: Handlers;

	constructor({ sfuObserver, statsConcurrency = DEFAULT_STATS_CONCURRENCY }: { sfuObserver: SfuObserver; statsConcurrency?: number }) {
		if (!Number.isInteger(statsConcurrency) || statsConcurrency < 1) throw new TypeError('statsConcurrency must be a positive integer');
		this.#sfuObserver = sfuObserver;
		this.#statsConcurrency = statsConcurrency;
		this.#handlers = {
			getStats: (params) => this.#getStats(params),
			dump: (params) => this.#dump(params),
			usage: () => this.#usage(),
			counters: () => this.#counters(),
			setLogLevel: (params) => this.#setLogLevel(params)
		};
	}

	handles(method: string): method is HandledMethod {
		return Object.prototype.hasOwnProperty.call(this.#handlers, method);
	}

	async handle(method: string, params: Record<string, unknown>): Promise<unknown> {
		if (!this.handles(method)) throw new UnknownMethodError(`unknown method ${JSON.stringify(method.slice(0, 64))}`);
		return this.#handlers[method](params);
	}

	#getStats(params: Record<string, unknown>): Promise<Requests['getStats']['result']> {
		const {
			ids,
			timeoutMs = DEFAULT_STATS_TIMEOUT_MS,
			concurrency = this.#statsConcurrency,
			fields,
			ownEntriesOnly = false,
			rows = false
		} = params;
		if (!Array.isArray(ids) || ids.length > MAX_STATS_IDS || !ids.every(isId)) {
			throw new BadRequestError(`ids: expected an array of at most ${MAX_STATS_IDS} id strings`);
		}
		if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_STATS_TIMEOUT_MS) {
			throw new BadRequestError(`timeoutMs: expected an integer from 1 to ${MAX_STATS_TIMEOUT_MS}`);
		}
		// A client may ask for less than the server's bound (to split it over requests), never more.
		if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1) {
			throw new BadRequestError('concurrency: expected a positive integer');
		}
		if (fields !== undefined && (!Array.isArray(fields) || fields.length > MAX_STATS_FIELDS || !fields.every(isFieldName))) {
			throw new BadRequestError(`fields: expected an array of at most ${MAX_STATS_FIELDS} field names`);
		}
		if (typeof ownEntriesOnly !== 'boolean') throw new BadRequestError('ownEntriesOnly: expected a boolean');
		if (typeof rows !== 'boolean') throw new BadRequestError('rows: expected a boolean');
		if (rows && fields === undefined) throw new BadRequestError("rows: needs fields (the order of a row's values)");
		const shape = rows ? rowShape(fields as string[]) : fields ? projection(fields as string[]) : undefined;
		const unique = [...new Set(ids as string[])];
		const standIns = this.#producerStandIns(unique);
		const stoodIn = new Set(standIns.values());
		const queue = unique.filter((id) => !stoodIn.has(id));
		const pending = new Set(unique);
		const stats: Record<string, unknown[]> = {};
		const errors: Record<string, string> = {};
		const limit = Math.min(this.#statsConcurrency, concurrency);
		// Callbacks rather than async runners that await each id in turn: a sweep asks thousands,
		// and a suspended async frame with its promises costs more than the two callbacks.
		return new Promise((resolve) => {
			let inFlight = 0;
			let next = 0;
			let expired = false;
			const end = (): void => {
				if (expired) return;
				expired = true;
				clearTimeout(timer);
				resolve({ stats, errors, timedOut: [...pending] });
			};
			const failed = (id: string, message: string): void => {
				errors[id] = message;
				pending.delete(id);
				// The producer is asked itself after all.
				const standsInFor = standIns.get(id);
				if (standsInFor !== undefined) queue.push(standsInFor);
			};
			const answered = (id: string, isConsumer: boolean, result: unknown[]): void => {
				// One pass over the entries, shaped as they go (no filtered copies): a consumer's stats
				// end with a copy of its producer's inbound-rtp entry.
				const standsInFor = standIns.get(id);
				const own: unknown[] = [];
				const producers: unknown[] = [];
				for (const entry of result) {
					const producerCopy = isConsumer && isInboundRtp(entry);
					// Most such copies are dropped (one consumer per producer stands in for it): not shaped.
					if (producerCopy && ownEntriesOnly && standsInFor === undefined) continue;
					const shaped = shape ? shape(entry) : entry;
					if (producerCopy) {
						if (standsInFor !== undefined) producers.push(shaped);
						if (ownEntriesOnly) continue;
					}
					own.push(shaped);
				}
				if (standsInFor !== undefined) {
					stats[standsInFor] = producers;
					pending.delete(standsInFor);
				}
				stats[id] = own;
				pending.delete(id);
			};
			const settled = (): void => {
				inFlight--;
				askMore();
			};
			const askMore = (): void => {
				while (!expired && inFlight < limit && next < queue.length) {
					const id = queue[next++]!;
					const found = this.#statsTarget(id);
					let asking: Promise<unknown>;
					try {
						if (!found) throw new NotFoundError('not found');
						asking = found.target.getStats();
					} catch (error) {
						failed(id, (error as Error).message);
						continue;
					}
					inFlight++;
					const isConsumer = found.entity === 'consumer';
					asking.then(
						(result) => {
							try {
								if (!expired) answered(id, isConsumer, result as unknown[]);
							} catch (error) {
								// Not an array of entries: an error of this id, never an unhandled rejection.
								failed(id, (error as Error).message);
							}
							settled();
						},
						(error: Error) => {
							if (!expired) failed(id, error.message);
							settled();
						}
					);
				}
				if (inFlight === 0 && next >= queue.length) end();
			};
			const timer = setTimeout(end, timeoutMs);
			askMore();
		});
	}

	/**
	 * Consumer id → producer id, for the producers of this request whose stats one of their consumers
	 * in it can bring: a single-encoding producer's getStats() is its one inbound-rtp entry, and a
	 * simple consumer's getStats() ends with a copy of that same entry (mediasoup's
	 * SimpleConsumer::FillJsonStats), so asking the worker for both would fill the same JSON twice.
	 * At 200 producers with 2,000 consumers that saves 200 of 2,400 worker requests per sweep.
	 */
	#producerStandIns(ids: readonly string[]): Map<string, string> {
		const producers = new Set<string>();
		for (const id of ids) {
			const producer = this.#sfuObserver.lookup('producer', id);
			if (producer && !producer.closed && producer.type === 'simple') producers.add(id);
		}
		const standIns = new Map<string, string>();
		if (producers.size === 0) return standIns;
		for (const id of ids) {
			const consumer = this.#sfuObserver.lookup('consumer', id);
			if (!consumer || consumer.closed || consumer.type !== 'simple' || !producers.has(consumer.producerId)) continue;
			standIns.set(id, consumer.producerId);
			producers.delete(consumer.producerId);
		}
		return standIns;
	}

	#statsTarget(
		id: string
	): { entity: (typeof STATS_ENTITIES)[number]; target: MediasoupObjects['transport' | 'producer' | 'consumer'] } | undefined {
		for (const entity of STATS_ENTITIES) {
			const target = this.#sfuObserver.lookup(entity, id);
			if (target && !target.closed) return { entity, target };
		}
		return undefined;
	}

	async #dump(params: Record<string, unknown>): Promise<unknown> {
		const { entity, id } = params;
		if (typeof entity !== 'string' || !(DUMP_ENTITIES as readonly string[]).includes(entity)) {
			throw new BadRequestError(`entity: expected one of ${DUMP_ENTITIES.join(', ')}`);
		}
		if (!isId(id)) throw new BadRequestError('id: expected an id string');
		const target = this.#sfuObserver.lookup(entity as (typeof DUMP_ENTITIES)[number], id);
		if (!target || target.closed) throw new NotFoundError(`no ${entity} with id ${JSON.stringify(id)}`);
		return target.dump();
	}

	async #usage(): Promise<Requests['usage']['result']> {
		const cpu = process.cpuUsage();
		const memory = process.memoryUsage();
		const workers = await Promise.all(
			this.#sfuObserver
				.workers()
				.filter((w) => !w.closed)
				.map(async (worker) => {
					// ru_utime/ru_stime are milliseconds and ru_maxrss is KB (mediasoup's Worker.cpp).
					const usage = await worker.getResourceUsage();
					return {
						pid: worker.pid,
						cpuUserSeconds: usage.ru_utime / 1000,
						cpuSystemSeconds: usage.ru_stime / 1000,
						maxRssBytes: usage.ru_maxrss * 1024
					};
				})
		);
		return {
			server: {
				pid: process.pid,
				cpuUserSeconds: cpu.user / 1e6,
				cpuSystemSeconds: cpu.system / 1e6,
				rssBytes: memory.rss,
				heapUsedBytes: memory.heapUsed
			},
			workers
		};
	}

	async #counters(): Promise<Requests['counters']['result']> {
		const meetingServer = this.#sfuObserver.meetingServer;
		if (!meetingServer) throw new UnavailableError('no meeting server is attached to the observer');
		return meetingServer.counters.snapshot();
	}

	async #setLogLevel(params: Record<string, unknown>): Promise<Requests['setLogLevel']['result']> {
		const { namespaces } = params;
		if (namespaces === undefined) return { namespaces: currentNamespaces() };
		if (typeof namespaces !== 'string' || namespaces.length > MAX_NAMESPACES_LENGTH || !/^[\w:*,.\- ]*$/.test(namespaces)) {
			throw new BadRequestError('namespaces: expected debug namespaces such as "meter-sfu*,-meter-sfu:Room"');
		}
		logger.warn('log namespaces set to %s', JSON.stringify(namespaces));
		debug.enable(namespaces);
		return { namespaces: currentNamespaces() };
	}
}

/** debug 4 has no getter: disable() answers the namespaces in force, enable() puts them back. */
function currentNamespaces(): string {
	const namespaces = debug.disable();
	debug.enable(namespaces);
	return namespaces;
}

function isInboundRtp(entry: unknown): boolean {
	return (entry as { type?: unknown } | null)?.type === 'inbound-rtp';
}

function isFieldName(value: unknown): value is string {
	return typeof value === 'string' && FIELD_NAME.test(value);
}

/**
 * A stats entry as the values of `fields`, in that order (null for a field it lacks): no key is
 * repeated in every entry, and an array of a fixed length is cheaper to build, send and parse
 * than an object of the same fields.
 */
function rowShape(fields: readonly string[]): (entry: unknown) => unknown {
	const count = fields.length;
	return (entry) => {
		if (typeof entry !== 'object' || entry === null) return entry;
		const source = entry as Record<string, unknown>;
		const row = new Array<unknown>(count);
		for (let i = 0; i < count; i++) {
			const value = source[fields[i]!];
			row[i] = value === undefined ? null : value;
		}
		return row;
	};
}

/** Keeps only `fields` (and `type`) of a stats entry: smaller answers for clients that read a few. */
function projection(fields: readonly string[]): (entry: unknown) => unknown {
	const keep = [...new Set(['type', ...fields])];
	return (entry) => {
		if (typeof entry !== 'object' || entry === null) return entry;
		const source = entry as Record<string, unknown>;
		const out: Record<string, unknown> = {};
		for (const key of keep) if (source[key] !== undefined) out[key] = source[key];
		return out;
	};
}

function isId(value: unknown): value is string {
	return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}
