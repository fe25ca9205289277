import type { ObservedState } from '../../observer/ObservedState.js';
import type { Requests, ServerCounters } from '../../stream/protocol.js';
import type { StatsRow } from './mediasoupStats.js';

export type UsageResult = Requests['usage']['result'];

/** The parts of a snapshot taken by a request, each timed and judged on its own. */
export const SNAPSHOT_PARTS = ['stats', 'counters', 'usage'] as const;
export type SnapshotPart = (typeof SNAPSHOT_PARTS)[number];

export type PartOutcome = { durationSeconds: number; success: boolean };

/**
 * getStats() entries by object id, as stats rows: a Map, or a sweep's StatsTable. Read a snapshot's
 * stats as soon as you have the snapshot: a StatsTable's memory goes to the sweep after next, and
 * the table then throws.
 */
export type StatsByObject = {
	readonly size: number;
	has(id: string): boolean;
	get(id: string): readonly StatsRow[] | undefined;
	keys(): Iterable<string>;
};

/** Outcome of the stats sweep per object id (only ids still in the final state are judged). */
export type SweepOutcome = {
	/** getStats() entries by object id, as stats rows. */
	stats: StatsByObject;
	/** Objects whose getStats() failed, with the reason. */
	errors: ReadonlyMap<string, string>;
	/** Objects whose getStats() had not answered by the deadline. */
	timedOut: ReadonlySet<string>;
};

/** Exporter totals since start, updated once per snapshot (not per scrape). */
export type ExporterTotals = { sweeps: number; statsErrors: number; statsTimeouts: number };

/**
 * Everything one scrape's metrics are built from. All metrics of a scrape come from one snapshot,
 * so they agree with each other; concurrent scrapes share one.
 */
export type MetricsSnapshot = {
	/**
	 * A copy of the mirror taken when the sweep ended (shared with earlier snapshots while the mirror
	 * did not change: never write to it); null when the exporter is not in sync.
	 */
	state: Readonly<ObservedState> | null;
	sweep: SweepOutcome;
	counters: ServerCounters | null;
	usage: UsageResult | null;
	parts: Record<SnapshotPart, PartOutcome>;
	/** The snapshot hit its deadline: some parts are missing or partial. */
	timedOut: boolean;
	totals: ExporterTotals;
	/** When the snapshot started and how long it took (it may be shared by later scrapes). */
	startedAt: number;
	durationSeconds: number;
};
