import { extendLabelSet, type Fold, type ObjectFamily } from '../ObjectFamily.js';
import { readTransportStat } from '../mediasoupStats.js';
import type { CollectorContext } from './CollectorContext.js';

export const ICE_STATES = ['new', 'connected', 'completed', 'disconnected', 'closed'] as const;
export const DTLS_STATES = ['new', 'connecting', 'connected', 'failed', 'closed'] as const;

/** Per-transport series (per object): bytes and bitrates from getStats, ICE/DTLS state from the state model. */
export function transportCollector({ families, state, snapshot, labels }: CollectorContext): void {
	const family = (name: string, help: string, fold: Fold = 'sum'): ObjectFamily => families.family({ name, help, fold });
	const received = family('mediasoup_transport_received_bytes', 'Bytes received by the transport (cumulative, mediasoup bytesReceived)');
	const sent = family('mediasoup_transport_sent_bytes', 'Bytes sent by the transport (cumulative, mediasoup bytesSent)');
	const recvBitrate = family('mediasoup_transport_recv_bitrate_bps', 'Receive bitrate of the transport in bits per second (mediasoup recvBitrate)');
	const sendBitrate = family('mediasoup_transport_send_bitrate_bps', 'Send bitrate of the transport in bits per second (mediasoup sendBitrate)');
	const ice = family('mediasoup_transport_ice_state', 'ICE state of a WebRTC transport: 1 for the current state, 0 for the others');
	const dtls = family('mediasoup_transport_dtls_state', 'DTLS state of a WebRTC transport: 1 for the current state, 0 for the others');

	for (const transport of Object.values(state.transports)) {
		const { labelSet } = labels.transport(transport);
		const entries = snapshot.sweep.stats.get(transport.id);
		const stat = entries ? readTransportStat(entries) : undefined;
		if (stat) {
			received.add(labelSet, stat.bytesReceived);
			sent.add(labelSet, stat.bytesSent);
			recvBitrate.add(labelSet, stat.recvBitrate);
			sendBitrate.add(labelSet, stat.sendBitrate);
		}
		if (transport.iceState !== null) {
			for (const s of ICE_STATES) ice.add(extendLabelSet(labelSet, 'state', s), transport.iceState === s ? 1 : 0);
		}
		if (transport.dtlsState !== null) {
			for (const s of DTLS_STATES) dtls.add(extendLabelSet(labelSet, 'state', s), transport.dtlsState === s ? 1 : 0);
		}
	}
}
