import { Registry, collectDefaultMetrics, type Metric, type RegistryContentType } from 'prom-client';

/** prom-client gauges named `_total`, which `promtool check metrics` rejects; sum nodejs_active_* instead. */
const LINT_FAILING = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

type DefaultMetric = { name: string; help: string; type: string; get(): Promise<{ name: string } & Record<string, unknown>> };

/**
 * prom-client's default process and Node metrics of this process. They keep state between scrapes
 * (CPU deltas, GC and event-loop observers), so they live in one private registry for the whole
 * process; each scrape's fresh registry gets a view of every metric. The view carries its own name
 * because an OpenMetrics registry renames counters it exposes (strips `_total`), which would corrupt
 * a metric object shared with text-format scrapes.
 */
export class ProcessMetrics {
	static #shared?: ProcessMetrics;
	readonly #registry = new Registry();

	/** One per process: the default metrics install observers that cannot be removed. */
	static shared(): ProcessMetrics {
		ProcessMetrics.#shared ??= new ProcessMetrics();
		return ProcessMetrics.#shared;
	}

	private constructor() {
		collectDefaultMetrics({ register: this.#registry });
		for (const name of LINT_FAILING) this.#registry.removeSingleMetric(name);
	}

	register(registry: Registry<RegistryContentType>): void {
		for (const metric of this.#registry.getMetricsAsArray() as unknown as DefaultMetric[]) {
			const view = {
				name: metric.name,
				help: metric.help,
				type: metric.type,
				aggregator: 'sum',
				async get() {
					return { ...(await metric.get()), name: view.name };
				}
			};
			(registry as Registry).registerMetric(view as unknown as Metric);
		}
	}
}
