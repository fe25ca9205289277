import { Counter, Gauge } from 'prom-client';
import type { ServerCounters } from '../../stream/protocol.js';
import { labelValue } from '../labels/labelValue.js';
import { PrecomputedHistogram } from './PrecomputedHistogram.js';
import { registers, type CollectorContext } from './CollectorContext.js';

/** Bounds label values that come from the server's own maps (method, error and reason names). */
const name = (value: string): string => labelValue(value, 64);

function counter(ctx: CollectorContext, metric: string, help: string, value: number): void {
	new Counter({ name: metric, help, registers: registers(ctx.registry) }).inc(value);
}

/** The meeting server's own counters since start (the `counters` request). */
export function signallingCollector(ctx: CollectorContext, counters: ServerCounters): void {
	const reg = registers(ctx.registry);
	const requests = new Counter({
		name: 'edumeet_signalling_requests_total',
		help: 'Signalling requests answered, by method and result (ok or the error name)',
		labelNames: ['method', 'result'],
		registers: reg
	});
	for (const [method, byResult] of Object.entries(counters.requests)) {
		for (const [result, count] of Object.entries(byResult)) requests.inc({ method: name(method), result: name(result) }, count);
	}
	const latency = new PrecomputedHistogram({
		registry: ctx.registry,
		name: 'edumeet_signalling_request_duration_seconds',
		help: 'Time to answer a signalling request, by method',
		buckets: counters.requestLatency.bucketsSeconds
	});
	for (const [method, l] of Object.entries(counters.requestLatency.byMethod)) {
		latency.set({ method: name(method) }, { cumulativeCounts: l.bucketCounts, sum: l.sumSeconds, count: l.count });
	}
	new Gauge({ name: 'edumeet_connected_sockets', help: 'socket.io connections open', registers: reg }).set(counters.connectedSockets);
	counter(ctx, 'edumeet_joins_total', 'Peers that joined a room', counters.joins);
	counter(ctx, 'edumeet_leaves_total', 'Peers that left a room (including disconnects)', counters.leaves);
	counter(ctx, 'edumeet_rooms_created_total', 'Rooms opened', counters.roomsCreated);
	counter(ctx, 'edumeet_rooms_closed_total', 'Rooms closed', counters.roomsClosed);
	counter(ctx, 'edumeet_active_speaker_changes_total', 'Active-speaker changes over all rooms', counters.activeSpeakerChanges);
	for (const action of ['produce', 'consume'] as const) {
		const outcomes = counters[action];
		const families = {
			attempts: new Counter({
				name: `edumeet_${action}_attempts_total`,
				help: `${action} attempts by kind`,
				labelNames: ['kind'],
				registers: reg
			}),
			successes: new Counter({
				name: `edumeet_${action}_successes_total`,
				help: `${action} successes by kind`,
				labelNames: ['kind'],
				registers: reg
			}),
			failures: new Counter({
				name: `edumeet_${action}_failures_total`,
				help: `${action} failures by kind`,
				labelNames: ['kind'],
				registers: reg
			})
		};
		for (const kind of ['audio', 'video'] as const) {
			for (const outcome of ['attempts', 'successes', 'failures'] as const) families[outcome].inc({ kind }, outcomes[kind][outcome]);
		}
	}
	const rejected = new Counter({
		name: 'edumeet_rejected_messages_total',
		help: 'Inbound signalling messages refused at the edge, by reason',
		labelNames: ['reason'],
		registers: reg
	});
	for (const [reason, count] of Object.entries(counters.rejectedMessages)) rejected.inc({ reason: name(reason) }, count);
}
