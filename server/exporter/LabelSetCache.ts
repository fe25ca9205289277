import type { ConsumerRecord, ObservedState, PeerRecord, ProducerRecord, TransportRecord } from '../observer/ObservedState.js';
import type { SeriesLabels } from './ObjectFamily.js';

/** A transport's label set and what it was made from. */
export type TransportLabelEntry = {
	record: TransportRecord;
	pid: string;
	room: string;
	localAddr: string;
	remoteAddr: string;
	/** `{pid="…",…}`, escaped, in TRANSPORT_LABELS order. */
	labelSet: SeriesLabels;
	/** The label set plus `state`, per ICE and DTLS state (made when first needed). */
	stateLabelSets?: { ice: SeriesLabels[]; dtls: SeriesLabels[] };
	/** The label values (stream label sets take proto and addresses from here). */
	proto: string;
};

/** A producer's or consumer's label sets (one per RTP stream) and what they were made from. */
export type StreamLabelEntry = {
	record: ProducerRecord | ConsumerRecord;
	transport: TransportLabelEntry | undefined;
	/** The peer it belongs to (its own record's, else its transport's). */
	peerId: string | null;
	/** The peer's record, with personalLabels only (its name and user agent are labels then). */
	peer: PeerRecord | undefined;
	pid: string;
	room: string;
	/** Per RTP stream, by SSRC: the label set and the other stat fields it was made from. */
	byStream: Map<number, { type: string; rid: string | undefined; mimeType: string | undefined; labelSet: SeriesLabels }>;
};

/**
 * Label sets of the per-object series, kept from one scrape to the next: an object's labels are
 * escaped and joined once, not once per family and scrape. An entry is used only while everything it
 * was made from is unchanged (records are immutable values, so an update is a new record; the
 * address text is compared too, as a reverse-DNS name may arrive), and objects that are gone are
 * dropped after each build.
 */
export class LabelSetCache {
	readonly transports = new Map<string, TransportLabelEntry>();
	readonly streams = new Map<string, StreamLabelEntry>();

	/** Forgets the objects that are not in `state`. */
	prune(state: ObservedState): void {
		for (const id of this.transports.keys()) if (!(id in state.transports)) this.transports.delete(id);
		for (const id of this.streams.keys()) if (!(id in state.producers) && !(id in state.consumers)) this.streams.delete(id);
	}

	clear(): void {
		this.transports.clear();
		this.streams.clear();
	}
}
