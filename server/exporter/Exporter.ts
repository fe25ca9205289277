import { Gauge, Registry, type RegistryContentType } from 'prom-client';
import { Logger } from '../Logger.js';
import type { ObserverSource } from './ObserverSource.js';
import type { ExporterOptions } from './ExporterOptions.js';
import type { MetricsSnapshot } from './MetricsSnapshot.js';
import { SnapshotCollector } from './SnapshotCollector.js';
import { AddressLabeler } from './AddressLabeler.js';
import { ReverseDnsCache } from './ReverseDnsCache.js';
import { ObjectLabeler } from './ObjectLabeler.js';
import { LabelSetCache } from './LabelSetCache.js';
import type { ObjectFamily } from './ObjectFamily.js';
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
 * snapshot alone, plus the per-object families written by hand (tens of thousands of series, whose
 * label sets are cached per object). A fresh registry per scrape means stale label sets cannot
 * survive and no scrape can change another's content type. Scrapes that share a snapshot share its
 * rendered body too (per format), so N concurrent scrapes cost one.
 */
export class Exporter {
	readonly #options: ExporterOptions;
	readonly #collector: SnapshotCollector;
	readonly #addresses: AddressLabeler;
	readonly #dns?: ReverseDnsCache;
	readonly #processMetrics = ProcessMetrics.shared();
	readonly #labelSets = new LabelSetCache();
	/** Bodies rendered from a snapshot, by format; dropped with the snapshot. */
	readonly #rendered = new WeakMap<MetricsSnapshot, Map<boolean, Promise<ScrapeResult>>>();
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
		let bodies = this.#rendered.get(snapshot);
		if (!bodies) {
			bodies = new Map();
			this.#rendered.set(snapshot, bodies);
		}
		let result = bodies.get(openMetrics);
		if (!result) {
			result = this.#render(snapshot, openMetrics, t0);
			bodies.set(openMetrics, result);
		}
		return result;
	}

	/** One body from one snapshot; `t0` is when the first scrape of this snapshot began. */
	async #render(snapshot: MetricsSnapshot, openMetrics: boolean, t0: number): Promise<ScrapeResult> {
		const renderStart = performance.now();
		// These registries are this body's alone, so setting their content type races with nobody.
		const contentType = openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
		const head = new Registry() as Registry<RegistryContentType>;
		const tail = new Registry() as Registry<RegistryContentType>;
		head.setContentType(contentType);
		tail.setContentType(contentType);
		this.#processMetrics.register(head);
		const families: ObjectFamily[] = [];
		const buildErrors = this.#build(head, tail, families, snapshot);
		new Gauge({ name: 'meter_sfu_exporter_build_errors', help: 'Collectors that failed while building this scrape', registers: [tail as Registry] })
			.set(buildErrors);
		exporterCollector({ registry: tail, snapshot, scrapeDurationSeconds: (performance.now() - t0) / 1000 });
		const built = performance.now();
		const headText = stripEnd(await head.metrics(), openMetrics);
		const headDone = performance.now();
		const parts = [headText, ...families.map((f) => f.render())];
		const familiesDone = performance.now();
		parts.push(stripEnd(await tail.metrics(), openMetrics));
		const body = openMetrics ? `${parts.join('\n')}\n# EOF\n` : `${parts.join('\n\n')}\n`;
		const end = performance.now();
		logger.debug('rendered %s in %d ms (build %d, registry %d, per-object %d, rest %d): %d per-object series, %d bytes (snapshot %d ms)',
			openMetrics ? 'OpenMetrics' : 'text', Math.round(end - renderStart), Math.round(built - renderStart), Math.round(headDone - built),
			Math.round(familiesDone - headDone), Math.round(end - familiesDone), families.reduce((n, f) => n + f.size, 0), body.length,
			Math.round(snapshot.durationSeconds * 1000));
		return { contentType, body };
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

	/**
	 * Runs every collector that has its input; a collector that throws costs its own families only.
	 * Families keep the order of the collectors: `head`'s, the per-object ones, then `tail`'s.
	 */
	#build(head: Registry<RegistryContentType>, tail: Registry<RegistryContentType>, families: ObjectFamily[], snapshot: MetricsSnapshot): number {
		const { state } = snapshot;
		if (!state) return 0;
		const labels = new ObjectLabeler({ state, options: this.#options, addresses: this.#addresses, cache: this.#labelSets });
		const ctx: CollectorContext = { registry: head, snapshot, state, options: this.#options, labels, families };
		const collectors: [string, (c: CollectorContext) => void][] = [
			['meeting', meetingCollector],
			['mediaTotals', mediaTotalsCollector],
			['worker', workerCollector]
		];
		if (this.#options.perObjectMetrics) collectors.push(['transport', transportCollector], ['stream', streamCollector]);
		const { counters } = snapshot;
		if (counters) collectors.push(['signalling', (c) => signallingCollector({ ...c, registry: tail }, counters)]);
		let errors = 0;
		for (const [name, collect] of collectors) {
			const familiesBefore = families.length;
			try {
				collect(ctx);
			} catch (error) {
				errors++;
				// Like a registry collector's, a failed collector's families are missing, not half-filled.
				families.length = familiesBefore;
				logger.error('collector %s failed: %s', name, (error as Error).stack ?? error);
			}
		}
		this.#labelSets.prune(state);
		return errors;
	}
}

/** A registry's exposition without its end (the final newline, and OpenMetrics' `# EOF`), for joining. */
function stripEnd(exposition: string, openMetrics: boolean): string {
	const end = openMetrics ? '\n# EOF\n' : '\n';
	return exposition.endsWith(end) ? exposition.slice(0, -end.length) : exposition;
}
