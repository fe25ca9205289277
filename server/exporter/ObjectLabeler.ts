import type { ConsumerRecord, ObservedState, ProducerRecord, TransportRecord } from '../observer/ObservedState.js';
import { labelValue } from './labelValue.js';
import type { AddressLabeler } from './AddressLabeler.js';
import type { ExporterOptions } from './ExporterOptions.js';
import type { RtpStreamStat } from './mediasoupStats.js';

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

/**
 * Label values of one snapshot's objects, worked out from the state model: the room, peer and
 * worker of every object come from its own record (edumeet took room_id from whatever room its loop
 * had last seen, wrong with several rooms). Applies `quiet` and `personalLabels`.
 */
export class ObjectLabeler {
	readonly #state: ObservedState;
	readonly #options: LabelOptions;
	readonly #addresses: AddressLabeler;
	readonly #pidByRouter = new Map<string, string>();
	readonly #roomByRouter = new Map<string, string>();
	readonly #transportLabels = new Map<string, TransportLabels>();

	constructor({ state, options, addresses }: { state: ObservedState; options: LabelOptions; addresses: AddressLabeler }) {
		this.#state = state;
		this.#options = options;
		this.#addresses = addresses;
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

	transport(transport: TransportRecord): TransportLabels {
		let labels = this.#transportLabels.get(transport.id);
		if (labels) return labels;
		const { tuple } = transport;
		labels = {
			pid: this.pidOfRouter(transport.routerId),
			room_id: labelValue(transport.roomId ?? this.#roomByRouter.get(transport.routerId) ?? ''),
			peer_id: this.#id(transport.peerId ?? ''),
			transport_id: this.#id(transport.id),
			transport_type: transport.type,
			direction: transport.direction ?? '',
			// A transport without a selected tuple yet has empty address labels (edumeet crashed).
			proto: tuple?.protocol ?? '',
			local_addr: tuple ? this.#addresses.format(tuple.localIp, this.#port(tuple.localPort)) : '',
			remote_addr: tuple && this.#options.personalLabels ? this.#addresses.format(tuple.remoteIp, this.#port(tuple.remotePort)) : ''
		};
		this.#transportLabels.set(transport.id, labels);
		return labels;
	}

	stream(record: ProducerRecord | ConsumerRecord, stat: RtpStreamStat): StreamLabels {
		const transport = this.#state.transports[record.transportId];
		const t = transport ? this.transport(transport) : undefined;
		const peerId = record.peerId ?? transport?.peerId ?? null;
		const peer = peerId !== null ? this.#state.peers[peerId] : undefined;
		const personal = this.#options.personalLabels;
		return {
			pid: this.pidOfRouter(record.routerId),
			room_id: labelValue(record.roomId ?? transport?.roomId ?? this.#roomByRouter.get(record.routerId) ?? ''),
			peer_id: this.#id(peerId ?? ''),
			display_name: personal && peer ? labelValue(peer.displayName) : '',
			user_agent: personal && peer ? labelValue(peer.userAgent) : '',
			transport_id: this.#id(record.transportId),
			proto: t?.proto ?? '',
			local_addr: t?.local_addr ?? '',
			remote_addr: t?.remote_addr ?? '',
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
