import { Gauge } from 'prom-client';
import { PrecomputedHistogram, countObservations } from './PrecomputedHistogram.js';
import { AT, numberAt, transportRow } from '../snapshot/mediasoupStats.js';
import { registers, type CollectorContext } from './CollectorContext.js';

/**
 * Totals over all media objects, always exported (also without per-object series): transports by
 * type and protocol and by ICE/DTLS state, producers and consumers by kind, the bitrate summed over
 * transports, and the score distribution as a gauge histogram.
 */
export function mediaTotalsCollector({ registry, state, snapshot, options }: CollectorContext): void {
	const reg = registers(registry);
	const transports = new Gauge({
		name: 'mediasoup_transports',
		help: 'Transports by type and selected-tuple protocol (proto empty while none is selected)',
		labelNames: ['transport_type', 'proto'],
		registers: reg
	});
	const webrtc = new Gauge({
		name: 'mediasoup_webrtc_transports',
		help: 'WebRTC transports by ICE and DTLS state',
		labelNames: ['ice_state', 'dtls_state'],
		registers: reg
	});
	const byType = new Map<string, { labels: { transport_type: string; proto: string }; count: number }>();
	const byIceDtls = new Map<string, { labels: { ice_state: string; dtls_state: string }; count: number }>();
	const bitrate = { recv: 0, send: 0 };
	for (const t of Object.values(state.transports)) {
		const proto = t.tuple?.protocol ?? '';
		const typeKey = `${t.type}\u0000${proto}`;
		const typeEntry = byType.get(typeKey) ?? { labels: { transport_type: t.type, proto }, count: 0 };
		typeEntry.count++;
		byType.set(typeKey, typeEntry);
		if (t.type === 'webrtc') {
			const ice = t.iceState ?? '';
			const dtls = t.dtlsState ?? '';
			const key = `${ice}\u0000${dtls}`;
			const entry = byIceDtls.get(key) ?? { labels: { ice_state: ice, dtls_state: dtls }, count: 0 };
			entry.count++;
			byIceDtls.set(key, entry);
		}
		const entries = snapshot.sweep.stats.get(t.id);
		const row = entries ? transportRow(entries) : undefined;
		bitrate.recv += row ? (numberAt(row, AT.recvBitrate) ?? 0) : 0;
		bitrate.send += row ? (numberAt(row, AT.sendBitrate) ?? 0) : 0;
	}
	for (const { labels, count } of byType.values()) transports.set(labels, count);
	for (const { labels, count } of byIceDtls.values()) webrtc.set(labels, count);
	const bitrateGauge = new Gauge({
		name: 'mediasoup_bitrate_bps',
		help: 'Bitrate summed over all transports in bits per second (recv: into the SFU)',
		labelNames: ['direction'],
		registers: reg
	});
	bitrateGauge.set({ direction: 'recv' }, bitrate.recv);
	bitrateGauge.set({ direction: 'send' }, bitrate.send);

	const producers = new Gauge({ name: 'mediasoup_producers', help: 'Producers by kind', labelNames: ['kind'], registers: reg });
	const consumers = new Gauge({ name: 'mediasoup_consumers', help: 'Consumers by kind', labelNames: ['kind'], registers: reg });
	// Counted here and handed over as bucket counts: prom-client's observe() hashes the labels of
	// each of thousands of observations per scrape.
	const score = new PrecomputedHistogram({
		registry,
		name: 'mediasoup_stream_score',
		help: 'Score distribution, one observation per producer encoding and per consumer (gauge histogram: re-observed every scrape)',
		buckets: options.buckets.score
	});
	const scores = {
		producer: { audio: [] as number[], video: [] as number[] },
		consumer: { audio: [] as number[], video: [] as number[] }
	};
	const counts = { producer: { audio: 0, video: 0 }, consumer: { audio: 0, video: 0 } };
	for (const p of Object.values(state.producers)) {
		counts.producer[p.kind]++;
		for (const encoding of p.score) scores.producer[p.kind].push(encoding.score);
	}
	for (const c of Object.values(state.consumers)) {
		counts.consumer[c.kind]++;
		scores.consumer[c.kind].push(c.score.score);
	}
	// Every role and kind has its series, also without observations.
	for (const role of ['producer', 'consumer'] as const) {
		for (const kind of ['audio', 'video'] as const)
			score.set({ role, kind }, countObservations(options.buckets.score, scores[role][kind]));
	}
	for (const kind of ['audio', 'video'] as const) {
		producers.set({ kind }, counts.producer[kind]);
		consumers.set({ kind }, counts.consumer[kind]);
	}
}
