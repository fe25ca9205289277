import type { Fold, ObjectFamilies, ObjectFamily } from '../ObjectFamily.js';
import type { ObjectLabeler } from '../ObjectLabeler.js';
import type { StreamLabelEntry } from '../LabelSetCache.js';
import type { ConsumerRecord, ProducerRecord } from '../../observer/ObservedState.js';
import { AT, isRtpStream, numberAt, type StatsRow } from '../mediasoupStats.js';
import type { CollectorContext } from './CollectorContext.js';

type Family = {
	suffix: string;
	help: Record<Role, string>;
	/** `clockRate`: of the stream's codec, in Hz (0 if unknown). */
	read: (row: StatsRow, clockRate: number) => number | undefined;
	fold: Fold;
	roles?: readonly Role[];
};

const both = (text: string): Record<Role, string> => ({ producer: text, consumer: text });

/**
 * One gauge family per getStats() field and role. Cumulative fields stay gauges carrying mediasoup's
 * value (as edumeet's `*_byte_count_bytes`), see prom.md. `fold` says how series merge under `quiet`.
 */
const FAMILIES: readonly Family[] = [
	{
		suffix: 'byte_count_bytes', fold: 'sum', read: (r) => numberAt(r, AT.byteCount),
		help: { producer: 'RTP bytes received from the client (cumulative, mediasoup byteCount)', consumer: 'RTP bytes sent to the client (cumulative, mediasoup byteCount)' }
	},
	{ suffix: 'packets', fold: 'sum', read: (r) => numberAt(r, AT.packetCount), help: both('RTP packets (cumulative, mediasoup packetCount)') },
	{ suffix: 'packets_lost', fold: 'sum', read: (r) => numberAt(r, AT.packetsLost), help: both('RTP packets lost (cumulative, mediasoup packetsLost)') },
	{
		suffix: 'fraction_lost', fold: 'max', read: (r) => divided(numberAt(r, AT.fractionLost), 256),
		help: both('Fraction of packets lost in the last RTCP interval, 0..1 (mediasoup fractionLost / 256)')
	},
	{ suffix: 'retransmitted_packets', fold: 'sum', read: (r) => numberAt(r, AT.packetsRetransmitted), help: both('Packets retransmitted (cumulative, mediasoup packetsRetransmitted)') },
	{
		suffix: 'nack', fold: 'sum', read: (r) => numberAt(r, AT.nackCount),
		help: { producer: 'NACK messages sent to the client (cumulative, mediasoup nackCount)', consumer: 'NACK messages received from the client (cumulative, mediasoup nackCount)' }
	},
	{
		suffix: 'pli', fold: 'sum', read: (r) => numberAt(r, AT.pliCount),
		help: { producer: 'PLI messages sent to the client (cumulative, mediasoup pliCount)', consumer: 'PLI messages received from the client (cumulative, mediasoup pliCount)' }
	},
	{
		suffix: 'fir', fold: 'sum', read: (r) => numberAt(r, AT.firCount),
		help: { producer: 'FIR messages sent to the client (cumulative, mediasoup firCount)', consumer: 'FIR messages received from the client (cumulative, mediasoup firCount)' }
	},
	{ suffix: 'bitrate_bps', fold: 'sum', read: (r) => numberAt(r, AT.bitrate), help: both('Current bitrate in bits per second (mediasoup bitrate)') },
	{
		suffix: 'round_trip_seconds', fold: 'max', read: (r) => divided(numberAt(r, AT.roundTripTime), 1000),
		help: both('RTCP round-trip time in seconds (mediasoup roundTripTime / 1000), once measured')
	},
	{ suffix: 'score', fold: 'min', read: (r) => numberAt(r, AT.score), help: both('mediasoup quality score of the RTP stream, 0..10') },
	{
		suffix: 'jitter_seconds', fold: 'max', roles: ['producer'], read: (r, clockRate) => (clockRate > 0 ? divided(numberAt(r, AT.jitter), clockRate) : undefined),
		help: { producer: 'Interarrival jitter of the received stream in seconds (mediasoup jitter / the codec\'s clock rate)', consumer: '' }
	}
];

export type Role = 'producer' | 'consumer';

function divided(value: number | undefined, by: number): number | undefined {
	return value === undefined ? undefined : value / by;
}

/** One role's families, with how each reads its value. */
export type StreamFamilies = { read: Family['read']; family: ObjectFamily }[];

/** The per-stream families of both roles, in output order (producers', then consumers'). */
export function streamFamilies(families: ObjectFamilies): Record<Role, StreamFamilies> {
	const of = (role: Role): StreamFamilies => FAMILIES.filter((f) => !f.roles || f.roles.includes(role)).map((f) => ({
		read: f.read,
		family: families.family({ name: `mediasoup_${role}_${f.suffix}`, help: f.help[role], fold: f.fold })
	}));
	return { producer: of('producer'), consumer: of('consumer') };
}

/**
 * One producer's (per encoding) or consumer's series from its getStats() rows, owned by `owner`
 * (ObjectFamily.add; null: none). Returns the label entry they were made with.
 */
export function addStreamStats(
	families: StreamFamilies, role: Role, record: ProducerRecord | ConsumerRecord, rows: readonly StatsRow[], labels: ObjectLabeler, ownerOrNull: string | null
): StreamLabelEntry {
	const owner = ownerOrNull ?? undefined;
	const type = role === 'producer' ? 'inbound-rtp' : 'outbound-rtp';
	const entry = labels.streamEntry(record);
	for (const row of rows) {
		if (!isRtpStream(row, type)) continue;
		const labelSet = labels.stream(entry, row);
		for (const { read, family } of families) family.add(labelSet, read(row, record.clockRate), owner);
	}
	return entry;
}

/** Per-RTP-stream series of every producer (one per encoding) and consumer (per object). */
export function streamCollector({ families, state, snapshot, labels }: CollectorContext): void {
	const own = streamFamilies(families);
	for (const role of ['producer', 'consumer'] as const) {
		const records = role === 'producer' ? state.producers : state.consumers;
		for (const record of Object.values(records)) {
			const rows = snapshot.sweep.stats.get(record.id);
			if (rows) addStreamStats(own[role], role, record, rows, labels, record.id);
		}
	}
}
