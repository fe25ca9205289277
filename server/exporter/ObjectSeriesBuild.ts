import { Logger } from '../Logger.js';
import type { ObservedState } from '../observer/ObservedState.js';
import type { MetricsSnapshot } from './MetricsSnapshot.js';
import type { ObjectFamilies } from './ObjectFamily.js';
import type { ObjectLabeler } from './ObjectLabeler.js';
import type { ObserverSource } from './ObserverSource.js';
import type { StreamLabelEntry, TransportLabelEntry } from './LabelSetCache.js';
import type { StatsRow } from './mediasoupStats.js';
import { addTransportStates, addTransportStats, transportFamilies, type TransportFamilies } from './collectors/transportCollector.js';
import { addStreamStats, streamFamilies, type Role, type StreamFamilies } from './collectors/streamCollector.js';

const logger = new Logger('ObjectSeriesBuild');

export type ObjectParts = { parts: Buffer[][]; series: number };

/** An object's label entry when its series were written: the records its labels were made from. */
type WrittenFrom = TransportLabelEntry | StreamLabelEntry;

/**
 * The per-object series of one snapshot, written while its sweep runs: each request's getStats()
 * answers become exposition lines as they arrive (the worker is still answering the others then,
 * and this process would otherwise wait), so when the last answer comes only its few objects are
 * left to write, not 23,000 lines. finish() takes the snapshot: the ICE/DTLS state series come
 * from its state, the series of objects that closed during the sweep are left out, and those of
 * objects whose labels' sources changed meanwhile (a record, its transport's or its peer's: records
 * are immutable values, an update is a new one) are written again from the snapshot, so every
 * series of a scrape carries the labels of its end.
 *
 * Only for unique label sets (ids in them): with `quiet`, series of different objects fold into
 * one and the collectors build them from the whole snapshot instead.
 */
export class ObjectSeriesBuild {
	readonly #families: ObjectFamilies;
	readonly #labels: ObjectLabeler;
	readonly #state: Readonly<ObservedState>;
	readonly #source: Pick<ObserverSource, 'state' | 'seq'>;
	/** The source's seq when this build began: if it is the same at the end, no record has changed. */
	readonly #startSeq: number;
	readonly #transport: TransportFamilies;
	readonly #stream: Record<Role, StreamFamilies>;
	/** Objects whose stats were written, and what from. */
	readonly #written = new Map<string, WrittenFrom>();
	#failure?: Error;
	#finished = false;

	/**
	 * `source`: where the live state model (the mirror) and its seq are read as answers arrive. A
	 * mirror that resynchronises replaces its state, and this build then declines. `labels` must read
	 * the source's state as it is now.
	 */
	constructor({ families, labels, source }: { families: ObjectFamilies; labels: ObjectLabeler; source: Pick<ObserverSource, 'state' | 'seq'> }) {
		this.#families = families;
		this.#labels = labels;
		this.#source = source;
		this.#state = source.state;
		this.#startSeq = source.seq;
		families.begin();
		// The collectors' families, in the collectors' order.
		this.#transport = transportFamilies(families);
		this.#stream = streamFamilies(families);
	}

	/** Writes the series of objects whose stats just arrived. Never throws: a failure makes finish() decline. */
	add(stats: ReadonlyMap<string, readonly StatsRow[]>): void {
		if (this.#finished || this.#failure) return;
		try {
			if (this.#source.state !== this.#state) throw new Error('the state model was replaced (resynchronised)');
			for (const [id, entries] of stats) {
				if (this.#written.has(id)) continue;
				const from = this.#writeObject(this.#state, id, entries, id);
				// An object closed before its answer came: nothing was written.
				if (from) this.#written.set(id, from);
			}
			this.#families.flush();
		} catch (error) {
			this.#failure = error as Error;
		}
	}

	/**
	 * The families' pieces for `snapshot`, or undefined if this build cannot give them (a write
	 * failed, the state was replaced, or stats in the snapshot never came through add()): the
	 * collectors build them then.
	 */
	finish(snapshot: MetricsSnapshot): ObjectParts | undefined {
		this.#finished = true;
		const { state, sweep } = snapshot;
		if (this.#failure) {
			logger.warn('writing series during the sweep failed (%s): building them afterwards', this.#failure.message);
			return undefined;
		}
		if (!state || this.#source.state !== this.#state) return undefined;
		for (const id of sweep.stats.keys()) {
			if (!this.#written.has(id)) {
				logger.debug('finish(): %s has stats but was not written during the sweep: building afterwards', id);
				return undefined;
			}
		}
		// Left out: closed by the end of the sweep (the snapshot keeps existing objects only), or
		// written from records that have changed since (written again below).
		const without = new Set<string>();
		let rewritten = 0;
		// No change applied since the first answer: every record is still the one written from.
		const changed = this.#source.seq !== this.#startSeq;
		try {
			for (const [id, from] of this.#written) {
				if (!sweep.stats.has(id)) {
					without.add(id);
				} else if (changed && !this.#labels.sameSources(from, state)) {
					without.add(id);
					// Without an owner: render() must keep these.
					this.#writeObject(state, id, sweep.stats.get(id)!, null);
					rewritten++;
				}
			}
			logger.debug('finish(): %d objects written during the sweep, %d closed since, %d written again', this.#written.size, without.size - rewritten, rewritten);
			for (const transport of Object.values(state.transports)) addTransportStates(this.#transport, transport, this.#labels.transport(transport));
			return { parts: this.#families.render(without), series: this.#families.seriesCount };
		} catch (error) {
			logger.warn('writing series after the sweep failed (%s): building them again', (error as Error).message);
			return undefined;
		}
	}

	/** One object's series from `state`'s records; returns the label entry they were made with, or undefined if the object is not there. */
	#writeObject(state: Readonly<ObservedState>, id: string, rows: readonly StatsRow[], owner: string | null): WrittenFrom | undefined {
		const transport = state.transports[id];
		if (transport) {
			const entry = this.#labels.transport(transport);
			addTransportStats(this.#transport, entry.labelSet, rows, owner);
			return entry;
		}
		const producer = state.producers[id];
		const record = producer ?? state.consumers[id];
		if (!record) return undefined;
		return addStreamStats(producer ? this.#stream.producer : this.#stream.consumer, producer ? 'producer' : 'consumer', record, rows, this.#labels, owner);
	}
}
