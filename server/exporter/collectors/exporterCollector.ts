import { createRequire } from 'node:module';
import { Counter, Gauge, type Registry, type RegistryContentType } from 'prom-client';
import { SNAPSHOT_PARTS, type MetricsSnapshot } from '../snapshot/MetricsSnapshot.js';
import { registers } from './CollectorContext.js';

const require = createRequire(import.meta.url);

/** The exporter's build, read once: this checkout's version and the mediasoup it ships with. */
const BUILD = {
	version: findPackageVersion(),
	mediasoup_version: (require('mediasoup/package.json') as { version: string }).version,
	node_version: process.version
};

function findPackageVersion(): string {
	// server/exporter/collectors (tsx) or dist/server/exporter/collectors (compiled).
	for (const relative of ['../../../package.json', '../../../../package.json']) {
		try {
			const pkg = require(relative) as { name?: string; version?: string };
			if (pkg.name === 'meter-sfu' && pkg.version) return pkg.version;
		} catch {
			// not at this depth
		}
	}
	return 'unknown';
}

/**
 * The exporter's own health (always exported, also when the stream is down), the SFU server
 * process's usage and the build info.
 */
export function exporterCollector({
	registry,
	snapshot,
	scrapeDurationSeconds
}: {
	registry: Registry<RegistryContentType>;
	snapshot: MetricsSnapshot;
	scrapeDurationSeconds: number;
}): void {
	const reg = registers(registry);
	new Gauge({
		name: 'meter_sfu_exporter_up',
		help: '1 when the exporter is connected to the observer stream and has its state',
		registers: reg
	}).set(snapshot.state ? 1 : 0);
	new Gauge({
		name: 'meter_sfu_exporter_scrape_duration_seconds',
		help: 'Time this scrape took to take its snapshot and build the metrics',
		registers: reg
	}).set(scrapeDurationSeconds);
	new Gauge({
		name: 'meter_sfu_exporter_scrape_timed_out',
		help: '1 when this scrape hit prometheus.scrapeTimeoutMs and answered with what it had',
		registers: reg
	}).set(snapshot.timedOut ? 1 : 0);
	const duration = new Gauge({
		name: 'meter_sfu_exporter_collector_duration_seconds',
		help: 'Time each part of the snapshot took',
		labelNames: ['collector'],
		registers: reg
	});
	const success = new Gauge({
		name: 'meter_sfu_exporter_collector_success',
		help: '1 when the part of the snapshot completed in time without error',
		labelNames: ['collector'],
		registers: reg
	});
	for (const part of SNAPSHOT_PARTS) {
		duration.set({ collector: part }, snapshot.parts[part].durationSeconds);
		success.set({ collector: part }, snapshot.parts[part].success ? 1 : 0);
	}
	const objects = new Gauge({
		name: 'meter_sfu_exporter_stats_objects',
		help: "Objects of this scrape's stats sweep by outcome",
		labelNames: ['result'],
		registers: reg
	});
	objects.set({ result: 'ok' }, snapshot.sweep.stats.size);
	objects.set({ result: 'error' }, snapshot.sweep.errors.size);
	objects.set({ result: 'timeout' }, snapshot.sweep.timedOut.size);
	const failures = new Counter({
		name: 'meter_sfu_exporter_stats_failures_total',
		help: 'Objects whose getStats() failed, over all sweeps',
		labelNames: ['reason'],
		registers: reg
	});
	failures.inc({ reason: 'error' }, snapshot.totals.statsErrors);
	failures.inc({ reason: 'timeout' }, snapshot.totals.statsTimeouts);
	new Counter({ name: 'meter_sfu_exporter_sweeps_total', help: 'Stats sweeps run (concurrent scrapes share one)', registers: reg }).inc(
		snapshot.totals.sweeps
	);
	new Gauge({ name: 'meter_sfu_build_info', help: "The exporter's build; always 1", labelNames: Object.keys(BUILD), registers: reg }).set(
		BUILD,
		1
	);

	if (snapshot.usage) {
		const { server } = snapshot.usage;
		const cpu = new Counter({
			name: 'meter_sfu_server_cpu_seconds_total',
			help: 'CPU time of the SFU server process (not its workers)',
			labelNames: ['mode'],
			registers: reg
		});
		cpu.inc({ mode: 'user' }, server.cpuUserSeconds);
		cpu.inc({ mode: 'system' }, server.cpuSystemSeconds);
		new Gauge({
			name: 'meter_sfu_server_resident_memory_bytes',
			help: 'Resident memory of the SFU server process',
			registers: reg
		}).set(server.rssBytes);
		new Gauge({ name: 'meter_sfu_server_heap_used_bytes', help: 'V8 heap in use in the SFU server process', registers: reg }).set(
			server.heapUsedBytes
		);
	}
}
