import { Gauge, Registry, type RegistryContentType } from 'prom-client';
import { Logger } from '../base/Logger.js';
import type { ExporterOptions } from './ExporterOptions.js';
import type { ObserverSource } from './snapshot/ObserverSource.js';
import type { MetricsSnapshot } from './snapshot/MetricsSnapshot.js';
import { SnapshotCollector } from './snapshot/SnapshotCollector.js';
import { AddressLabeler } from './labels/AddressLabeler.js';
import { ReverseDnsCache } from './labels/ReverseDnsCache.js';
import { createPerObjectSeries, type PerObjectBody, type PerObjectSeries } from './perObject/PerObjectSeries.js';
import { ProcessMetrics } from './collectors/ProcessMetrics.js';
import type { CollectorContext } from './collectors/CollectorContext.js';
import { meetingCollector } from './collectors/meetingCollector.js';
import { mediaTotalsCollector } from './collectors/mediaTotalsCollector.js';
import { workerCollector } from './collectors/workerCollector.js';
import { signallingCollector } from './collectors/signallingCollector.js';
import { exporterCollector } from './collectors/exporterCollector.js';

const logger = new Logger('Exporter');

/**
 * One scrape's answer: the Content-Type header (charset first, as express writes it) and the
 * exposition as UTF-8 in pieces, to be written in order. Megabytes, so never joined into one
 * string or buffer; the per-object pieces are shared by every scrape of a snapshot.
 */
export type ScrapeResult = { contentType: string; chunks: readonly Buffer[]; byteLength: number };

/**
 * A scrape's answer handed to one caller, with `release()`: call it once the chunks are no longer
 * needed (the response is done), and their memory can take a later scrape's lines. Never calling
 * it is safe: that memory is then not reused. The chunks must not be read after it.
 */
export type LeasedScrapeResult = ScrapeResult & { release: () => void };

const CONTENT_TYPES = {
	text: 'text/plain; charset=utf-8; version=0.0.4',
	openMetrics: 'application/openmetrics-text; charset=utf-8; version=1.0.0'
} as const;

/** A snapshot's per-object series, and whether writing them failed (they are then missing). */
type PerObjectPart = PerObjectBody & { errors: number };

const NO_OBJECTS: PerObjectPart = { families: [], series: 0, lease: () => () => {}, errors: 0 };

/**
 * The exporter: on every scrape, one snapshot through the observer stream (shared with concurrent
 * scrapes), then a fresh Registry of the requested content type filled by the collectors from that
 * snapshot alone, with the per-object series (perObject/) between its families. A fresh registry
 * per scrape means stale label sets cannot survive and no scrape can change another's content
 * type. Scrapes that share a snapshot share its body too (per format), so N concurrent scrapes cost one.
 */
export class Exporter {
	readonly #options: ExporterOptions;
	readonly #collector: SnapshotCollector;
	readonly #addresses: AddressLabeler;
	readonly #dns?: ReverseDnsCache;
	readonly #processMetrics = ProcessMetrics.shared();
	readonly #perObject?: PerObjectSeries;
	/** Bodies rendered from a snapshot, by format; dropped with the snapshot. */
	readonly #rendered = new WeakMap<MetricsSnapshot, Map<boolean, Promise<ScrapeResult>>>();
	readonly #perObjectParts = new WeakMap<MetricsSnapshot, PerObjectPart>();
	#closed = false;

	/** `dns` replaces the default reverse-DNS cache (used only when neither numeric nor deidentify). */
	constructor({ source, options, dns }: { source: ObserverSource; options: ExporterOptions; dns?: ReverseDnsCache }) {
		this.#options = options;
		if (!options.numeric && !options.deidentify) this.#dns = dns ?? new ReverseDnsCache();
		this.#addresses = new AddressLabeler({ deidentify: options.deidentify, numeric: options.numeric, dns: this.#dns });
		if (options.perObjectMetrics) this.#perObject = createPerObjectSeries({ source, options, addresses: this.#addresses });
		this.#collector = new SnapshotCollector({
			source,
			scrapeTimeoutMs: options.scrapeTimeoutMs,
			statsConcurrency: options.statsConcurrency,
			perObjectMetrics: options.perObjectMetrics,
			listener: this.#perObject
		});
	}

	async scrape({ openMetrics = false }: { openMetrics?: boolean } = {}): Promise<LeasedScrapeResult> {
		const t0 = performance.now();
		const snapshot = await this.#collector.collect();
		// Right after the snapshot, before the next sweep can start and reuse the sweep's memory:
		// every scrape of this snapshot runs this in the same run of microtasks.
		const objects = this.#perObjectPartOf(snapshot);
		const release = objects.lease();
		let bodies = this.#rendered.get(snapshot);
		if (!bodies) {
			bodies = new Map();
			this.#rendered.set(snapshot, bodies);
		}
		let result = bodies.get(openMetrics);
		if (!result) {
			result = this.#render(snapshot, openMetrics, t0, objects);
			bodies.set(openMetrics, result);
		}
		try {
			return { ...(await result), release };
		} catch (error) {
			release();
			throw error;
		}
	}

	/** The memory the per-object lines are written into: made so far, and free for the next scrapes. */
	get lineMemory(): { allocatedBytes: number; freeBytes: number } {
		return this.#perObject?.lineMemory ?? { allocatedBytes: 0, freeBytes: 0 };
	}

	/** The snapshot a scrape would use (shared with any in flight): the overview page reads this. */
	snapshot(): Promise<MetricsSnapshot> {
		return this.#collector.collect({ forSeries: false });
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#dns?.close();
	}

	/** The snapshot's per-object series, finished once; none when the exporter is not in sync. */
	#perObjectPartOf(snapshot: MetricsSnapshot): PerObjectPart {
		let part = this.#perObjectParts.get(snapshot);
		if (!part) {
			part = NO_OBJECTS;
			if (this.#perObject && snapshot.state) {
				try {
					part = { ...this.#perObject.finish(snapshot.state, snapshot.sweep.stats), errors: 0 };
				} catch (error) {
					// Like a failed collector's, the per-object families are then missing, not half-filled.
					logger.error('per-object series failed: %s', (error as Error).stack ?? error);
					part = { ...NO_OBJECTS, errors: 1 };
				}
			}
			this.#perObjectParts.set(snapshot, part);
		}
		return part;
	}

	/** One body from one snapshot; `t0` is when the first scrape of this snapshot began. */
	async #render(snapshot: MetricsSnapshot, openMetrics: boolean, t0: number, objects: PerObjectPart): Promise<ScrapeResult> {
		const renderStart = performance.now();
		// These registries are this body's alone, so setting their content type races with nobody.
		const registryType = openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
		const head = new Registry() as Registry<RegistryContentType>;
		const tail = new Registry() as Registry<RegistryContentType>;
		head.setContentType(registryType);
		tail.setContentType(registryType);
		this.#processMetrics.register(head);
		const errors = this.#collect(head, tail, snapshot);
		new Gauge({
			name: 'meter_sfu_exporter_build_errors',
			help: 'Collectors that failed while building this scrape',
			registers: [tail as Registry]
		}).set(errors + objects.errors);
		exporterCollector({ registry: tail, snapshot, scrapeDurationSeconds: (performance.now() - t0) / 1000 });
		const separator = Buffer.from(openMetrics ? '\n' : '\n\n');
		const chunks: Buffer[] = [Buffer.from(stripEnd(await head.metrics(), openMetrics))];
		for (const pieces of [...objects.families, [Buffer.from(stripEnd(await tail.metrics(), openMetrics))]])
			chunks.push(separator, ...pieces);
		chunks.push(Buffer.from(openMetrics ? '\n# EOF\n' : '\n'));
		const byteLength = chunks.reduce((n, chunk) => n + chunk.length, 0);
		logger.debug(
			'rendered %s in %d ms: %d per-object series, %d bytes (snapshot %d ms)',
			openMetrics ? 'OpenMetrics' : 'text',
			Math.round(performance.now() - renderStart),
			objects.series,
			byteLength,
			Math.round(snapshot.durationSeconds * 1000)
		);
		return { contentType: openMetrics ? CONTENT_TYPES.openMetrics : CONTENT_TYPES.text, chunks, byteLength };
	}

	/**
	 * Runs the registry collectors that have their input, into `head` (before the per-object
	 * families) and `tail` (after them). A collector that throws costs its own families only;
	 * returns how many did.
	 */
	#collect(head: Registry<RegistryContentType>, tail: Registry<RegistryContentType>, snapshot: MetricsSnapshot): number {
		const { state, counters } = snapshot;
		if (!state) return 0;
		const ctx: CollectorContext = { registry: head, snapshot, state, options: this.#options, addresses: this.#addresses };
		const collectors: [string, (c: CollectorContext) => void][] = [
			['meeting', meetingCollector],
			['mediaTotals', mediaTotalsCollector],
			['worker', workerCollector]
		];
		if (counters) collectors.push(['signalling', (c) => signallingCollector({ ...c, registry: tail }, counters)]);
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

/** A registry's exposition without its end (the final newline, and OpenMetrics' `# EOF`), for joining. */
function stripEnd(exposition: string, openMetrics: boolean): string {
	const end = openMetrics ? '\n# EOF\n' : '\n';
	return exposition.endsWith(end) ? exposition.slice(0, -end.length) : exposition;
}
