import { extendLabelSet, type Fold, type ObjectFamilies, type ObjectFamily, type SeriesLabels } from '../ObjectFamily.js';
import type { TransportLabelEntry } from '../LabelSetCache.js';
import { AT, numberAt, transportRow, type StatsRow } from '../mediasoupStats.js';
import type { TransportRecord } from '../../observer/ObservedState.js';
import type { CollectorContext } from './CollectorContext.js';

export const ICE_STATES = ['new', 'connected', 'completed', 'disconnected', 'closed'] as const;
export const DTLS_STATES = ['new', 'connecting', 'connected', 'failed', 'closed'] as const;

export type TransportFamilies = Record<'received' | 'sent' | 'recvBitrate' | 'sendBitrate' | 'ice' | 'dtls', ObjectFamily>;

/** The per-transport families, in output order. */
export function transportFamilies(families: ObjectFamilies): TransportFamilies {
	const family = (name: string, help: string, fold: Fold = 'sum'): ObjectFamily => families.family({ name, help, fold });
	return {
		received: family('mediasoup_transport_received_bytes', 'Bytes received by the transport (cumulative, mediasoup bytesReceived)'),
		sent: family('mediasoup_transport_sent_bytes', 'Bytes sent by the transport (cumulative, mediasoup bytesSent)'),
		recvBitrate: family('mediasoup_transport_recv_bitrate_bps', 'Receive bitrate of the transport in bits per second (mediasoup recvBitrate)'),
		sendBitrate: family('mediasoup_transport_send_bitrate_bps', 'Send bitrate of the transport in bits per second (mediasoup sendBitrate)'),
		ice: family('mediasoup_transport_ice_state', 'ICE state of a WebRTC transport: 1 for the current state, 0 for the others'),
		dtls: family('mediasoup_transport_dtls_state', 'DTLS state of a WebRTC transport: 1 for the current state, 0 for the others')
	};
}

/** One transport's series from its getStats() rows, owned by `owner` (ObjectFamily.add; null: none). */
export function addTransportStats(families: TransportFamilies, labelSet: SeriesLabels, rows: readonly StatsRow[], ownerOrNull: string | null): void {
	const row = transportRow(rows);
	if (!row) return;
	const owner = ownerOrNull ?? undefined;
	families.received.add(labelSet, numberAt(row, AT.bytesReceived), owner);
	families.sent.add(labelSet, numberAt(row, AT.bytesSent), owner);
	families.recvBitrate.add(labelSet, numberAt(row, AT.recvBitrate), owner);
	families.sendBitrate.add(labelSet, numberAt(row, AT.sendBitrate), owner);
}

/** One transport's ICE and DTLS state series, from the state model (`labels`: its entry, which keeps the label sets with `state`). */
export function addTransportStates(families: TransportFamilies, record: TransportRecord, labels: TransportLabelEntry): void {
	if (record.iceState === null && record.dtlsState === null) return;
	const stateLabelSets = labels.stateLabelSets ??= {
		ice: ICE_STATES.map((s) => extendLabelSet(labels.labelSet, 'state', s)),
		dtls: DTLS_STATES.map((s) => extendLabelSet(labels.labelSet, 'state', s))
	};
	if (record.iceState !== null) {
		ICE_STATES.forEach((s, i) => families.ice.add(stateLabelSets.ice[i]!, record.iceState === s ? 1 : 0, record.id));
	}
	if (record.dtlsState !== null) {
		DTLS_STATES.forEach((s, i) => families.dtls.add(stateLabelSets.dtls[i]!, record.dtlsState === s ? 1 : 0, record.id));
	}
}

/** Per-transport series (per object): bytes and bitrates from getStats, ICE/DTLS state from the state model. */
export function transportCollector({ families, state, snapshot, labels }: CollectorContext): void {
	const own = transportFamilies(families);
	for (const transport of Object.values(state.transports)) {
		const entry = labels.transport(transport);
		const rows = snapshot.sweep.stats.get(transport.id);
		if (rows) addTransportStats(own, entry.labelSet, rows, transport.id);
		addTransportStates(own, transport, entry);
	}
}
