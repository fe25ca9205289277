/**
 * Scrape benchmark: for each size, a server with synthetic peers sending real media, then
 * the exporter's /metrics latency against a sequential getStats sweep (edumeet's way), a bare
 * concurrent one (the floor) and a scrape's worker requests alone (what any exporter waits for),
 * two scrapes at once against one, CPU per scrape of the server and the worker, and
 * forwarded-packet loss with and without a scrape every second. Progress goes to
 * stderr; stdout gets a table (and the chart is written) or, with --json, one JSON document.
 * Run through scripts/bench-scrape, which installs what is missing first.
 */
import '../server/workerBinary.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseSizes, type BenchSize } from '../tools/bench/BenchTopology.js';
import { SizeBench } from '../tools/bench/SizeBench.js';
import type { SizeResult } from '../tools/bench/SizeResult.js';
import { latencyChart } from '../tools/bench/LatencyChart.js';
import type { SinkKind } from '../tools/bench/benchLoadMessages.js';

/**
 * Pair rounds (one scrape, then two at once, or the other way round) per measured scrape: their
 * ratio is the smallest effect the bench reads (a cost of a few percent against sweeps that vary
 * severalfold on a busy machine), so it takes more rounds than the four sweeps, which cost more each.
 */
const PAIR_ROUNDS_PER_SCRAPE = 3;

const usage = `usage: scripts/bench-scrape [--sizes 50/500,100/1000,200/2000] [--scrapes N] [--pair-rounds N] [--json] [--saturate]
                           [--window-seconds S] [--video-kbps N] [--scrape-timeout-ms MS] [--sink native|node] [--chart FILE]
  --sizes P/C,...       producers/consumers per size (default 50/500,100/1000,200/2000)
  --scrapes N           scrapes (and sweeps) measured per size, at least 1 (default 20)
  --pair-rounds N       rounds of one scrape and two at once per size, at least 1 (default: 3 x --scrapes;
                        the saturating size takes at most --scrapes)
  --json                print one JSON document on stdout instead of the table; no chart
  --saturate            add a size that saturates the worker (--saturate-size, default 280/2800)
  --saturate-size P/C   the saturating size
  --window-seconds S    seconds of media with and without a scrape every second (default: --scrapes)
  --video-kbps N        VP8 bitrate per sending peer (default 400)
  --scrape-timeout-ms MS  the exporter's deadline (default: the config's, 5000)
  --sink native|node    the RTP sink: rtp-sink.c with recvmmsg (default), or node's dgram in the
                        load process (a callback per packet: most of a core at 2,000 consumers)
  --chart FILE          where the SVG goes (default test-artifacts/scrape-latency.svg)`;

type Options = {
	sizes: BenchSize[];
	scrapes: number;
	pairRounds: number;
	json: boolean;
	saturateSize?: BenchSize;
	windowSeconds: number;
	videoKbps: number;
	scrapeTimeoutMs?: number;
	sink: SinkKind;
	chart: string;
};

function parseOptions(): Options {
	const { values } = parseArgs({
		options: {
			sizes: { type: 'string', default: '50/500,100/1000,200/2000' },
			scrapes: { type: 'string', default: '20' },
			'pair-rounds': { type: 'string' },
			json: { type: 'boolean', default: false },
			saturate: { type: 'boolean', default: false },
			'saturate-size': { type: 'string', default: '280/2800' },
			'window-seconds': { type: 'string' },
			'video-kbps': { type: 'string', default: '400' },
			'scrape-timeout-ms': { type: 'string' },
			sink: { type: 'string', default: 'native' },
			chart: { type: 'string', default: path.join('test-artifacts', 'scrape-latency.svg') },
			help: { type: 'boolean', short: 'h', default: false }
		},
		strict: true
	});
	if (values.help) {
		process.stdout.write(`${usage}\n`);
		process.exit(0);
	}
	const integer = (name: string, text: string, min: number, max: number): number => {
		const value = Number(text);
		if (!Number.isInteger(value) || value < min || value > max)
			throw new TypeError(`--${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
		return value;
	};
	const scrapes = integer('scrapes', values.scrapes, 1, 10_000);
	return {
		sizes: parseSizes(values.sizes),
		scrapes,
		pairRounds:
			values['pair-rounds'] !== undefined
				? integer('pair-rounds', values['pair-rounds'], 1, 10_000)
				: PAIR_ROUNDS_PER_SCRAPE * scrapes,
		json: values.json,
		saturateSize: values.saturate ? parseSizes(values['saturate-size'])[0] : undefined,
		windowSeconds:
			values['window-seconds'] !== undefined ? integer('window-seconds', values['window-seconds'], 2, 3600) : Math.max(2, scrapes),
		videoKbps: integer('video-kbps', values['video-kbps'], 10, 20_000),
		scrapeTimeoutMs:
			values['scrape-timeout-ms'] !== undefined ? integer('scrape-timeout-ms', values['scrape-timeout-ms'], 100, 120_000) : undefined,
		sink: sinkKind(values.sink),
		chart: values.chart
	};
}

function sinkKind(text: string): SinkKind {
	if (text !== 'native' && text !== 'node') throw new TypeError(`--sink: expected native or node, got ${JSON.stringify(text)}`);
	return text;
}

function table(results: readonly SizeResult[]): string {
	const columns: [string, (r: SizeResult) => string][] = [
		['producers/consumers', (r) => `${r.producers}/${r.consumers}${r.saturate ? ' (saturated)' : ''}`],
		[
			'exporter p50 ms (cut at the deadline)',
			(r) => `${r.exporterP50Ms.toFixed(1)}${r.measuredScrapesTimedOut ? ` (${r.measuredScrapesTimedOut} cut)` : ''}`
		],
		['p95 ms', (r) => r.exporterP95Ms.toFixed(1)],
		['sequential p50 ms', (r) => `${r.sequentialCapped ? '> ' : ''}${r.sequentialP50Ms.toFixed(1)}`],
		['floor p50 ms', (r) => r.floorP50Ms.toFixed(1)],
		['sequential / exporter [95% interval]', (r) => `${ratio(r.sequentialP50Ms, r.exporterP50Ms)} ${span(r.sequentialToExporterCi95)}`],
		['exporter / floor [95% interval]', (r) => `${ratio(r.exporterP50Ms, r.floorP50Ms)} ${span(r.exporterToFloorCi95)}`],
		[
			'per round: seq / exp, exp / floor',
			(r) => `${r.sequentialToExporterRoundsP50.toFixed(2)}× / ${r.exporterToFloorRoundsP50.toFixed(2)}×`
		],
		['requests alone p50 ms', (r) => r.exporterRequestsP50Ms.toFixed(1)],
		[
			'per round: seq / requests, exp / requests',
			(r) => `${r.sequentialToExporterRequestsRoundsP50.toFixed(2)}× / ${r.exporterToExporterRequestsRoundsP50.toFixed(2)}×`
		],
		[
			'2 scrapes / 1 [95% interval] (per round)',
			(r) => `${r.concurrentScrapesRatio.toFixed(2)} ${span(r.concurrentScrapesCi95)} (${r.concurrentScrapesRoundsP50.toFixed(2)})`
		],
		[
			'2 scrapes / 1, server CPU (rounds sharing a sweep)',
			(r) => `${r.concurrentScrapesServerCpuRatio.toFixed(2)} (${r.concurrentScrapesSharingOneSweep})`
		],
		['node CPU ms/scrape', (r) => r.nodeCpuMsPerScrape.toFixed(1)],
		['worker CPU ms/scrape', (r) => r.workerCpuMsPerScrape.toFixed(1)],
		['loss % with / without scrapes', (r) => `${r.forwardLossWithScrapes.toFixed(3)} / ${r.forwardLossWithout.toFixed(3)}`],
		['forwarded pps', (r) => String(r.forwardedPps)],
		['worker CPU %', (r) => r.workerCpuPercent.toFixed(0)],
		['load CPU %', (r) => r.loadCpuPercent.toFixed(0)],
		[
			'settled after s (worker CPU %)',
			(r) =>
				`${r.settleSeconds.toFixed(0)} (${r.settledWorkerCpuPercent.toFixed(0)}${r.settledBelowSaturation || r.saturate ? '' : ', saturated'})`
		],
		['pauses that waited (s) / saturated', (r) => `${r.pausesWaited} (${r.waitedSeconds.toFixed(0)}) / ${r.pausesSaturated}`],
		[
			'max scrape ms / deadline',
			(r) => `${r.maxScrapeMs.toFixed(0)} / ${r.scrapeTimeoutMs}${r.timedOutScrapes ? ` (${r.timedOutScrapes} timed out)` : ''}`
		],
		['body MiB', (r) => (r.bodyBytes / 1048576).toFixed(1)]
	];
	const rows = [columns.map(([name]) => name), ...results.map((r) => columns.map(([, cell]) => cell(r)))];
	const widths = columns.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
	const line = (row: string[]): string =>
		`| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
	return [
		line(rows[0]!),
		`|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
		...rows.slice(1).map(line)
	].join('\n');
}

function span([low, high]: readonly [number, number]): string {
	return `[${low.toFixed(2)}-${high.toFixed(2)}]`;
}

function ratio(a: number, b: number): string {
	return b > 0 ? `${(a / b).toFixed(2)}×` : '-';
}

async function main(): Promise<number> {
	let options: Options;
	try {
		options = parseOptions();
	} catch (error) {
		process.stderr.write(`bench-scrape: ${(error as Error).message}\n${usage}\n`);
		return 2;
	}
	const progress = (line: string): void => {
		process.stderr.write(`[bench-scrape] ${line}\n`);
	};
	const loadBefore = os.loadavg()[0]!;
	progress(`load average ${loadBefore.toFixed(2)} on ${os.availableParallelism()} cores`);
	const runs = options.sizes.map((size) => ({ size, saturate: false }));
	if (options.saturateSize) runs.push({ size: options.saturateSize, saturate: true });
	const results: SizeResult[] = [];
	for (const { size, saturate } of runs) {
		const bench = new SizeBench({
			size,
			saturate,
			scrapes: options.scrapes,
			pairRounds: options.pairRounds,
			windowSeconds: options.windowSeconds,
			videoKbps: options.videoKbps,
			scrapeTimeoutMs: options.scrapeTimeoutMs,
			sink: options.sink,
			progress
		});
		const result = await bench.run();
		progress(
			`${result.producers}/${result.consumers}: exporter p50 ${result.exporterP50Ms} ms, sequential ${result.sequentialP50Ms} ms, floor ${result.floorP50Ms} ms`
		);
		// The whole result too, so a run cut short keeps what it measured.
		progress(`${result.producers}/${result.consumers}: ${JSON.stringify(result)}`);
		results.push(result);
	}
	const loadAverage = { before: round2(loadBefore), after: round2(os.loadavg()[0]!), cores: os.availableParallelism() };
	if (options.json) {
		process.stdout.write(
			`${JSON.stringify({ sizes: results, loadAverage, scrapes: options.scrapes, pairRounds: options.pairRounds, windowSeconds: options.windowSeconds, videoKbps: options.videoKbps, sink: options.sink }, null, 2)}\n`
		);
		return 0;
	}
	process.stdout.write(
		`${table(results)}\n\nload average (1 min) ${loadAverage.before} before, ${loadAverage.after} after, ${loadAverage.cores} cores; ` +
			`${options.scrapes} scrapes and ${pairRoundsTaken(results)} pair rounds per size, loss windows ${options.windowSeconds} s each, video ${options.videoKbps} kbps, ${options.sink} RTP sink; loss in % of packets expected at the sink\n`
	);
	const points = results
		.filter((r) => !r.saturate)
		.map((r) => ({ consumers: r.consumers, exporterMs: r.exporterP50Ms, sequentialMs: r.sequentialP50Ms, floorMs: r.floorP50Ms }));
	if (points.length > 0) {
		fs.mkdirSync(path.dirname(options.chart), { recursive: true });
		fs.writeFileSync(
			options.chart,
			latencyChart(points, {
				title: 'One stats sweep / scrape vs consumers (p50)',
				subtitle: `one mediasoup worker, synthetic peers with audio + ${options.videoKbps} kbps video, ${loadAverage.cores} cores`
			})
		);
		progress(`chart written to ${options.chart}`);
	}
	return 0;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** The pair rounds the sizes took ("60", or "60 (280/2800: 20)" when a saturating size took fewer). */
function pairRoundsTaken(results: readonly SizeResult[]): string {
	const most = Math.max(...results.map((r) => r.pairRounds));
	const fewer = results.filter((r) => r.pairRounds < most).map((r) => `${r.producers}/${r.consumers}: ${r.pairRounds}`);
	return fewer.length === 0 ? String(most) : `${most} (${fewer.join(', ')})`;
}

main().then(
	(code) => process.exit(code),
	(error: unknown) => {
		process.stderr.write(`bench-scrape: ${(error as Error).stack ?? String(error)}\n`);
		process.exit(1);
	}
);
