import { Logger } from '../../base/Logger.js';
import type { ObserverSource } from './ObserverSource.js';
import { StatsTable } from './StatsTable.js';
import { STATS_FIELDS, statsRows, type StatsRow } from './mediasoupStats.js';

const logger = new Logger('StatsSweep');

/**
 * Requests are small, so that answers flow back through the sweep: each is parsed and written as
 * exposition lines while the worker still answers the others, and little is left after its last
 * answer. Each costs a message both ways, though: 4 requests of 64 ids in flight took 1.7 ms less
 * CPU per scrape at 200/2000 than 8 of 32. `concurrency` is split over about TARGET_REQUESTS
 * requests of at most MAX_BATCH_SIZE ids (the server's bound per request), and never more than
 * MAX_REQUESTS_IN_FLIGHT (the stream allows 32 per connection; counters, usage and the overview
 * need some).
 */
const TARGET_REQUESTS = 4;
const MAX_BATCH_SIZE = 64;
const MAX_REQUESTS_IN_FLIGHT = 16;
/** The server's answer needs a moment to travel back before our own deadline. */
const ANSWER_MARGIN_MS = 50;
/** What each request asks for: rows of these fields. */
const FIELDS: string[] = [...STATS_FIELDS];
/** The observer protocol's bounds on getStats' timeoutMs. */
const MIN_SERVER_TIMEOUT_MS = 1;
const MAX_SERVER_TIMEOUT_MS = 60_000;

export type StatsSweepResult = {
	stats: StatsTable;
	errors: Map<string, string>;
	/** Ids with no answer: the server's timed-out ones plus those not answered or not started by the deadline. */
	timedOut: Set<string>;
};

type StatsSweepOptions = {
	source: ObserverSource;
	groups: readonly (readonly string[])[];
	deadline: number;
	concurrency: number;
	reuse?: StatsTable;
	onStats?: (stats: ReadonlyMap<string, readonly StatsRow[]>) => void;
};

/**
 * One stats sweep: getStats() of the given objects through the observer stream, in small requests,
 * at most `concurrency` objects in flight, all bounded by one deadline. Results accumulate as batches
 * answer, so `stop()` at the deadline returns whatever arrived (edumeet awaited every object
 * in turn, with no deadline).
 */
export class StatsSweep {
	readonly #source: ObserverSource;
	readonly #deadline: number;
	readonly #queue: string[][] = [];
	readonly #table: StatsTable;
	readonly #errors = new Map<string, string>();
	readonly #serverTimedOut = new Set<string>();
	readonly #ids: readonly string[];
	readonly #perRequestConcurrency: number;
	readonly #onStats?: (stats: ReadonlyMap<string, readonly StatsRow[]>) => void;
	#stopped = false;
	/** Resolves when every batch has answered (not at the deadline: race it with your own timer). */
	readonly done: Promise<void>;

	/**
	 * `groups`: the ids, in groups whose first id should share a request with the next (a producer,
	 * then its consumers: the server then takes the producer's stats from a consumer's answer).
	 * `reuse`: an earlier sweep's table, whose memory this one's takes over (see StatsTable).
	 * `onStats`: called with each request's stats as they arrive, until stop().
	 */
	static start(options: StatsSweepOptions): StatsSweep {
		if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
			throw new TypeError('concurrency must be a positive integer');
		return new StatsSweep(options);
	}

	private constructor({ source, groups, deadline, concurrency, reuse, onStats }: StatsSweepOptions) {
		this.#source = source;
		this.#deadline = deadline;
		this.#onStats = onStats;
		const batchSize = Math.min(MAX_BATCH_SIZE, Math.ceil(concurrency / TARGET_REQUESTS));
		this.#perRequestConcurrency = batchSize;
		const seen = new Set<string>();
		let batch: string[] = [];
		const close = (): void => {
			this.#queue.push(batch);
			batch = [];
		};
		for (const group of groups) {
			const fresh = group.filter((id) => !seen.has(id));
			fresh.forEach((id, i) => {
				seen.add(id);
				// A group's first id never ends a request: the ones after it must be in the same one.
				if (i === 0 && fresh.length > 1 && batch.length > 0 && batch.length === batchSize - 1) close();
				batch.push(id);
				if (batch.length === batchSize) close();
			});
		}
		if (batch.length > 0) this.#queue.push(batch);
		this.#ids = [...seen];
		this.#table = StatsTable.create(this.#ids.length, reuse);
		const requests = Math.min(MAX_REQUESTS_IN_FLIGHT, Math.max(1, Math.floor(concurrency / batchSize)));
		const runners = Array.from({ length: Math.min(requests, this.#queue.length) }, () => this.#run());
		this.done = Promise.all(runners).then(() => undefined);
	}

	/** Where the stats are kept (stop() returns it). */
	get table(): StatsTable {
		return this.#table;
	}

	/**
	 * Ends the sweep for its snapshot and returns what has arrived; ids without an answer count as
	 * timed out. Answers that still come are dropped and `onStats` is not called again (they belong
	 * to no scrape), so the table is its snapshot's from then on and needs no copy (until the sweep
	 * after next takes its memory, see StatsTable).
	 */
	stop(): StatsSweepResult {
		this.#stopped = true;
		const timedOut = new Set<string>();
		for (const id of this.#ids) {
			if (!this.#table.has(id) && !this.#errors.has(id)) timedOut.add(id);
		}
		for (const id of this.#serverTimedOut) timedOut.add(id);
		return { stats: this.#table, errors: this.#errors, timedOut };
	}

	#notifyStats(stats: ReadonlyMap<string, readonly StatsRow[]>): void {
		try {
			this.#onStats?.(stats);
		} catch (error) {
			logger.error('onStats failed: %s', (error as Error).stack ?? error);
		}
	}

	async #run(): Promise<void> {
		for (let batch = this.#queue.shift(); batch; batch = this.#queue.shift()) {
			const remaining = this.#deadline - Date.now() - ANSWER_MARGIN_MS;
			// Too late to start: these ids stay unanswered and are reported as timed out.
			if (remaining < MIN_SERVER_TIMEOUT_MS) return;
			const timeoutMs = Math.min(MAX_SERVER_TIMEOUT_MS, Math.floor(remaining));
			try {
				const answer = await this.#source.request(
					'getStats',
					{
						ids: batch,
						timeoutMs,
						concurrency: this.#perRequestConcurrency,
						fields: FIELDS,
						ownEntriesOnly: true,
						rows: true
					},
					{ timeoutMs: timeoutMs + ANSWER_MARGIN_MS }
				);
				if (this.#stopped) return;
				// Keyed by the ids asked (answers for others are ignored). The rows go to `onStats` as
				// they came and into the table packed: these die young, the table is reused.
				const arrived = new Map<string, readonly StatsRow[]>();
				const { stats } = answer;
				for (const id of batch) {
					const entries = Object.hasOwn(stats, id) ? stats[id] : undefined;
					if (Array.isArray(entries)) {
						const rows = statsRows(entries);
						this.#table.add(id, rows);
						arrived.set(id, rows);
					}
				}
				this.#notifyStats(arrived);
				for (const [id, message] of Object.entries(answer.errors)) this.#errors.set(id, String(message));
				for (const id of answer.timedOut) this.#serverTimedOut.add(id);
			} catch (error) {
				// The request itself failed (stream down, request timed out): the batch's objects have
				// no stats this time. A timeout stays "timed out"; anything else is an error.
				if (this.#stopped) return;
				const { name, message } = error as Error;
				logger.debug('getStats batch of %d failed: %s: %s', batch.length, name, message);
				if (!/timeout/i.test(name)) for (const id of batch) this.#errors.set(id, `${name}: ${message}`);
			}
		}
	}
}
