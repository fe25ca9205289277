import { Gauge, Registry, type RegistryContentType } from 'prom-client';
import { Logger } from '../Logger.js';
import type { ObserverSource } from './ObserverSource.js';
import type { ExporterOptions } from './ExporterOptions.js';
import type { MetricsSnapshot } from './MetricsSnapshot.js';
import { SnapshotCollector } from './SnapshotCollector.js';
import { AddressLabeler } from './AddressLabeler.js';
import { ReverseDnsCache } from './ReverseDnsCache.js';
import { ObjectLabeler } from './ObjectLabeler.js';
import { ProcessMetrics } from './ProcessMetrics.js';
import type { CollectorContext } from './collectors/CollectorContext.js';
import { meetingCollector } from './collectors/meetingCollector.js';
import { mediaTotalsCollector } from './collectors/mediaTotalsCollector.js';
import { workerCollector } from './collectors/workerCollector.js';
import { transportCollector } from './collectors/transportCollector.js';
import { streamCollector } from './collectors/streamCollector.js';
import { signallingCollector } from './collectors/signallingCollector.js';
import { exporterCollector } from './collectors/exporterCollector.js';

const logger = new Logger('Exporter');

export type ScrapeResult = { contentType: string; body: string };

/**
 * The exporter: on every scrape, one snapshot through the observer stream (shared with concurrent
 * scrapes), then a fresh Registry of the requested content type filled by the collectors from that
 * snapshot alone. A fresh registry per scrape means stale label sets cannot survive and no scrape
 * can change another's content type.
 */
export class Exporter {
	readonly #options: ExporterOptions;
	readonly #collector: SnapshotCollector;
	readonly #addresses: AddressLabeler;
	readonly #dns?: ReverseDnsCache;
	readonly #processMetrics = ProcessMetrics.shared();
	#closed = false;

	/** `dns` replaces the default reverse-DNS cache (used only when neither numeric nor deidentify). */
	constructor({ source, options, dns }: { source: ObserverSource; options: ExporterOptions; dns?: ReverseDnsCache }) {
		this.#options = options;
		this.#collector = new SnapshotCollector({
			source, scrapeTimeoutMs: options.scrapeTimeoutMs, statsConcurrency: options.statsConcurrency, perObjectMetrics: options.perObjectMetrics
		});
		if (!options.numeric && !options.deidentify) this.#dns = dns ?? new ReverseDnsCache();
		this.#addresses = new AddressLabeler({ deidentify: options.deidentify, numeric: options.numeric, dns: this.#dns });
	}

	async scrape({ openMetrics = false }: { openMetrics?: boolean } = {}): Promise<ScrapeResult> {
		const t0 = performance.now();
		const snapshot = await this.#collector.collect();
		// This registry is this scrape's alone, so setting its content type races with nobody.
		const registry = new Registry() as Registry<RegistryContentType>;
		registry.setContentType(openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
		this.#processMetrics.register(registry);
		const buildErrors = this.#build(registry, snapshot);
		new Gauge({ name: 'meter_sfu_exporter_build_errors', help: 'Collectors that failed while building this scrape', registers: [registry as Registry] })
			.set(buildErrors);
		exporterCollector({ registry, snapshot, scrapeDurationSeconds: (performance.now() - t0) / 1000 });
		return { contentType: registry.contentType, body: await registry.metrics() };
	}

	/** The snapshot a scrape would use (shared with any in flight): the overview page reads this. */
	snapshot(): Promise<MetricsSnapshot> {
		return this.#collector.collect();
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#dns?.close();
	}

	/** Runs every collector that has its input; a collector that throws costs its own families only. */
	#build(registry: Registry<RegistryContentType>, snapshot: MetricsSnapshot): number {
		const { state } = snapshot;
		if (!state) return 0;
		const ctx: CollectorContext = {
			registry, snapshot, state, options: this.#options,
			labels: new ObjectLabeler({ state, options: this.#options, addresses: this.#addresses })
		};
		const collectors: [string, (c: CollectorContext) => void][] = [
			['meeting', meetingCollector],
			['mediaTotals', mediaTotalsCollector],
			['worker', workerCollector]
		];
		if (this.#options.perObjectMetrics) collectors.push(['transport', transportCollector], ['stream', streamCollector]);
		const { counters } = snapshot;
		if (counters) collectors.push(['signalling', (c) => signallingCollector(c, counters)]);
		let errors = 0;
		for (const [name, collect] of collectors) {
			try {
				collect(ctx);
			} catch (error) {
				errors++;
				logger.error('collector %s failed: %s', name, (error as Error).stack ?? error);
			}
		}
		return errors;
	}
}
