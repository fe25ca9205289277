import type { Fold, ObjectFamilies, ObjectFamily } from '../ObjectFamily.js';
import type { ObjectLabeler } from '../ObjectLabeler.js';
import type { ConsumerRecord, ProducerRecord } from '../../observer/ObservedState.js';
import { readRtpStreamStats, type RtpStreamStat } from '../mediasoupStats.js';
import type { CollectorContext } from './CollectorContext.js';

type Family = {
	suffix: string;
	help: Record<Role, string>;
	read: (stat: RtpStreamStat) => number | undefined;
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
		suffix: 'byte_count_bytes', fold: 'sum', read: (s) => s.byteCount,
		help: { producer: 'RTP bytes received from the client (cumulative, mediasoup byteCount)', consumer: 'RTP bytes sent to the client (cumulative, mediasoup byteCount)' }
	},
	{ suffix: 'packets', fold: 'sum', read: (s) => s.packetCount, help: both('RTP packets (cumulative, mediasoup packetCount)') },
	{ suffix: 'packets_lost', fold: 'sum', read: (s) => s.packetsLost, help: both('RTP packets lost (cumulative, mediasoup packetsLost)') },
	{
		suffix: 'fraction_lost', fold: 'max', read: (s) => s.fractionLost === undefined ? undefined : s.fractionLost / 256,
		help: both('Fraction of packets lost in the last RTCP interval, 0..1 (mediasoup fractionLost / 256)')
	},
	{ suffix: 'retransmitted_packets', fold: 'sum', read: (s) => s.packetsRetransmitted, help: both('Packets retransmitted (cumulative, mediasoup packetsRetransmitted)') },
	{
		suffix: 'nack', fold: 'sum', read: (s) => s.nackCount,
		help: { producer: 'NACK messages sent to the client (cumulative, mediasoup nackCount)', consumer: 'NACK messages received from the client (cumulative, mediasoup nackCount)' }
	},
	{
		suffix: 'pli', fold: 'sum', read: (s) => s.pliCount,
		help: { producer: 'PLI messages sent to the client (cumulative, mediasoup pliCount)', consumer: 'PLI messages received from the client (cumulative, mediasoup pliCount)' }
	},
	{
		suffix: 'fir', fold: 'sum', read: (s) => s.firCount,
		help: { producer: 'FIR messages sent to the client (cumulative, mediasoup firCount)', consumer: 'FIR messages received from the client (cumulative, mediasoup firCount)' }
	},
	{ suffix: 'bitrate_bps', fold: 'sum', read: (s) => s.bitrate, help: both('Current bitrate in bits per second (mediasoup bitrate)') },
	{
		suffix: 'round_trip_seconds', fold: 'max', read: (s) => s.roundTripTime === undefined ? undefined : s.roundTripTime / 1000,
		help: both('RTCP round-trip time in seconds (mediasoup roundTripTime / 1000), once measured')
	},
	{ suffix: 'score', fold: 'min', read: (s) => s.score, help: both('mediasoup quality score of the RTP stream, 0..10') },
	{
		suffix: 'jitter_seconds', fold: 'max', roles: ['producer'], read: (s) => s.jitter === undefined ? undefined : s.jitter / 1000,
		help: { producer: 'Interarrival jitter of the received stream in seconds (mediasoup 3.8.4 jitter is in ms)', consumer: '' }
	}
];

export type Role = 'producer' | 'consumer';

/** One role's families, with how each reads its value. */
export type StreamFamilies = { read: (stat: RtpStreamStat) => number | undefined; family: ObjectFamily }[];

/** The per-stream families of both roles, in output order (producers', then consumers'). */
export function streamFamilies(families: ObjectFamilies): Record<Role, StreamFamilies> {
	const of = (role: Role): StreamFamilies => FAMILIES.filter((f) => !f.roles || f.roles.includes(role)).map((f) => ({
		read: f.read,
		family: families.family({ name: `mediasoup_${role}_${f.suffix}`, help: f.help[role], fold: f.fold })
	}));
	return { producer: of('producer'), consumer: of('consumer') };
}

/**
 * One producer's (per encoding) or consumer's series from its getStats() entries, owned by `owner`
 * (ObjectFamily.add; null: none).
 */
export function addStreamStats(
	families: StreamFamilies, role: Role, record: ProducerRecord | ConsumerRecord, entries: readonly unknown[], labels: ObjectLabeler, ownerOrNull: string | null
): void {
	const owner = ownerOrNull ?? undefined;
	for (const stat of readRtpStreamStats(entries, role === 'producer' ? 'inbound-rtp' : 'outbound-rtp')) {
		const labelSet = labels.stream(record, stat);
		for (const { read, family } of families) family.add(labelSet, read(stat), owner);
	}
}

/** Per-RTP-stream series of every producer (one per encoding) and consumer (per object). */
export function streamCollector({ families, state, snapshot, labels }: CollectorContext): void {
	const own = streamFamilies(families);
	for (const role of ['producer', 'consumer'] as const) {
		const records = role === 'producer' ? state.producers : state.consumers;
		for (const record of Object.values(records)) {
			const entries = snapshot.sweep.stats.get(record.id);
			if (entries) addStreamStats(own[role], role, record, entries, labels, record.id);
		}
	}
}
