import type { Metric, Registry, RegistryContentType } from 'prom-client';

type Series = { labels: Record<string, string>; cumulativeCounts: readonly number[]; sum: number; count: number };

/**
 * A histogram whose buckets were counted elsewhere (the server's request-latency counts arrive as
 * cumulative bucket counts over the observer stream), exposed in the format of prom-client's own
 * histograms. prom-client's Histogram can only observe single values.
 */
export class PrecomputedHistogram {
	readonly name: string;
	readonly help: string;
	readonly type = 'histogram';
	readonly aggregator = 'sum';
	readonly #buckets: readonly number[];
	readonly #series: Series[] = [];

	constructor({
		registry,
		name,
		help,
		buckets
	}: {
		registry: Registry<RegistryContentType>;
		name: string;
		help: string;
		buckets: readonly number[];
	}) {
		this.name = name;
		this.help = help;
		this.#buckets = [...buckets];
		(registry as Registry).registerMetric(this as unknown as Metric);
	}

	/** `cumulativeCounts[i]` counts observations ≤ buckets[i]; `count` is all of them (the +Inf bucket). */
	set(
		labels: Record<string, string>,
		{ cumulativeCounts, sum, count }: { cumulativeCounts: readonly number[]; sum: number; count: number }
	): void {
		if (cumulativeCounts.length !== this.#buckets.length)
			throw new TypeError(`${this.name}: ${cumulativeCounts.length} bucket counts for ${this.#buckets.length} buckets`);
		this.#series.push({ labels, cumulativeCounts, sum, count });
	}

	async get(): Promise<{
		name: string;
		help: string;
		type: string;
		aggregator: string;
		values: { metricName: string; labels: Record<string, string | number>; value: number }[];
	}> {
		const values = [];
		for (const { labels, cumulativeCounts, sum, count } of this.#series) {
			this.#buckets.forEach((le, i) => {
				values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulativeCounts[i]! });
			});
			values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: count });
			values.push({ metricName: `${this.name}_sum`, labels, value: sum });
			values.push({ metricName: `${this.name}_count`, labels, value: count });
		}
		return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
	}
}

/**
 * `values` counted as prom-client's Histogram counts them (each in the first bucket whose bound is
 * not below it), for set(): one pass, no label hashing per value. Values that are not finite
 * numbers are left out (prom-client's observe() throws on them).
 */
export function countObservations(
	buckets: readonly number[],
	values: readonly number[]
): { cumulativeCounts: number[]; sum: number; count: number } {
	const perBucket = buckets.map(() => 0);
	let sum = 0;
	let count = 0;
	for (const value of values) {
		if (!Number.isFinite(value)) continue;
		sum += value;
		count++;
		for (let i = 0; i < buckets.length; i++) {
			if (value <= buckets[i]!) {
				perBucket[i]!++;
				break;
			}
		}
	}
	let running = 0;
	return { cumulativeCounts: perBucket.map((n) => (running += n)), sum, count };
}
