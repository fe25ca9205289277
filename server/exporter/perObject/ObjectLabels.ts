import type { Config } from '../../../config/configSchema.js';
import type {
	ConsumerRecord,
	ObservedState,
	ProducerRecord,
	RoomRecord,
	RouterRecord,
	TransportRecord
} from '../../observer/ObservedState.js';
import type { AddressLabeler } from '../labels/AddressLabeler.js';
import { labelValue } from '../labels/labelValue.js';
import { AT, numberAt, textAt, type StatsRow } from '../snapshot/mediasoupStats.js';
import { formatLabelSet, type SeriesLabels } from './GaugeFamily.js';

const TRANSPORT_LABELS = [
	'pid',
	'room_id',
	'peer_id',
	'transport_id',
	'transport_type',
	'direction',
	'proto',
	'local_addr',
	'remote_addr'
] as const;
/** edumeet's label set plus `rid` and `ssrc`, so simulcast encodings are series of their own. */
const STREAM_LABELS = [
	'pid',
	'room_id',
	'peer_id',
	'display_name',
	'user_agent',
	'transport_id',
	'proto',
	'local_addr',
	'remote_addr',
	'id',
	'kind',
	'codec',
	'type',
	'rid',
	'ssrc'
] as const;
type StreamLabelName = (typeof STREAM_LABELS)[number];

export type LabelOptions = Pick<Config['prometheus'], 'quiet' | 'personalLabels'>;

/** A transport's label set, and what its labels were made from (the entry is kept while that stays the same). */
export type TransportLabels = {
	readonly sources: readonly unknown[];
	readonly labelSet: SeriesLabels;
	readonly proto: string;
	readonly localAddr: string;
	readonly remoteAddr: string;
	/** The label set plus `state`, per ICE and DTLS state (made when first needed). */
	stateLabelSets?: { ice: SeriesLabels[]; dtls: SeriesLabels[] };
	/** The record and sweep it was last looked up for: the same record needs no second look in a sweep. */
	record: TransportRecord;
	sweep: number;
};

/** A producer's or consumer's label values, its label sets (one per RTP stream) and what they were made from. */
export type StreamLabels = {
	readonly sources: readonly unknown[];
	readonly values: Omit<Record<StreamLabelName, string>, 'codec' | 'type' | 'rid' | 'ssrc'>;
	readonly mimeType: string;
	/** Per RTP stream, by SSRC: its label set and the fields of the row it was made from. */
	readonly byStream: Map<number, { type: string; rid: string | undefined; mimeType: string | undefined; labelSet: SeriesLabels }>;
};

/**
 * The label sets of per-object series, kept from one scrape to the next: an object's labels are
 * escaped and joined once, and made again only when what they are made from changes (not when,
 * say, a score changes its record). The room, peer and worker of every object come from its own
 * record (edumeet took room_id from whatever room its loop had last seen, wrong with several
 * rooms). Applies `quiet` (no ids, ports or SSRCs, so series fold) and `personalLabels`.
 */
export class ObjectLabels {
	readonly #options: LabelOptions;
	readonly #addresses: AddressLabeler;
	readonly #transports = new Map<string, TransportLabels>();
	readonly #streams = new Map<string, StreamLabels>();
	#sweep = 0;

	constructor({ options, addresses }: { options: LabelOptions; addresses: AddressLabeler }) {
		this.#options = options;
		this.#addresses = addresses;
	}

	/** A new sweep: addresses are formatted again (a reverse-DNS name may have arrived). */
	nextSweep(): void {
		this.#sweep++;
	}

	/** The labels of object `id` as `state` has it, or undefined if it is not there. */
	of(state: Readonly<ObservedState>, id: string): TransportLabels | StreamLabels | undefined {
		const transport = state.transports[id];
		if (transport) return this.transport(state, transport);
		const record = state.producers[id] ?? state.consumers[id];
		return record && this.stream(state, record);
	}

	transport(state: Readonly<ObservedState>, record: TransportRecord): TransportLabels {
		let entry = this.#transports.get(record.id);
		if (entry && entry.record === record && entry.sweep === this.#sweep) return entry;
		const { tuple } = record;
		const pid = pidOf(state, record.routerId);
		const room = record.roomId ?? roomOf(state, record.routerId);
		const proto = tuple?.protocol ?? '';
		// A transport without a selected tuple yet has empty address labels (edumeet crashed).
		const localAddr = tuple ? this.#addresses.format(tuple.localIp, this.#port(tuple.localPort)) : '';
		const remoteAddr =
			tuple && this.#options.personalLabels ? this.#addresses.format(tuple.remoteIp, this.#port(tuple.remotePort)) : '';
		const sources = [pid, room, record.peerId, record.type, record.direction, proto, localAddr, remoteAddr];
		if (entry && sameValues(entry.sources, sources)) {
			entry.record = record;
			entry.sweep = this.#sweep;
			return entry;
		}
		const labelSet = formatLabelSet(TRANSPORT_LABELS, {
			pid,
			room_id: labelValue(room),
			peer_id: this.#id(record.peerId ?? ''),
			transport_id: this.#id(record.id),
			transport_type: record.type,
			direction: record.direction ?? '',
			proto,
			local_addr: localAddr,
			remote_addr: remoteAddr
		});
		entry = { sources, labelSet, proto, localAddr, remoteAddr, record, sweep: this.#sweep };
		this.#transports.set(record.id, entry);
		return entry;
	}

	stream(state: Readonly<ObservedState>, record: ProducerRecord | ConsumerRecord): StreamLabels {
		const transportRecord = state.transports[record.transportId];
		const transport = transportRecord && this.transport(state, transportRecord);
		const peerId = record.peerId ?? transportRecord?.peerId ?? null;
		const peer = this.#options.personalLabels && peerId !== null ? state.peers[peerId] : undefined;
		const pid = pidOf(state, record.routerId);
		const room = record.roomId ?? transportRecord?.roomId ?? roomOf(state, record.routerId);
		const sources = [transport, pid, room, peerId, peer?.displayName, peer?.userAgent, record.kind, record.mimeType];
		let entry = this.#streams.get(record.id);
		if (entry && sameValues(entry.sources, sources)) return entry;
		const values = {
			pid,
			room_id: labelValue(room),
			peer_id: this.#id(peerId ?? ''),
			display_name: peer ? labelValue(peer.displayName) : '',
			user_agent: peer ? labelValue(peer.userAgent) : '',
			transport_id: this.#id(record.transportId),
			proto: transport?.proto ?? '',
			local_addr: transport?.localAddr ?? '',
			remote_addr: transport?.remoteAddr ?? '',
			id: this.#id(record.id),
			kind: record.kind
		};
		entry = { sources, values, mimeType: record.mimeType, byStream: new Map() };
		this.#streams.set(record.id, entry);
		return entry;
	}

	/** The label set of one RTP stream (a row with an SSRC) of the object of `entry`. */
	streamLabelSet(entry: StreamLabels, row: StatsRow): SeriesLabels {
		const ssrc = numberAt(row, AT.ssrc) ?? 0;
		const type = textAt(row, AT.type) ?? '';
		const rid = textAt(row, AT.rid);
		const mimeType = textAt(row, AT.mimeType);
		let stream = entry.byStream.get(ssrc);
		if (!stream || stream.type !== type || stream.rid !== rid || stream.mimeType !== mimeType) {
			const labelSet = formatLabelSet(STREAM_LABELS, {
				...entry.values,
				codec: codecOf(mimeType ?? entry.mimeType),
				type,
				rid: rid !== undefined ? labelValue(rid, 32) : '',
				// Under quiet the SSRC goes too (it is per stream); simulcast layers stay apart by rid.
				ssrc: this.#options.quiet ? '' : String(ssrc)
			});
			stream = { type, rid, mimeType, labelSet };
			entry.byStream.set(ssrc, stream);
		}
		return stream.labelSet;
	}

	/** Forgets the objects that are not in `state`. */
	prune(state: Readonly<ObservedState>): void {
		for (const id of this.#transports.keys()) if (!(id in state.transports)) this.#transports.delete(id);
		for (const id of this.#streams.keys()) if (!(id in state.producers) && !(id in state.consumers)) this.#streams.delete(id);
	}

	#id(id: string): string {
		return this.#options.quiet ? '' : labelValue(id);
	}

	/** Ports are per transport, so `quiet` drops them to let series fold. */
	#port(port: number): number | undefined {
		return this.#options.quiet ? undefined : port;
	}
}

function sameValues(a: readonly unknown[], b: readonly unknown[]): boolean {
	for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
	return a.length === b.length;
}

/** Protocol 1.0 servers send no routers: their rooms tell the same. */
function routerOf(state: Readonly<ObservedState>, routerId: string): RouterRecord | undefined {
	const routers: Readonly<Record<string, RouterRecord>> | undefined = state.routers;
	return routers?.[routerId];
}

/** Only for records without a room id, or servers without routers: rooms are few. */
function roomWithRouter(state: Readonly<ObservedState>, routerId: string): RoomRecord | undefined {
	for (const id in state.rooms) if (state.rooms[id]!.routerId === routerId) return state.rooms[id];
	return undefined;
}

/** The worker PID hosting a router, as a label value ('' if unknown). */
function pidOf(state: Readonly<ObservedState>, routerId: string): string {
	const pid = routerOf(state, routerId)?.workerPid ?? roomWithRouter(state, routerId)?.workerPid;
	return pid === undefined ? '' : String(pid);
}

function roomOf(state: Readonly<ObservedState>, routerId: string): string {
	return roomWithRouter(state, routerId)?.id ?? routerOf(state, routerId)?.roomId ?? '';
}

/** 'video/VP8' → 'VP8' (edumeet's codec label). */
function codecOf(mimeType: string): string {
	const slash = mimeType.indexOf('/');
	return labelValue(slash >= 0 ? mimeType.slice(slash + 1) : mimeType, 32);
}
