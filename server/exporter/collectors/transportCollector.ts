import { FoldingGauge } from '../FoldingGauge.js';
import { TRANSPORT_LABELS, type TransportLabelName } from '../ObjectLabeler.js';
import { readTransportStat } from '../mediasoupStats.js';
import type { CollectorContext } from './CollectorContext.js';

export const ICE_STATES = ['new', 'connected', 'completed', 'disconnected', 'closed'] as const;
export const DTLS_STATES = ['new', 'connecting', 'connected', 'failed', 'closed'] as const;

/** Per-transport series (per object): bytes and bitrates from getStats, ICE/DTLS state from the state model. */
export function transportCollector({ registry, state, snapshot, labels }: CollectorContext): void {
	const gauge = (name: string, help: string, fold: 'sum' | 'max' = 'sum') =>
		new FoldingGauge<TransportLabelName>({ registry, name, help, labelNames: TRANSPORT_LABELS, fold });
	const received = gauge('mediasoup_transport_received_bytes', 'Bytes received by the transport (cumulative, mediasoup bytesReceived)');
	const sent = gauge('mediasoup_transport_sent_bytes', 'Bytes sent by the transport (cumulative, mediasoup bytesSent)');
	const recvBitrate = gauge('mediasoup_transport_recv_bitrate_bps', 'Receive bitrate of the transport in bits per second (mediasoup recvBitrate)');
	const sendBitrate = gauge('mediasoup_transport_send_bitrate_bps', 'Send bitrate of the transport in bits per second (mediasoup sendBitrate)');
	const stateLabels = [...TRANSPORT_LABELS, 'state'] as const;
	const ice = new FoldingGauge<(typeof stateLabels)[number]>({
		registry, name: 'mediasoup_transport_ice_state', labelNames: stateLabels, fold: 'sum',
		help: 'ICE state of a WebRTC transport: 1 for the current state, 0 for the others'
	});
	const dtls = new FoldingGauge<(typeof stateLabels)[number]>({
		registry, name: 'mediasoup_transport_dtls_state', labelNames: stateLabels, fold: 'sum',
		help: 'DTLS state of a WebRTC transport: 1 for the current state, 0 for the others'
	});

	for (const transport of Object.values(state.transports)) {
		const l = labels.transport(transport);
		const entries = snapshot.sweep.stats.get(transport.id);
		const stat = entries ? readTransportStat(entries) : undefined;
		if (stat) {
			received.add(l, stat.bytesReceived);
			sent.add(l, stat.bytesSent);
			recvBitrate.add(l, stat.recvBitrate);
			sendBitrate.add(l, stat.sendBitrate);
		}
		if (transport.iceState !== null) {
			for (const s of ICE_STATES) ice.add({ ...l, state: s }, transport.iceState === s ? 1 : 0);
		}
		if (transport.dtlsState !== null) {
			for (const s of DTLS_STATES) dtls.add({ ...l, state: s }, transport.dtlsState === s ? 1 : 0);
		}
	}
}
