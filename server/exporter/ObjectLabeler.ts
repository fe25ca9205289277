import type { ConsumerRecord, ObservedState, PeerRecord, ProducerRecord, TransportRecord } from '../observer/ObservedState.js';
import { LabelSetCache, type StreamLabelEntry, type TransportLabelEntry } from './LabelSetCache.js';
import { formatLabelSet, type SeriesLabels } from './ObjectFamily.js';
import { labelValue } from './labelValue.js';
import type { AddressLabeler } from './AddressLabeler.js';
import type { ExporterOptions } from './ExporterOptions.js';
import { AT, numberAt, textAt, type StatsRow } from './mediasoupStats.js';

export const TRANSPORT_LABELS = [
	'pid', 'room_id', 'peer_id', 'transport_id', 'transport_type', 'direction', 'proto', 'local_addr', 'remote_addr'
] as const;
export type TransportLabelName = (typeof TRANSPORT_LABELS)[number];
export type TransportLabels = Record<TransportLabelName, string>;

/** edumeet's label set plus `rid` and `ssrc`, so simulcast encodings are series of their own. */
export const STREAM_LABELS = [
	'pid', 'room_id', 'peer_id', 'display_name', 'user_agent', 'transport_id', 'proto', 'local_addr', 'remote_addr',
	'id', 'kind', 'codec', 'type', 'rid', 'ssrc'
] as const;
export type StreamLabelName = (typeof STREAM_LABELS)[number];
export type StreamLabels = Record<StreamLabelName, string>;

type LabelOptions = Pick<ExporterOptions, 'quiet' | 'personalLabels'>;

/** What tells an object's RTP streams apart, from its stats row. */
type StreamIdentity = { ssrc: number; type: string; rid?: string; mimeType?: string };

/**
 * Label sets of one snapshot's objects, worked out from the state model: the room, peer and
 * worker of every object come from its own record (edumeet took room_id from whatever room its loop
 * had last seen, wrong with several rooms). Applies `quiet` and `personalLabels`. The escaped label
 * text is kept in a LabelSetCache across scrapes and rebuilt only when what it depends on changed.
 */
export class ObjectLabeler {
	readonly #state: ObservedState;
	readonly #options: LabelOptions;
	readonly #addresses: AddressLabeler;
	readonly #cache: LabelSetCache;
	readonly #pidByRouter = new Map<string, string>();
	readonly #roomByRouter = new Map<string, string>();
	/** This snapshot's transport entries (addresses are formatted once per scrape). */
	readonly #transports = new Map<string, TransportLabelEntry>();

	constructor({ state, options, addresses, cache = new LabelSetCache() }: {
		state: ObservedState; options: LabelOptions; addresses: AddressLabeler; cache?: LabelSetCache;
	}) {
		this.#state = state;
		this.#options = options;
		this.#addresses = addresses;
		this.#cache = cache;
		for (const room of Object.values(state.rooms)) {
			this.#pidByRouter.set(room.routerId, String(room.workerPid));
			this.#roomByRouter.set(room.routerId, room.id);
		}
		// Routers are in the state model since protocol revision 1.1; rooms alone suffice before.
		const routers = (state as { routers?: Record<string, { id: string; workerPid: number; roomId: string | null }> }).routers ?? {};
		for (const router of Object.values(routers)) {
			this.#pidByRouter.set(router.id, String(router.workerPid));
			if (router.roomId !== null && !this.#roomByRouter.has(router.id)) this.#roomByRouter.set(router.id, router.roomId);
		}
	}

	/** The worker PID hosting a router, as a label value ('' if unknown). */
	pidOfRouter(routerId: string): string {
		return this.#pidByRouter.get(routerId) ?? '';
	}

	/** A listening socket of the server's own, as `local_addr` is shown (its port kept even when `quiet`: one per worker). */
	listenAddress(ip: string, port: number): string {
		return this.#addresses.format(ip, port);
	}

	/** The transport's label set (TRANSPORT_LABELS). */
	transport(transport: TransportRecord): TransportLabelEntry {
		const known = this.#transports.get(transport.id);
		if (known && known.record === transport) return known;
		const { tuple } = transport;
		const pid = this.pidOfRouter(transport.routerId);
		const room = transport.roomId ?? this.#roomByRouter.get(transport.routerId) ?? '';
		// A transport without a selected tuple yet has empty address labels (edumeet crashed).
		const localAddr = tuple ? this.#addresses.format(tuple.localIp, this.#port(tuple.localPort)) : '';
		const remoteAddr = tuple && this.#options.personalLabels ? this.#addresses.format(tuple.remoteIp, this.#port(tuple.remotePort)) : '';
		let entry = this.#cache.transports.get(transport.id);
		if (!entry || entry.record !== transport || entry.pid !== pid || entry.room !== room || entry.localAddr !== localAddr || entry.remoteAddr !== remoteAddr) {
			const proto = tuple?.protocol ?? '';
			const labels: TransportLabels = {
				pid,
				room_id: labelValue(room),
				peer_id: this.#id(transport.peerId ?? ''),
				transport_id: this.#id(transport.id),
				transport_type: transport.type,
				direction: transport.direction ?? '',
				proto,
				local_addr: localAddr,
				remote_addr: remoteAddr
			};
			entry = { record: transport, pid, room, localAddr, remoteAddr, proto, labelSet: formatLabelSet(TRANSPORT_LABELS, labels) };
			this.#cache.transports.set(transport.id, entry);
		}
		this.#transports.set(transport.id, entry);
		return entry;
	}

	/** A producer's or consumer's label entry: what its streams' label sets are made from, and those made so far. */
	streamEntry(record: ProducerRecord | ConsumerRecord): StreamLabelEntry {
		const transportRecord = this.#state.transports[record.transportId];
		const transport = transportRecord ? this.transport(transportRecord) : undefined;
		const { peerId, peer } = this.#peerOf(this.#state, record, transportRecord);
		const pid = this.pidOfRouter(record.routerId);
		const room = record.roomId ?? transportRecord?.roomId ?? this.#roomByRouter.get(record.routerId) ?? '';
		let entry = this.#cache.streams.get(record.id);
		if (!entry || entry.record !== record || entry.transport !== transport || entry.peer !== peer || entry.pid !== pid || entry.room !== room) {
			entry = { record, transport, peerId, peer, pid, room, byStream: new Map() };
			this.#cache.streams.set(record.id, entry);
		}
		return entry;
	}

	/** The label set (STREAM_LABELS) of one RTP stream (a row that has an SSRC) of the object of `entry` (streamEntry()). */
	stream(entry: StreamLabelEntry, row: StatsRow): SeriesLabels {
		const ssrc = numberAt(row, AT.ssrc) ?? 0;
		const type = textAt(row, AT.type) ?? '';
		const rid = textAt(row, AT.rid);
		const mimeType = textAt(row, AT.mimeType);
		let stream = entry.byStream.get(ssrc);
		if (!stream || stream.type !== type || stream.rid !== rid || stream.mimeType !== mimeType) {
			stream = { type, rid, mimeType, labelSet: formatLabelSet(STREAM_LABELS, this.#streamLabels(entry, { ssrc, type, rid, mimeType })) };
			entry.byStream.set(ssrc, stream);
		}
		const { labelSet } = stream;
		return labelSet;
	}

	/**
	 * Whether the labels made from `entry` would be made from the same records in `state`: the
	 * object's own, its transport's and, with personalLabels, its peer's (records are immutable
	 * values: a change is a new record).
	 */
	sameSources(entry: TransportLabelEntry | StreamLabelEntry, state: Readonly<ObservedState>): boolean {
		if (!('byStream' in entry)) return state.transports[entry.record.id] === entry.record;
		const current = state.producers[entry.record.id] ?? state.consumers[entry.record.id];
		if (current !== entry.record) return false;
		const transport = state.transports[current.transportId];
		return transport === entry.transport?.record && this.#peerOf(state, current, transport).peer === entry.peer;
	}

	/** The peer an object belongs to (its own record's, else its transport's), and its record with personalLabels. */
	#peerOf(state: Readonly<ObservedState>, record: ProducerRecord | ConsumerRecord, transport: TransportRecord | undefined): { peerId: string | null; peer: PeerRecord | undefined } {
		const peerId = record.peerId ?? transport?.peerId ?? null;
		return { peerId, peer: this.#options.personalLabels && peerId !== null ? state.peers[peerId] : undefined };
	}

	#streamLabels({ record, transport, peerId, peer, pid, room }: StreamLabelEntry, stat: StreamIdentity): StreamLabels {
		return {
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
			kind: record.kind,
			codec: codecOf(stat.mimeType ?? record.mimeType),
			type: stat.type,
			rid: stat.rid !== undefined ? labelValue(stat.rid, 32) : '',
			// Under quiet the SSRC goes too (it is per stream); simulcast layers stay apart by rid.
			ssrc: this.#options.quiet ? '' : String(stat.ssrc)
		};
	}

	#id(id: string): string {
		return this.#options.quiet ? '' : labelValue(id);
	}

	/** Ports are per transport, so `quiet` drops them to let series fold. */
	#port(port: number): number | undefined {
		return this.#options.quiet ? undefined : port;
	}
}

/** 'video/VP8' → 'VP8' (edumeet's codec label). */
function codecOf(mimeType: string): string {
	const slash = mimeType.indexOf('/');
	return labelValue(slash >= 0 ? mimeType.slice(slash + 1) : mimeType, 32);
}
