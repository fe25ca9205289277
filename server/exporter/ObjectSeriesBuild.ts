import { Logger } from '../Logger.js';
import type { ObservedState } from '../observer/ObservedState.js';
import type { MetricsSnapshot } from './MetricsSnapshot.js';
import type { ObjectFamilies } from './ObjectFamily.js';
import type { ObjectLabeler } from './ObjectLabeler.js';
import { addTransportStates, addTransportStats, transportFamilies, type TransportFamilies } from './collectors/transportCollector.js';
import { addStreamStats, streamFamilies, type Role, type StreamFamilies } from './collectors/streamCollector.js';

const logger = new Logger('ObjectSeriesBuild');

export type ObjectParts = { parts: Buffer[][]; series: number };

/**
 * The per-object series of one snapshot, written while its sweep runs: each request's getStats()
 * answers become exposition lines as they arrive (the worker is still answering the others then,
 * and this process would otherwise wait), so when the last answer comes only its few objects are
 * left to write, not 23,000 lines. Labels come from the state model as it is when the answer
 * arrives. finish() takes the snapshot: the ICE/DTLS state series come from its state, and the
 * series of objects that closed during the sweep are left out, as if never swept.
 *
 * Only for unique label sets (ids in them): with `quiet`, series of different objects fold into
 * one and the collectors build them from the whole snapshot instead.
 */
export class ObjectSeriesBuild {
	readonly #families: ObjectFamilies;
	readonly #labels: ObjectLabeler;
	readonly #state: Readonly<ObservedState>;
	readonly #transport: TransportFamilies;
	readonly #stream: Record<Role, StreamFamilies>;
	/** Objects whose stats were written. */
	readonly #written = new Set<string>();
	#failure?: Error;
	#finished = false;

	/** `state`: the live state model (the mirror), read as answers arrive. */
	constructor({ families, labels, state }: { families: ObjectFamilies; labels: ObjectLabeler; state: Readonly<ObservedState> }) {
		this.#families = families;
		this.#labels = labels;
		this.#state = state;
		families.begin();
		// The collectors' families, in the collectors' order.
		this.#transport = transportFamilies(families);
		this.#stream = streamFamilies(families);
	}

	/** Writes the series of objects whose stats just arrived. Never throws: a failure makes finish() decline. */
	add(stats: ReadonlyMap<string, readonly unknown[]>): void {
		if (this.#finished || this.#failure) return;
		try {
			for (const [id, entries] of stats) {
				if (this.#written.has(id)) continue;
				const transport = this.#state.transports[id];
				const producer = transport ? undefined : this.#state.producers[id];
				const consumer = transport || producer ? undefined : this.#state.consumers[id];
				// An object closed before its answer came: nothing to write.
				if (!transport && !producer && !consumer) continue;
				this.#written.add(id);
				if (transport) addTransportStats(this.#transport, transport, this.#labels.transport(transport).labelSet, entries);
				else if (producer) addStreamStats(this.#stream.producer, 'producer', producer, entries, this.#labels);
				else addStreamStats(this.#stream.consumer, 'consumer', consumer!, entries, this.#labels);
			}
			this.#families.flush();
		} catch (error) {
			this.#failure = error as Error;
		}
	}

	/**
	 * The families' pieces for `snapshot`, or undefined if this build cannot give them (a write
	 * failed, or stats in the snapshot never came through add()): the collectors build them then.
	 */
	finish(snapshot: MetricsSnapshot): ObjectParts | undefined {
		this.#finished = true;
		const { state, sweep } = snapshot;
		if (this.#failure) {
			logger.warn('writing series during the sweep failed (%s): building them afterwards', this.#failure.message);
			return undefined;
		}
		if (!state) return undefined;
		for (const id of sweep.stats.keys()) {
			if (!this.#written.has(id)) {
				logger.debug('finish(): %s has stats but was not written during the sweep: building afterwards', id);
				return undefined;
			}
		}
		// Written while the sweep ran, but closed by its end (the snapshot keeps existing objects only).
		const gone = new Set<string>();
		for (const id of this.#written) if (!sweep.stats.has(id)) gone.add(id);
		logger.debug('finish(): %d objects written during the sweep, %d of them closed since', this.#written.size, gone.size);
		try {
			for (const transport of Object.values(state.transports)) addTransportStates(this.#transport, transport, this.#labels.transport(transport).labelSet);
			return { parts: this.#families.render(gone), series: this.#families.seriesCount };
		} catch (error) {
			logger.warn('writing series after the sweep failed (%s): building them again', (error as Error).message);
			return undefined;
		}
	}
}
