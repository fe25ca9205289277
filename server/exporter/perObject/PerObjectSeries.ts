import { Logger } from '../../base/Logger.js';
import type { ObservedState } from '../../observer/ObservedState.js';
import type { AddressLabeler } from '../labels/AddressLabeler.js';
import type { StatsByObject } from '../snapshot/MetricsSnapshot.js';
import type { ObserverSource } from '../snapshot/ObserverSource.js';
import type { StatsRow } from '../snapshot/mediasoupStats.js';
import { GaugeFamily } from './GaugeFamily.js';
import { LineMemory } from './LineMemory.js';
import { ObjectLabels, type LabelOptions, type StreamLabels, type TransportLabels } from './ObjectLabels.js';
import { objectFamilies, writeObjectStats, writeTransportStates, type ObjectFamilies } from './objectMetrics.js';

const logger = new Logger('PerObjectSeries');

/** One sweep's per-object families as exposition: UTF-8 pieces per family, in order. */
export type PerObjectBody = {
	families: readonly Buffer[][];
	/** Series written (for the log). */
	series: number;
	/** Keeps the pieces' memory from reuse until the returned function is called: once per scrape that sends them. */
	lease: () => () => void;
};

/**
 * The per-transport, per-producer and per-consumer series (see README.md). The snapshot collector
 * hands it each sweep's stats as they arrive; the exporter calls finish() once the sweep's snapshot
 * is taken, before the next sweep starts.
 */
export interface PerObjectSeries {
	/** A sweep begins: the last one's series are dropped (their memory is reused once no scrape sends it). */
	sweepStarted(): void;
	/** Stats of some objects of the running sweep, as they arrived: written at once. Never throws. */
	statsArrived(stats: ReadonlyMap<string, readonly StatsRow[]>): void;
	/** The series as of the end of the sweep (`state` and `stats` of its snapshot). Throws if writing them failed. */
	finish(state: Readonly<ObservedState>, stats: StatsByObject): PerObjectBody;
	/** The memory the lines are written into: made so far, and free for the next sweeps. */
	readonly lineMemory: { allocatedBytes: number; freeBytes: number };
}

export function createPerObjectSeries(options: {
	source: Pick<ObserverSource, 'state'>;
	options: LabelOptions;
	addresses: AddressLabeler;
}): PerObjectSeries {
	return new SweepSeriesWriter(options);
}

/** Writes a sweep's series as its answers arrive and, at finish(), again what changed since. */
class SweepSeriesWriter implements PerObjectSeries {
	readonly #source: Pick<ObserverSource, 'state'>;
	readonly #labels: ObjectLabels;
	readonly #memory = new LineMemory();
	readonly #families: ObjectFamilies;
	/** No two series share a label set (ids are in them): lines can be written before every value is in. */
	readonly #unique: boolean;
	/** Objects whose series this sweep wrote, with the labels they were written with. */
	readonly #written = new Map<string, TransportLabels | StreamLabels>();
	#failure?: Error;
	#finished = false;

	constructor({
		source,
		options,
		addresses
	}: {
		source: Pick<ObserverSource, 'state'>;
		options: LabelOptions;
		addresses: AddressLabeler;
	}) {
		this.#source = source;
		this.#labels = new ObjectLabels({ options, addresses });
		this.#unique = !options.quiet;
		let slot = 0;
		this.#families = objectFamilies(
			({ name, help, fold }) =>
				new GaugeFamily({
					name,
					help,
					fold,
					unique: this.#unique,
					slot: slot++,
					allocate: (bytes, newBytes) => this.#memory.take(bytes, newBytes)
				})
		);
	}

	get lineMemory(): { allocatedBytes: number; freeBytes: number } {
		return { allocatedBytes: this.#memory.allocatedBytes, freeBytes: this.#memory.freeBytes };
	}

	sweepStarted(): void {
		for (const family of this.#families.all) family.clear();
		this.#memory.nextSweep();
		this.#labels.nextSweep();
		this.#written.clear();
		this.#failure = undefined;
		this.#finished = false;
	}

	/** Labels come from the live mirror as it is when the answer arrives; finish() checks them against the end. A failure is kept for finish(). */
	statsArrived(stats: ReadonlyMap<string, readonly StatsRow[]>): void {
		if (this.#failure) return;
		try {
			const { state } = this.#source;
			for (const [id, rows] of stats) {
				const labels = writeObjectStats(this.#families, this.#labels, state, id, rows, id);
				if (labels) this.#written.set(id, labels);
			}
			if (this.#unique) for (const family of this.#families.all) family.flush();
		} catch (error) {
			this.#failure = error as Error;
		}
	}

	/**
	 * Every object with stats in the snapshot gets series with its labels at the end of the sweep:
	 * kept if they were written with those, else written now (the others' stale ones left out).
	 * Objects that closed during the sweep are left out; the ICE/DTLS states come from `state`.
	 */
	finish(state: Readonly<ObservedState>, stats: StatsByObject): PerObjectBody {
		if (this.#finished) throw new Error("this sweep's series were finished already");
		this.#finished = true;
		if (this.#failure) throw this.#failure;
		const without = new Set<string>();
		for (const id of this.#written.keys()) if (!stats.has(id)) without.add(id);
		const closed = without.size;
		let writtenAtEnd = 0;
		for (const id of stats.keys()) {
			const written = this.#written.get(id);
			if (written !== undefined && written === this.#labels.of(state, id)) continue;
			if (written !== undefined) without.add(id);
			writeObjectStats(this.#families, this.#labels, state, id, stats.get(id)!, undefined);
			writtenAtEnd++;
		}
		for (const transport of Object.values(state.transports))
			writeTransportStates(this.#families, transport, this.#labels.transport(state, transport));
		this.#labels.prune(state);
		logger.debug(
			'finish(): %d objects written during the sweep, %d closed since, %d written at the end',
			this.#written.size,
			closed,
			writtenAtEnd
		);
		return {
			families: this.#families.all.map((family) => family.render(without)),
			series: this.#families.all.reduce((n, family) => n + family.size, 0),
			lease: this.#memory.leaser()
		};
	}
}
