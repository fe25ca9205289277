import { Logger } from '../Logger.js';
import type { ObserverSource } from './ObserverSource.js';

const logger = new Logger('StatsSweep');

/** Batches in flight at once; a batch's ids are fetched concurrently by the server. */
const MAX_BATCHES_IN_FLIGHT = 4;
/** The server's answer needs a moment to travel back before our own deadline. */
const ANSWER_MARGIN_MS = 50;
/** The observer protocol's bounds on getStats' timeoutMs. */
const MIN_SERVER_TIMEOUT_MS = 1;
const MAX_SERVER_TIMEOUT_MS = 60_000;

export type StatsSweepResult = {
	stats: Map<string, readonly unknown[]>;
	errors: Map<string, string>;
	/** Ids with no answer: the server's timed-out ones plus those not answered or not started by the deadline. */
	timedOut: Set<string>;
};

/**
 * One stats sweep: getStats() of the given objects through the observer stream, in batches, at most
 * `concurrency` objects in flight, all bounded by one deadline. Results accumulate as batches
 * answer, so `result()` taken at the deadline holds whatever arrived (edumeet awaited every object
 * in turn, with no deadline).
 */
export class StatsSweep {
	readonly #source: ObserverSource;
	readonly #deadline: number;
	readonly #queue: string[][] = [];
	readonly #stats = new Map<string, readonly unknown[]>();
	readonly #errors = new Map<string, string>();
	readonly #serverTimedOut = new Set<string>();
	readonly #ids: readonly string[];
	/** Resolves when every batch has answered (not at the deadline: race it with your own timer). */
	readonly done: Promise<void>;

	static start({ source, ids, deadline, concurrency }: { source: ObserverSource; ids: readonly string[]; deadline: number; concurrency: number }): StatsSweep {
		if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError('concurrency must be a positive integer');
		return new StatsSweep(source, [...new Set(ids)], deadline, concurrency);
	}

	private constructor(source: ObserverSource, ids: string[], deadline: number, concurrency: number) {
		this.#source = source;
		this.#deadline = deadline;
		this.#ids = ids;
		const batches = Math.min(MAX_BATCHES_IN_FLIGHT, concurrency);
		const batchSize = Math.max(1, Math.floor(concurrency / batches));
		for (let i = 0; i < ids.length; i += batchSize) this.#queue.push(ids.slice(i, i + batchSize));
		const runners = Array.from({ length: Math.min(batches, this.#queue.length) }, () => this.#run());
		this.done = Promise.all(runners).then(() => undefined);
	}

	/** What has arrived so far; ids without an answer count as timed out. */
	result(): StatsSweepResult {
		const timedOut = new Set<string>();
		for (const id of this.#ids) {
			if (!this.#stats.has(id) && !this.#errors.has(id)) timedOut.add(id);
		}
		for (const id of this.#serverTimedOut) timedOut.add(id);
		return { stats: new Map(this.#stats), errors: new Map(this.#errors), timedOut };
	}

	async #run(): Promise<void> {
		for (let batch = this.#queue.shift(); batch; batch = this.#queue.shift()) {
			const remaining = this.#deadline - Date.now() - ANSWER_MARGIN_MS;
			// Too late to start: these ids stay unanswered and are reported as timed out.
			if (remaining < MIN_SERVER_TIMEOUT_MS) return;
			const timeoutMs = Math.min(MAX_SERVER_TIMEOUT_MS, Math.floor(remaining));
			try {
				const answer = await this.#source.request('getStats', { ids: batch, timeoutMs }, { timeoutMs: timeoutMs + ANSWER_MARGIN_MS });
				for (const [id, entries] of Object.entries(answer.stats)) {
					if (Array.isArray(entries)) this.#stats.set(id, entries);
				}
				for (const [id, message] of Object.entries(answer.errors)) this.#errors.set(id, String(message));
				for (const id of answer.timedOut) this.#serverTimedOut.add(id);
			} catch (error) {
				// The request itself failed (stream down, request timed out): the batch's objects have
				// no stats this time. A timeout stays "timed out"; anything else is an error.
				const { name, message } = error as Error;
				logger.debug('getStats batch of %d failed: %s: %s', batch.length, name, message);
				if (!/timeout/i.test(name)) for (const id of batch) this.#errors.set(id, `${name}: ${message}`);
			}
		}
	}
}
