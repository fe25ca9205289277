/**
 * mediasoup getStats() entries as the exporter reads them: as stats rows, the values of
 * STATS_FIELDS in that order. The sweep asks the server for rows (`rows` in PROTOCOL.md): thousands
 * of entries per scrape, and an array of values is cheaper to build, send, parse and keep than an
 * object that repeats every key. A field that is missing or not of its type reads as undefined, so
 * a metric is left out rather than exported as garbage.
 */

/** Every getStats() field the exporter reads, in the order of a stats row. */
export const STATS_FIELDS = [
	'type',
	'ssrc',
	'rid',
	'kind',
	'mimeType',
	'byteCount',
	'packetCount',
	'packetsLost',
	'fractionLost',
	'packetsRetransmitted',
	'nackCount',
	'pliCount',
	'firCount',
	'bitrate',
	'roundTripTime',
	'jitter',
	'score',
	'bytesReceived',
	'bytesSent',
	'recvBitrate',
	'sendBitrate'
] as const;

export type StatsField = (typeof STATS_FIELDS)[number];

/** The fields whose values are texts; the others are numbers. */
export const STATS_TEXT_FIELDS = ['type', 'rid', 'kind', 'mimeType'] as const satisfies readonly StatsField[];

/**
 * One getStats() entry as the values of STATS_FIELDS, in that order. Of an RTP stream's entry
 * (type `inbound-rtp` or `outbound-rtp`): `fractionLost` is 0..255 (RTCP's fixed point),
 * `bitrate` bits per second, `roundTripTime` ms (only once mediasoup measured one), `jitter` in
 * RTP timestamp units of the codec's clock (RFC 3550; inbound only). Of a transport's entry
 * (type `webrtc-transport`, `plain-rtp-transport`, ...): bytes and bits per second.
 */
export type StatsRow = readonly unknown[];

/** Where each field is in a stats row. */
export const AT: Readonly<Record<StatsField, number>> = Object.freeze(
	Object.fromEntries(STATS_FIELDS.map((field, i) => [field, i])) as Record<StatsField, number>
);

/** The value at `at` if it is a finite number. */
export function numberAt(row: StatsRow, at: number): number | undefined {
	const value = row[at];
	return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The value at `at` if it is a string. */
export function textAt(row: StatsRow, at: number): string | undefined {
	const value = row[at];
	return typeof value === 'string' ? value : undefined;
}

/**
 * An answer's entries as rows: as they are when they are rows already; objects (from a server
 * that answers without `rows`) as the values of their STATS_FIELDS. Anything else is dropped.
 */
export function statsRows(entries: readonly unknown[]): readonly StatsRow[] {
	if (entries.every(Array.isArray)) return entries as readonly StatsRow[];
	const rows: StatsRow[] = [];
	for (const entry of entries) {
		if (Array.isArray(entry)) {
			rows.push(entry);
		} else if (typeof entry === 'object' && entry !== null) {
			const source = entry as Record<string, unknown>;
			rows.push(STATS_FIELDS.map((field) => source[field] ?? null));
		}
	}
	return rows;
}

/**
 * Whether `row` is an RTP stream of `type` with an SSRC (a consumer's stats may also carry a copy
 * of its producer's inbound-rtp entry, which belongs to the producer's series, not the consumer's).
 */
export function isRtpStream(row: StatsRow, type: 'inbound-rtp' | 'outbound-rtp'): boolean {
	return row[AT.type] === type && numberAt(row, AT.ssrc) !== undefined;
}

/** The transport's own row (webrtc-transport, plain-rtp-transport, ...). */
export function transportRow(rows: readonly StatsRow[]): StatsRow | undefined {
	for (const row of rows) {
		const type = row[AT.type];
		if (typeof type === 'string' && type.endsWith('-transport')) return row;
	}
	return undefined;
}
