/**
 * Typed readers for mediasoup 3.8.4 getStats() entries as they arrive over the observer stream
 * (plain JSON). A field that is missing or not a finite number reads as undefined, so a metric is
 * left out rather than exported as garbage.
 */

/** One RTP stream's entry of a producer's or consumer's getStats(). */
export type RtpStreamStat = {
	type: 'inbound-rtp' | 'outbound-rtp';
	ssrc: number;
	rid?: string;
	kind?: string;
	mimeType?: string;
	byteCount?: number;
	packetCount?: number;
	packetsLost?: number;
	/** 0..255, RTCP's fixed-point fraction. */
	fractionLost?: number;
	packetsRetransmitted?: number;
	nackCount?: number;
	pliCount?: number;
	firCount?: number;
	/** bits per second */
	bitrate?: number;
	/** ms; only once mediasoup measured one */
	roundTripTime?: number;
	/** ms in mediasoup 3.8.4 (RtpStreamRecv computes transit times from a ms clock); inbound only. */
	jitter?: number;
	score?: number;
};

/** The fields of a transport's getStats() entry the exporter uses. */
export type TransportStat = {
	bytesReceived?: number;
	bytesSent?: number;
	recvBitrate?: number;
	sendBitrate?: number;
};

/** Every getStats() field the readers below use: the sweep asks the server for these alone. */
export const STATS_FIELDS = [
	'ssrc', 'rid', 'kind', 'mimeType', 'byteCount', 'packetCount', 'packetsLost', 'fractionLost', 'packetsRetransmitted',
	'nackCount', 'pliCount', 'firCount', 'bitrate', 'roundTripTime', 'jitter', 'score',
	'bytesReceived', 'bytesSent', 'recvBitrate', 'sendBitrate'
];

function record(value: unknown): Record<string, unknown> | undefined {
	return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
}

function finite(entry: Record<string, unknown>, key: string): number | undefined {
	const v = entry[key];
	return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function text(entry: Record<string, unknown>, key: string): string | undefined {
	const v = entry[key];
	return typeof v === 'string' ? v : undefined;
}

/**
 * The entries of `type` (a consumer's stats also carry a copy of its producer's inbound-rtp entry,
 * which belongs to the producer's series, not the consumer's).
 */
export function readRtpStreamStats(entries: readonly unknown[], type: RtpStreamStat['type']): RtpStreamStat[] {
	const out: RtpStreamStat[] = [];
	for (const raw of entries) {
		const e = record(raw);
		if (!e || e.type !== type) continue;
		const ssrc = finite(e, 'ssrc');
		if (ssrc === undefined) continue;
		out.push({
			type, ssrc,
			rid: text(e, 'rid'),
			kind: text(e, 'kind'),
			mimeType: text(e, 'mimeType'),
			byteCount: finite(e, 'byteCount'),
			packetCount: finite(e, 'packetCount'),
			packetsLost: finite(e, 'packetsLost'),
			fractionLost: finite(e, 'fractionLost'),
			packetsRetransmitted: finite(e, 'packetsRetransmitted'),
			nackCount: finite(e, 'nackCount'),
			pliCount: finite(e, 'pliCount'),
			firCount: finite(e, 'firCount'),
			bitrate: finite(e, 'bitrate'),
			roundTripTime: finite(e, 'roundTripTime'),
			jitter: finite(e, 'jitter'),
			score: finite(e, 'score')
		});
	}
	return out;
}

/** The transport's own entry (webrtc-transport, plain-rtp-transport, ...). */
export function readTransportStat(entries: readonly unknown[]): TransportStat | undefined {
	for (const raw of entries) {
		const e = record(raw);
		if (!e || typeof e.type !== 'string' || !e.type.endsWith('-transport')) continue;
		return {
			bytesReceived: finite(e, 'bytesReceived'),
			bytesSent: finite(e, 'bytesSent'),
			recvBitrate: finite(e, 'recvBitrate'),
			sendBitrate: finite(e, 'sendBitrate')
		};
	}
	return undefined;
}
