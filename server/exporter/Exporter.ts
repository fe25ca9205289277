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
import { ObjectFamilies } from './ObjectFamily.js';
import type { BuildBlocks } from './BuildBlocks.js';
import { ObjectSeriesBuild, type ObjectParts } from './ObjectSeriesBuild.js';
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

/**
 * One scrape's answer: the Content-Type header (charset first, as express writes it) and the
 * exposition as UTF-8 in pieces, to be written in order (megabytes: no string is made of it, and
 * the pieces are not even joined, since copying 8 MiB into a fresh buffer costs 10-20 ms of page
 * faults and copying; the per-object pieces are shared by every scrape of a snapshot).
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
	readonly #source: ObserverSource;
	readonly #collector: SnapshotCollector;
	readonly #addresses: AddressLabeler;
	readonly #dns?: ReverseDnsCache;
	readonly #processMetrics = ProcessMetrics.shared();
	readonly #labelSets = new LabelSetCache();
	readonly #families: ObjectFamilies;
	/** Bodies rendered from a snapshot, by format; dropped with the snapshot. */
	readonly #rendered = new WeakMap<MetricsSnapshot, Map<boolean, Promise<ScrapeResult>>>();
	/** A snapshot's per-object families as text (the same in both formats: all gauges). */
	readonly #objectParts = new WeakMap<MetricsSnapshot, ObjectPartsWithErrors>();
	/** Per-object series being written during a snapshot's sweep, by the snapshot being taken. */
	readonly #objectBuilds = new WeakMap<Promise<MetricsSnapshot>, { build?: ObjectSeriesBuild }>();
	#objectErrors = 0;
	#closed = false;

	/** `dns` replaces the default reverse-DNS cache (used only when neither numeric nor deidentify). */
	constructor({ source, options, dns }: { source: ObserverSource; options: ExporterOptions; dns?: ReverseDnsCache }) {
		this.#options = options;
		this.#source = source;
		// Without quiet every series carries its object's id: label sets never repeat, nothing folds.
		this.#families = new ObjectFamilies({ uniqueLabelSets: !options.quiet });
		this.#collector = new SnapshotCollector({
			source, scrapeTimeoutMs: options.scrapeTimeoutMs, statsConcurrency: options.statsConcurrency, perObjectMetrics: options.perObjectMetrics
		});
		if (!options.numeric && !options.deidentify) this.#dns = dns ?? new ReverseDnsCache();
		this.#addresses = new AddressLabeler({ deidentify: options.deidentify, numeric: options.numeric, dns: this.#dns });
	}

	async scrape({ openMetrics = false }: { openMetrics?: boolean } = {}): Promise<LeasedScrapeResult> {
		const t0 = performance.now();
		const taking = this.#collector.collect();
		this.#writeWhileSweeping(taking);
		const snapshot = await taking;
		let bodies = this.#rendered.get(snapshot);
		if (!bodies) {
			bodies = new Map();
			this.#rendered.set(snapshot, bodies);
		}
		let result = bodies.get(openMetrics);
		if (!result) {
			result = this.#render(snapshot, openMetrics, t0, this.#objectBuilds.get(taking)?.build);
			bodies.set(openMetrics, result);
		}
		// Leased now, in the same run of microtasks as every other scrape of this snapshot (they all
		// awaited the same promise): no scrape can release the blocks before another one leased them.
		const release = this.#objectParts.get(snapshot)?.blocks.lease() ?? (() => {});
		try {
			return { ...(await result), release };
		} catch (error) {
			release();
			throw error;
		}
	}

	/**
	 * Starts writing the per-object series of the snapshot being taken as its stats arrive (once
	 * per snapshot; not with `quiet`, whose series fold, nor without per-object series).
	 */
	#writeWhileSweeping(taking: Promise<MetricsSnapshot>): void {
		if (this.#options.quiet || !this.#options.perObjectMetrics || this.#objectBuilds.has(taking)) return;
		// Made with the first answers (the families are emptied for it then, not before). The
		// collector stops the calls when the snapshot is taken: the families may then be another build's.
		const holder: { build?: ObjectSeriesBuild } = {};
		const listening = this.#collector.onStats(taking, (stats) => {
			if (!holder.build) {
				const labels = new ObjectLabeler({ state: this.#source.state, options: this.#options, addresses: this.#addresses, cache: this.#labelSets });
				holder.build = new ObjectSeriesBuild({ families: this.#families, labels, source: this.#source });
			}
			holder.build.add(stats);
		});
		if (listening) this.#objectBuilds.set(taking, holder);
	}

	/**
	 * One body from one snapshot; `t0` is when the first scrape of this snapshot began, `build` the
	 * per-object series written during its sweep (else the collectors write them now).
	 */
	async #render(snapshot: MetricsSnapshot, openMetrics: boolean, t0: number, build?: ObjectSeriesBuild): Promise<ScrapeResult> {
		const renderStart = performance.now();
		// These registries are this body's alone, so setting their content type races with nobody.
		const registryType = openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
		const contentType = openMetrics ? CONTENT_TYPES.openMetrics : CONTENT_TYPES.text;
		const head = new Registry() as Registry<RegistryContentType>;
		const tail = new Registry() as Registry<RegistryContentType>;
		head.setContentType(registryType);
		tail.setContentType(registryType);
		this.#processMetrics.register(head);
		// Synchronous up to the first await: the per-object families are shared by every build.
		let objects = this.#objectParts.get(snapshot);
		const written = objects ? undefined : build?.finish(snapshot);
		if (written) {
			objects = { ...written, errors: 0, blocks: this.#families.blocks };
			this.#objectParts.set(snapshot, objects);
			if (snapshot.state) this.#labelSets.prune(snapshot.state);
		}
		const registryErrors = this.#build({ head, tail, snapshot, withObjects: !objects });
		if (!objects) {
			objects = { parts: this.#families.render(), errors: this.#objectErrors, series: this.#families.seriesCount, blocks: this.#families.blocks };
			this.#objectParts.set(snapshot, objects);
		}
		new Gauge({ name: 'meter_sfu_exporter_build_errors', help: 'Collectors that failed while building this scrape', registers: [tail as Registry] })
			.set(registryErrors + objects.errors);
		exporterCollector({ registry: tail, snapshot, scrapeDurationSeconds: (performance.now() - t0) / 1000 });
		const built = performance.now();
		const separator = Buffer.from(openMetrics ? '\n' : '\n\n');
		const chunks: Buffer[] = [Buffer.from(stripEnd(await head.metrics(), openMetrics))];
		for (const pieces of [...objects.parts, [Buffer.from(stripEnd(await tail.metrics(), openMetrics))]]) chunks.push(separator, ...pieces);
		chunks.push(Buffer.from(openMetrics ? '\n# EOF\n' : '\n'));
		const byteLength = chunks.reduce((n, chunk) => n + chunk.length, 0);
		logger.debug('rendered %s in %d ms (build %d ms): %d per-object series, %d bytes (snapshot %d ms)',
			openMetrics ? 'OpenMetrics' : 'text', Math.round(performance.now() - renderStart), Math.round(built - renderStart),
			objects.series, byteLength, Math.round(snapshot.durationSeconds * 1000));
		return { contentType, chunks, byteLength };
	}

	/** The memory the per-object lines are written into: made so far, and free for the next scrapes. */
	get lineMemory(): { allocatedBytes: number; freeBytes: number } {
		return this.#families.lineMemory;
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
	 * Families keep the order of the collectors: `head`'s, the per-object ones (with `withObjects`,
	 * into this.#families, their errors in this.#objectErrors), then `tail`'s. Returns the errors of
	 * the registry collectors.
	 */
	#build({ head, tail, snapshot, withObjects }: {
		head: Registry<RegistryContentType>; tail: Registry<RegistryContentType>; snapshot: MetricsSnapshot; withObjects: boolean;
	}): number {
		const { state } = snapshot;
		if (withObjects) {
			this.#families.begin();
			this.#objectErrors = 0;
		}
		if (!state) return 0;
		const labels = new ObjectLabeler({ state, options: this.#options, addresses: this.#addresses, cache: this.#labelSets });
		const ctx: CollectorContext = { registry: head, snapshot, state, options: this.#options, labels, families: this.#families };
		const collectors: [string, (c: CollectorContext) => void, 'registry' | 'objects'][] = [
			['meeting', meetingCollector, 'registry'],
			['mediaTotals', mediaTotalsCollector, 'registry'],
			['worker', workerCollector, 'registry']
		];
		if (this.#options.perObjectMetrics && withObjects) collectors.push(['transport', transportCollector, 'objects'], ['stream', streamCollector, 'objects']);
		const { counters } = snapshot;
		if (counters) collectors.push(['signalling', (c) => signallingCollector({ ...c, registry: tail }, counters), 'registry']);
		let errors = 0;
		for (const [name, collect, kind] of collectors) {
			const familiesBefore = this.#families.length;
			try {
				collect(ctx);
			} catch (error) {
				if (kind === 'objects') {
					this.#objectErrors++;
					// Like a registry collector's, a failed collector's families are missing, not half-filled.
					this.#families.truncate(familiesBefore);
				} else {
					errors++;
				}
				logger.error('collector %s failed: %s', name, (error as Error).stack ?? error);
			}
		}
		if (withObjects) this.#labelSets.prune(state);
		return errors;
	}
}

/** A snapshot's per-object families as text, the collectors' errors and the blocks that hold the text. */
type ObjectPartsWithErrors = ObjectParts & { errors: number; blocks: BuildBlocks };

/** A registry's exposition without its end (the final newline, and OpenMetrics' `# EOF`), for joining. */
function stripEnd(exposition: string, openMetrics: boolean): string {
	const end = openMetrics ? '\n# EOF\n' : '\n';
	return exposition.endsWith(end) ? exposition.slice(0, -end.length) : exposition;
}
