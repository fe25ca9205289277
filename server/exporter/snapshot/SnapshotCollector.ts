import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '../../base/Logger.js';
import type { ObservedState } from '../../observer/ObservedState.js';
import type { ObserverSource } from './ObserverSource.js';
import { StatsSweep, type StatsSweepResult } from './StatsSweep.js';
import type { StatsTable } from './StatsTable.js';
import type { StatsRow } from './mediasoupStats.js';
import {
	SNAPSHOT_PARTS,
	type ExporterTotals,
	type MetricsSnapshot,
	type PartOutcome,
	type SnapshotPart,
	type SweepOutcome
} from './MetricsSnapshot.js';

const logger = new Logger('SnapshotCollector');

/** Share of the scrape deadline left for building and serialising the metrics (at most 500 ms). */
const BUILD_SHARE = 0.1;
const MAX_BUILD_RESERVE_MS = 500;

export type SnapshotCollectorOptions = {
	source: ObserverSource;
	/** The whole scrape's deadline; the snapshot ends a little earlier so the answer makes it. */
	scrapeTimeoutMs: number;
	statsConcurrency: number;
	/** Without per-object series only transports are swept (their bitrates feed the totals). */
	perObjectMetrics: boolean;
	/** Told of every sweep as it runs (the per-object series are written from its answers). */
	listener?: SweepListener;
};

/** What follows each sweep as it runs: one sweep at a time, from sweepStarted() to the next. */
export type SweepListener = {
	sweepStarted(): void;
	/** Stats of some objects of the running sweep, as they arrived. */
	statsArrived(stats: ReadonlyMap<string, readonly StatsRow[]>): void;
};

/**
 * Takes the snapshot a scrape's metrics are built from: the mirror's state, one stats sweep, the
 * server's counters and usage, all started at once and bounded by one deadline. Scrapes that
 * arrive while a snapshot is being taken get the same one, so N concurrent scrapes cost one sweep.
 */
export class SnapshotCollector {
	readonly #source: ObserverSource;
	readonly #scrapeTimeoutMs: number;
	readonly #statsConcurrency: number;
	readonly #perObjectMetrics: boolean;
	readonly #listener?: SweepListener;
	readonly #totals: ExporterTotals = { sweeps: 0, statsErrors: 0, statsTimeouts: 0 };
	#inFlight?: Promise<MetricsSnapshot>;
	/** A scrape waits for the sweep in flight, so its answers go to the listener (the per-object series). */
	#seriesWanted = false;
	/**
	 * The last sweep's groups and the last copy of the state, with the mirror and `seq` they were
	 * made from: while neither changed, no object came, went or was replaced, so they still hold
	 * (at 2,000 consumers making them anew cost ~1.7 ms of a ~35 ms scrape on one core).
	 */
	#lastGroups?: { state: Readonly<ObservedState>; seq: number; value: string[][] };
	#lastCopy?: { state: Readonly<ObservedState>; seq: number; value: Readonly<ObservedState> };
	/**
	 * The stats tables of the last two sweeps: a new sweep takes over the memory of the older one.
	 * Its snapshot was read when it was taken (the exporter and the overview read a snapshot as soon
	 * as they have it), and the last one may still be being read.
	 */
	#tables: [StatsTable?, StatsTable?] = [];

	constructor({ source, scrapeTimeoutMs, statsConcurrency, perObjectMetrics, listener }: SnapshotCollectorOptions) {
		if (!Number.isInteger(scrapeTimeoutMs) || scrapeTimeoutMs < 1) throw new TypeError('scrapeTimeoutMs must be a positive integer');
		this.#source = source;
		this.#scrapeTimeoutMs = scrapeTimeoutMs;
		this.#statsConcurrency = statsConcurrency;
		this.#perObjectMetrics = perObjectMetrics;
		this.#listener = listener;
	}

	/**
	 * The snapshot in progress, or a new one. Never rejects. `forSeries` false (the overview page):
	 * the sweep's answers are not handed to the listener unless a scrape joins the sweep, so a page
	 * that polls does not pay for writing exposition lines nobody reads.
	 */
	collect({ forSeries = true }: { forSeries?: boolean } = {}): Promise<MetricsSnapshot> {
		if (!this.#inFlight) this.#seriesWanted = false;
		this.#seriesWanted ||= forSeries;
		if (!this.#inFlight) {
			this.#inFlight = this.#take().finally(() => {
				this.#inFlight = undefined;
			});
		}
		return this.#inFlight;
	}

	async #take(): Promise<MetricsSnapshot> {
		const startedAt = Date.now();
		const t0 = performance.now();
		const reserve = Math.min(MAX_BUILD_RESERVE_MS, this.#scrapeTimeoutMs * BUILD_SHARE);
		const deadline = startedAt + this.#scrapeTimeoutMs - reserve;
		const elapsed = (): number => (performance.now() - t0) / 1000;
		const parts = Object.fromEntries(SNAPSHOT_PARTS.map((p) => [p, { durationSeconds: 0, success: false }])) as Record<
			SnapshotPart,
			PartOutcome
		>;
		const source = this.#source;
		if (!source.connected) {
			return this.#snapshot({ state: null, sweep: emptySweep(), counters: null, usage: null, parts, timedOut: false, startedAt, t0 });
		}

		const workersAtStart = Object.keys(source.state.workers);
		const listener = this.#listener;
		listener?.sweepStarted();
		const sweep = StatsSweep.start({
			source,
			groups: this.#sweepGroups(source),
			deadline,
			concurrency: this.#statsConcurrency,
			reuse: this.#tables[0],
			onStats:
				listener &&
				((stats) => {
					if (this.#seriesWanted) listener.statsArrived(stats);
				})
		});
		this.#tables = [this.#tables[1], sweep.table];
		const settled = new Set<SnapshotPart>();
		const timed = <T>(part: SnapshotPart, promise: Promise<T>): Promise<T | null> =>
			promise.then(
				(value) => {
					settled.add(part);
					parts[part] = { durationSeconds: elapsed(), success: true };
					return value;
				},
				(error: Error) => {
					settled.add(part);
					parts[part] = { durationSeconds: elapsed(), success: false };
					logger.warn('%s failed: %s: %s', part, error.name, error.message);
					return null;
				}
			);
		// The deadline below decides; the requests' own timeouts are only a backstop.
		const requestTimeoutMs = Math.max(1, deadline - Date.now()) + 1000;
		let counters: MetricsSnapshot['counters'] = null;
		let usage: MetricsSnapshot['usage'] = null;
		const all = Promise.all([
			timed('stats', sweep.done),
			timed('counters', source.request('counters', {}, { timeoutMs: requestTimeoutMs })).then((v) => {
				counters = v;
			}),
			timed('usage', source.request('usage', {}, { timeoutMs: requestTimeoutMs })).then((v) => {
				usage = v;
			})
		]);
		const timer = new AbortController();
		const finished = await Promise.race([
			all.then(() => true),
			sleep(Math.max(0, deadline - Date.now()), false, { signal: timer.signal }).catch(() => false)
		]);
		timer.abort();
		for (const part of SNAPSHOT_PARTS) {
			if (!settled.has(part)) parts[part] = { durationSeconds: elapsed(), success: false };
		}
		if (!finished)
			logger.warn(
				'snapshot hit its deadline (%d ms): %s unfinished',
				this.#scrapeTimeoutMs,
				SNAPSHOT_PARTS.filter((p) => !settled.has(p)).join(', ')
			);
		// The freshest state: objects closed during the sweep are gone, as they should be. A stream
		// that dropped meanwhile leaves a stale mirror, which must not be exported.
		const state = source.connected ? this.#copyState(source) : null;
		const swept = sweep.stop();
		const workerDied = state !== null && workersAtStart.some((pid) => !(pid in state.workers));
		const judged = state ? judge(swept, state, workerDied) : emptySweep();
		if (state) {
			if (parts.stats.success && (judged.errors.size > 0 || judged.timedOut.size > 0)) parts.stats.success = false;
			this.#totals.sweeps++;
			this.#totals.statsErrors += judged.errors.size;
			this.#totals.statsTimeouts += judged.timedOut.size;
		}
		// Also "timed out" when the server cut the sweep short at the deadline it was given.
		const timedOut = !finished || judged.timedOut.size > 0;
		logger.debug(
			'snapshot: stats %d ms (%d ok), counters %d ms, usage %d ms, total %d ms',
			...SNAPSHOT_PARTS.map((p) => Math.round(parts[p].durationSeconds * 1000)).flatMap((ms, i) =>
				i === 0 ? [ms, judged.stats.size] : [ms]
			),
			Math.round(elapsed() * 1000)
		);
		return this.#snapshot({ state, sweep: judged, counters, usage, parts, timedOut, startedAt, t0 });
	}

	#sweepGroups(source: ObserverSource): string[][] {
		if (!madeFromMirror(this.#lastGroups, source))
			this.#lastGroups = { ...mirrorOf(source), value: sweepGroups(source.state, this.#perObjectMetrics) };
		return this.#lastGroups.value;
	}

	/** The state as it is now, kept by a snapshot: shared by snapshots between which nothing changed (read-only). */
	#copyState(source: ObserverSource): Readonly<ObservedState> {
		if (!madeFromMirror(this.#lastCopy, source)) this.#lastCopy = { ...mirrorOf(source), value: copyState(source.state) };
		return this.#lastCopy.value;
	}

	#snapshot({ t0, ...rest }: Omit<MetricsSnapshot, 'totals' | 'durationSeconds'> & { t0: number }): MetricsSnapshot {
		return { ...rest, totals: { ...this.#totals }, durationSeconds: (performance.now() - t0) / 1000 };
	}
}

/** The mirror as `source` has it now: its state object and the seq of its last change. */
function mirrorOf(source: ObserverSource): { state: Readonly<ObservedState>; seq: number } {
	return { state: source.state, seq: source.seq };
}

/** Whether `made` was made from the mirror as it is now (no change applied since, no resync). */
function madeFromMirror<T extends { state: Readonly<ObservedState>; seq: number }>(made: T | undefined, source: ObserverSource): made is T {
	return made !== undefined && made.state === source.state && made.seq === source.seq;
}

/**
 * What a sweep asks for: the transports, then (per object) each producer followed by its consumers,
 * so that the server can take the producer's stats from a consumer's answer (see StatsSweep).
 */
function sweepGroups(state: Readonly<ObservedState>, perObjectMetrics: boolean): string[][] {
	const groups = Object.keys(state.transports).map((id) => [id]);
	if (!perObjectMetrics) return groups;
	const byProducer = new Map<string, string[]>(Object.keys(state.producers).map((id) => [id, [id]]));
	for (const consumer of Object.values(state.consumers)) {
		const group = byProducer.get(consumer.producerId);
		if (group) group.push(consumer.id);
		else groups.push([consumer.id]);
	}
	return [...groups, ...byProducer.values()];
}

function emptySweep(): SweepOutcome {
	return { stats: new Map(), errors: new Map(), timedOut: new Set() };
}

/** A shallow copy: records are immutable values (an update replaces the record), maps are not. */
function copyState(state: Readonly<ObservedState>): ObservedState {
	return Object.fromEntries(Object.entries(state).map(([kind, records]) => [kind, { ...records }])) as ObservedState;
}

/**
 * Keeps the sweep's outcome for objects that still exist. A failure for an object that closed is
 * churn, not an error (a peer left), unless a worker died during the sweep: then the failures of
 * the objects that went with it are errors, which is what they were.
 */
function judge(result: StatsSweepResult, state: Readonly<ObservedState>, workerDied: boolean): SweepOutcome {
	// Consumers first: most ids of a sweep are theirs.
	const exists = (id: string): boolean => id in state.consumers || id in state.producers || id in state.transports;
	const { stats } = result;
	// The sweep is over: its table is this snapshot's alone (ids collected first, then dropped).
	const closed: string[] = [];
	for (const id of stats.keys()) if (!exists(id)) closed.push(id);
	for (const id of closed) stats.drop(id);
	const errors = new Map<string, string>();
	for (const [id, message] of result.errors) if ((workerDied || exists(id)) && !stats.has(id)) errors.set(id, message);
	const timedOut = new Set<string>();
	for (const id of result.timedOut) if (exists(id) && !stats.has(id) && !errors.has(id)) timedOut.add(id);
	return { stats, errors, timedOut };
}
