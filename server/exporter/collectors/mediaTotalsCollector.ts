import { Gauge, Histogram } from 'prom-client';
import { readTransportStat } from '../mediasoupStats.js';
import { registers, type CollectorContext } from './CollectorContext.js';

/**
 * Totals over all media objects, always exported (also without per-object series): transports by
 * type and protocol and by ICE/DTLS state, producers and consumers by kind, the bitrate summed over
 * transports, and the score distribution as a gauge histogram.
 */
export function mediaTotalsCollector({ registry, state, snapshot, options }: CollectorContext): void {
	const reg = registers(registry);
	const transports = new Gauge({
		name: 'mediasoup_transports', help: 'Transports by type and selected-tuple protocol (proto empty while none is selected)',
		labelNames: ['transport_type', 'proto'], registers: reg
	});
	const webrtc = new Gauge({
		name: 'mediasoup_webrtc_transports', help: 'WebRTC transports by ICE and DTLS state', labelNames: ['ice_state', 'dtls_state'], registers: reg
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
		const stat = entries ? readTransportStat(entries) : undefined;
		bitrate.recv += stat?.recvBitrate ?? 0;
		bitrate.send += stat?.sendBitrate ?? 0;
	}
	for (const { labels, count } of byType.values()) transports.set(labels, count);
	for (const { labels, count } of byIceDtls.values()) webrtc.set(labels, count);
	const bitrateGauge = new Gauge({
		name: 'mediasoup_bitrate_bps', help: 'Bitrate summed over all transports in bits per second (recv: into the SFU)',
		labelNames: ['direction'], registers: reg
	});
	bitrateGauge.set({ direction: 'recv' }, bitrate.recv);
	bitrateGauge.set({ direction: 'send' }, bitrate.send);

	const producers = new Gauge({ name: 'mediasoup_producers', help: 'Producers by kind', labelNames: ['kind'], registers: reg });
	const consumers = new Gauge({ name: 'mediasoup_consumers', help: 'Consumers by kind', labelNames: ['kind'], registers: reg });
	const score = new Histogram({
		name: 'mediasoup_stream_score',
		help: 'Score distribution, one observation per producer encoding and per consumer (gauge histogram: re-observed every scrape)',
		labelNames: ['role', 'kind'], buckets: options.buckets.score, registers: reg
	});
	// Every role and kind has its series, also before the first observation.
	for (const role of ['producer', 'consumer']) for (const kind of ['audio', 'video']) score.zero({ role, kind });
	const counts = { producer: { audio: 0, video: 0 }, consumer: { audio: 0, video: 0 } };
	for (const p of Object.values(state.producers)) {
		counts.producer[p.kind]++;
		for (const encoding of p.score) score.observe({ role: 'producer', kind: p.kind }, encoding.score);
	}
	for (const c of Object.values(state.consumers)) {
		counts.consumer[c.kind]++;
		score.observe({ role: 'consumer', kind: c.kind }, c.score.score);
	}
	for (const kind of ['audio', 'video'] as const) {
		producers.set({ kind }, counts.producer[kind]);
		consumers.set({ kind }, counts.consumer[kind]);
	}
}
