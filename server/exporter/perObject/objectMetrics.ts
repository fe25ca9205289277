import type { ObservedState, TransportRecord } from '../../observer/ObservedState.js';
import { AT, isRtpStream, numberAt, transportRow, type StatsRow } from '../snapshot/mediasoupStats.js';
import { extendLabelSet, type Fold, type GaugeFamily } from './GaugeFamily.js';
import type { ObjectLabels, StreamLabels, TransportLabels } from './ObjectLabels.js';

const ICE_STATES = ['new', 'connected', 'completed', 'disconnected', 'closed'] as const;
const DTLS_STATES = ['new', 'connecting', 'connected', 'failed', 'closed'] as const;

type Role = 'producer' | 'consumer';

type StreamMetric = {
	suffix: string;
	help: Record<Role, string>;
	/** `clockRate`: of the stream's codec, in Hz (0 if unknown). */
	read: (row: StatsRow, clockRate: number) => number | undefined;
	fold: Fold;
	roles?: readonly Role[];
};

const both = (text: string): Record<Role, string> => ({ producer: text, consumer: text });
const divided = (value: number | undefined, by: number): number | undefined => (value === undefined ? undefined : value / by);

/**
 * One gauge family per getStats() field and role. Cumulative fields stay gauges carrying mediasoup's
 * value (as edumeet's `*_byte_count_bytes`), see prom.md. `fold` says how series merge under `quiet`.
 */
const STREAM_METRICS: readonly StreamMetric[] = [
	{
		suffix: 'byte_count_bytes',
		fold: 'sum',
		read: (r) => numberAt(r, AT.byteCount),
		help: {
			producer: 'RTP bytes received from the client (cumulative, mediasoup byteCount)',
			consumer: 'RTP bytes sent to the client (cumulative, mediasoup byteCount)'
		}
	},
	{
		suffix: 'packets',
		fold: 'sum',
		read: (r) => numberAt(r, AT.packetCount),
		help: both('RTP packets (cumulative, mediasoup packetCount)')
	},
	{
		suffix: 'packets_lost',
		fold: 'sum',
		read: (r) => numberAt(r, AT.packetsLost),
		help: both('RTP packets lost (cumulative, mediasoup packetsLost)')
	},
	{
		suffix: 'fraction_lost',
		fold: 'max',
		read: (r) => divided(numberAt(r, AT.fractionLost), 256),
		help: both('Fraction of packets lost in the last RTCP interval, 0..1 (mediasoup fractionLost / 256)')
	},
	{
		suffix: 'retransmitted_packets',
		fold: 'sum',
		read: (r) => numberAt(r, AT.packetsRetransmitted),
		help: both('Packets retransmitted (cumulative, mediasoup packetsRetransmitted)')
	},
	{
		suffix: 'nack',
		fold: 'sum',
		read: (r) => numberAt(r, AT.nackCount),
		help: {
			producer: 'NACK messages sent to the client (cumulative, mediasoup nackCount)',
			consumer: 'NACK messages received from the client (cumulative, mediasoup nackCount)'
		}
	},
	{
		suffix: 'pli',
		fold: 'sum',
		read: (r) => numberAt(r, AT.pliCount),
		help: {
			producer: 'PLI messages sent to the client (cumulative, mediasoup pliCount)',
			consumer: 'PLI messages received from the client (cumulative, mediasoup pliCount)'
		}
	},
	{
		suffix: 'fir',
		fold: 'sum',
		read: (r) => numberAt(r, AT.firCount),
		help: {
			producer: 'FIR messages sent to the client (cumulative, mediasoup firCount)',
			consumer: 'FIR messages received from the client (cumulative, mediasoup firCount)'
		}
	},
	{
		suffix: 'bitrate_bps',
		fold: 'sum',
		read: (r) => numberAt(r, AT.bitrate),
		help: both('Current bitrate in bits per second (mediasoup bitrate)')
	},
	{
		suffix: 'round_trip_seconds',
		fold: 'max',
		read: (r) => divided(numberAt(r, AT.roundTripTime), 1000),
		help: both('RTCP round-trip time in seconds (mediasoup roundTripTime / 1000), once measured')
	},
	{ suffix: 'score', fold: 'min', read: (r) => numberAt(r, AT.score), help: both('mediasoup quality score of the RTP stream, 0..10') },
	{
		suffix: 'jitter_seconds',
		fold: 'max',
		roles: ['producer'],
		read: (r, clockRate) => (clockRate > 0 ? divided(numberAt(r, AT.jitter), clockRate) : undefined),
		help: {
			producer: "Interarrival jitter of the received stream in seconds (mediasoup jitter / the codec's clock rate)",
			consumer: ''
		}
	}
];

/** One role's families, each with how it reads its value from a stats row. */
type StreamFamilies = { read: StreamMetric['read']; family: GaugeFamily }[];

export type ObjectFamilies = {
	transport: Record<'received' | 'sent' | 'recvBitrate' | 'sendBitrate' | 'ice' | 'dtls', GaugeFamily>;
	producer: StreamFamilies;
	consumer: StreamFamilies;
	/** Every family, in the order of the exposition. */
	all: GaugeFamily[];
};

/** The per-transport, per-producer and per-consumer families, made by `make` in the order of the exposition. */
export function objectFamilies(make: (spec: { name: string; help: string; fold: Fold }) => GaugeFamily): ObjectFamilies {
	const sum = (name: string, help: string): GaugeFamily => make({ name, help, fold: 'sum' });
	const transport = {
		received: sum('mediasoup_transport_received_bytes', 'Bytes received by the transport (cumulative, mediasoup bytesReceived)'),
		sent: sum('mediasoup_transport_sent_bytes', 'Bytes sent by the transport (cumulative, mediasoup bytesSent)'),
		recvBitrate: sum(
			'mediasoup_transport_recv_bitrate_bps',
			'Receive bitrate of the transport in bits per second (mediasoup recvBitrate)'
		),
		sendBitrate: sum(
			'mediasoup_transport_send_bitrate_bps',
			'Send bitrate of the transport in bits per second (mediasoup sendBitrate)'
		),
		ice: sum('mediasoup_transport_ice_state', 'ICE state of a WebRTC transport: 1 for the current state, 0 for the others'),
		dtls: sum('mediasoup_transport_dtls_state', 'DTLS state of a WebRTC transport: 1 for the current state, 0 for the others')
	};
	const stream = (role: Role): StreamFamilies =>
		STREAM_METRICS.filter((m) => !m.roles || m.roles.includes(role)).map((m) => ({
			read: m.read,
			family: make({ name: `mediasoup_${role}_${m.suffix}`, help: m.help[role], fold: m.fold })
		}));
	const producer = stream('producer');
	const consumer = stream('consumer');
	return { transport, producer, consumer, all: [...Object.values(transport), ...[...producer, ...consumer].map((f) => f.family)] };
}

/**
 * The series of object `id` from its getStats() rows and its record in `state`, owned by `owner`
 * (GaugeFamily.add). Returns the labels they were written with, or undefined if `state` has no such
 * object (it closed before its answer came).
 */
export function writeObjectStats(
	families: ObjectFamilies,
	labels: ObjectLabels,
	state: Readonly<ObservedState>,
	id: string,
	rows: readonly StatsRow[],
	owner: string | undefined
): TransportLabels | StreamLabels | undefined {
	const transport = state.transports[id];
	if (transport) {
		const entry = labels.transport(state, transport);
		const row = transportRow(rows);
		if (row) {
			const { received, sent, recvBitrate, sendBitrate } = families.transport;
			received.add(entry.labelSet, numberAt(row, AT.bytesReceived), owner);
			sent.add(entry.labelSet, numberAt(row, AT.bytesSent), owner);
			recvBitrate.add(entry.labelSet, numberAt(row, AT.recvBitrate), owner);
			sendBitrate.add(entry.labelSet, numberAt(row, AT.sendBitrate), owner);
		}
		return entry;
	}
	const producer = state.producers[id];
	const record = producer ?? state.consumers[id];
	if (!record) return undefined;
	const entry = labels.stream(state, record);
	const own = producer ? families.producer : families.consumer;
	// A consumer's stats may carry a copy of its producer's inbound-rtp entry: not its series.
	const type = producer ? 'inbound-rtp' : 'outbound-rtp';
	for (const row of rows) {
		if (!isRtpStream(row, type)) continue;
		const labelSet = labels.streamLabelSet(entry, row);
		for (const { read, family } of own) family.add(labelSet, read(row, record.clockRate), owner);
	}
	return entry;
}

/** A transport's ICE and DTLS state series (WebRTC only), from its record at the end of the sweep: nothing leaves them out. */
export function writeTransportStates(families: ObjectFamilies, record: TransportRecord, labels: TransportLabels): void {
	if (record.iceState === null && record.dtlsState === null) return;
	const stateLabelSets = (labels.stateLabelSets ??= {
		ice: ICE_STATES.map((s) => extendLabelSet(labels.labelSet, 'state', s)),
		dtls: DTLS_STATES.map((s) => extendLabelSet(labels.labelSet, 'state', s))
	});
	if (record.iceState !== null)
		ICE_STATES.forEach((s, i) => families.transport.ice.add(stateLabelSets.ice[i]!, record.iceState === s ? 1 : 0));
	if (record.dtlsState !== null)
		DTLS_STATES.forEach((s, i) => families.transport.dtls.add(stateLabelSets.dtls[i]!, record.dtlsState === s ? 1 : 0));
}
