import type { MediaKind } from '../contract/signalling.js';

/** Counters the server keeps since start (monotonic) plus a few live gauges. */
export type ServerCounters = {
	workerDeaths: number;
	roomsCreated: number;
	roomsClosed: number;
	joins: number;
	leaves: number;
	activeSpeakerChanges: number;
	connectedSockets: number;
	/** config.room.maxPeers: the most peers a room admits (a setting, not a count; for alerting on full rooms). */
	roomMaxPeers: number;
	/** requests[method][result] where result is 'ok' or an error name */
	requests: Record<string, Record<string, number>>;
	/** Request latency histogram per method; `bucketCounts[i]` counts requests ≤ `bucketsSeconds[i]` (cumulative). */
	requestLatency: {
		bucketsSeconds: number[];
		byMethod: Record<string, { bucketCounts: number[]; sumSeconds: number; count: number }>;
	};
	/** produce / consume attempts by kind and outcome */
	produce: Record<'audio' | 'video', { attempts: number; successes: number; failures: number }>;
	consume: Record<'audio' | 'video', { attempts: number; successes: number; failures: number }>;
	/** Inbound messages refused at the edge, by reason (e.g. 'rate_limit', 'payload_too_large'). */
	rejectedMessages: Record<string, number>;
};

/** Request latency buckets (seconds), as in prom-client's defaults plus 1 ms / 2.5 ms / 10 s. */
export const REQUEST_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Monotonic counts of life-cycle events. */
export type CountedEvent = 'roomsCreated' | 'roomsClosed' | 'joins' | 'leaves' | 'activeSpeakerChanges';

type Outcomes = { attempts: number; successes: number; failures: number };
type Latency = { bucketCounts: number[]; sumSeconds: number; count: number };

/**
 * What the meeting server counts since start, read by the exporter through `snapshot()` on every
 * scrape. Monotonic counters only go up; `connectedSockets` is a live gauge. Keys of the per-method
 * maps are known method names (or '_unknown') and error names, so their cardinality is bounded.
 */
export class MeetingCounters {
	readonly #workerDeaths: () => number;
	readonly #roomMaxPeers: number;
	readonly #events: Record<CountedEvent, number> = { roomsCreated: 0, roomsClosed: 0, joins: 0, leaves: 0, activeSpeakerChanges: 0 };
	#connectedSockets = 0;
	readonly #requests = new Map<string, Map<string, number>>();
	readonly #latency = new Map<string, Latency>();
	readonly #produce: Record<MediaKind, Outcomes> = { audio: outcomes(), video: outcomes() };
	readonly #consume: Record<MediaKind, Outcomes> = { audio: outcomes(), video: outcomes() };
	readonly #rejected = new Map<string, number>();

	/**
	 * `workerDeaths` reads the worker pool's own count, so there is one source of truth.
	 * `methods` start at zero (result 'ok'), so their series exist before the first request and
	 * Prometheus's rate() sees the first step instead of a series appearing at 1.
	 */
	constructor({
		workerDeaths,
		roomMaxPeers,
		methods = []
	}: {
		workerDeaths: () => number;
		roomMaxPeers: number;
		methods?: readonly string[];
	}) {
		this.#workerDeaths = workerDeaths;
		this.#roomMaxPeers = roomMaxPeers;
		for (const method of methods) {
			this.#requests.set(method, new Map([['ok', 0]]));
			this.#latency.set(method, emptyLatency());
		}
	}

	event(name: CountedEvent): void {
		this.#events[name]++;
	}

	socketConnected(): void {
		this.#connectedSockets++;
	}

	socketDisconnected(): void {
		this.#connectedSockets--;
	}

	/** One answered request: `result` is 'ok' or the error name. */
	request(method: string, result: string, seconds: number): void {
		let byResult = this.#requests.get(method);
		if (!byResult) this.#requests.set(method, (byResult = new Map()));
		byResult.set(result, (byResult.get(result) ?? 0) + 1);
		let latency = this.#latency.get(method);
		if (!latency) this.#latency.set(method, (latency = emptyLatency()));
		REQUEST_LATENCY_BUCKETS.forEach((le, i) => {
			if (seconds <= le) latency.bucketCounts[i]!++;
		});
		latency.sumSeconds += seconds;
		latency.count++;
	}

	rejected(reason: string): void {
		this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1);
	}

	produce(kind: MediaKind, outcome: 'attempt' | 'success' | 'failure'): void {
		count(this.#produce[kind], outcome);
	}

	consume(kind: MediaKind, outcome: 'attempt' | 'success' | 'failure'): void {
		count(this.#consume[kind], outcome);
	}

	snapshot(): ServerCounters {
		const requests: ServerCounters['requests'] = {};
		for (const [method, byResult] of this.#requests) requests[method] = Object.fromEntries(byResult);
		const byMethod: ServerCounters['requestLatency']['byMethod'] = {};
		for (const [method, l] of this.#latency)
			byMethod[method] = { bucketCounts: [...l.bucketCounts], sumSeconds: l.sumSeconds, count: l.count };
		return {
			workerDeaths: this.#workerDeaths(),
			...this.#events,
			connectedSockets: this.#connectedSockets,
			roomMaxPeers: this.#roomMaxPeers,
			requests,
			requestLatency: { bucketsSeconds: [...REQUEST_LATENCY_BUCKETS], byMethod },
			produce: { audio: { ...this.#produce.audio }, video: { ...this.#produce.video } },
			consume: { audio: { ...this.#consume.audio }, video: { ...this.#consume.video } },
			rejectedMessages: Object.fromEntries(this.#rejected)
		};
	}
}

function emptyLatency(): Latency {
	return { bucketCounts: REQUEST_LATENCY_BUCKETS.map(() => 0), sumSeconds: 0, count: 0 };
}

function outcomes(): Outcomes {
	return { attempts: 0, successes: 0, failures: 0 };
}

function count(o: Outcomes, outcome: 'attempt' | 'success' | 'failure'): void {
	if (outcome === 'attempt') o.attempts++;
	else if (outcome === 'success') o.successes++;
	else o.failures++;
}
