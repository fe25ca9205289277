import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { validateConfig, webRtcServerOnAnyPort, type Config } from '../../config/configSchema.js';
import { Server } from '../../server/Server.js';
import { BenchLoad } from './BenchLoad.js';
import { BenchScraper } from './BenchScraper.js';
import type { ScrapeTiming } from './benchScraperChild.js';
import { planTopology, type BenchSize } from './BenchTopology.js';
import type { LoadTotals, SinkKind } from './benchLoadMessages.js';
import { procStatSum } from './procStat.js';
import { bootstrapInterval, quantile } from './bootstrap.js';
import { RoundPause } from './RoundPause.js';
import { SATURATED_WORKER_PERCENT, settleWorker } from './WorkerSettle.js';
import type { SizeResult } from './SizeResult.js';

export type SizeBenchOptions = {
	size: BenchSize;
	scrapes: number;
	/** Rounds of one scrape against two at once. */
	pairRounds: number;
	windowSeconds: number;
	videoKbps: number;
	saturate: boolean;
	scrapeTimeoutMs?: number;
	sink: SinkKind;
	progress: (line: string) => void;
};

type Usage = { at: number; nodeMs: number; workerMs: number; load: LoadTotals };

const JOIN_CONCURRENCY = 8;
const SINK_SOCKETS = 8;
const SATURATED_ROUNDS = 1;
const SATURATED_SEQUENTIAL_CAP_MS = 60_000;
/**
 * The order of a round's four measurements (exporter, sequential, floor, requests alone), round
 * after round: each comes at each place once in four rounds (so drift in the machine's load hits
 * all four alike), and right after each of the other three once (a Williams square). What came
 * just before weighs on a measurement (the floor took 0.71x as long right after a sequential sweep
 * as after a pause, 1.21x right after a scrape): a sweep delays the worker's forwarding, which it
 * then catches up on, and leaves garbage in this process. Rotating one order would keep every
 * measurement after the same one. Rounds are ROUND_PAUSE_MS apart, so that a round's first
 * measurement comes after a pause, not after the last one of the round before (which would make
 * some pairs twice as frequent as others).
 */
const BALANCED_ORDERS = [
	[0, 1, 3, 2],
	[1, 2, 0, 3],
	[2, 3, 1, 0],
	[3, 0, 2, 1]
] as const;
const ROUND_PAUSE_MS = 1000;
/** How long a run's rounds may wait, all together, for the worker to get below saturation (RoundPause). */
const ROUNDS_UNSATURATE_MAX_MS = 180_000;
/** At least this much media per consumer before measuring (20 s at 2,000 consumers). */
const SETTLE_MIN_MS_PER_CONSUMER = 10;

/**
 * One size of scripts/bench-scrape: a Server in this process (so the mediasoup objects are at hand
 * for the direct sweeps; the exporter is still scraped over HTTP), synthetic peers with real media
 * in a load process, then the measurements in turn.
 */
export class SizeBench {
	readonly #options: SizeBenchOptions;
	#server?: Server;
	#load?: BenchLoad;
	#scraper?: BenchScraper;
	/** A second scraper for two scrapes at once, as two Prometheus servers would send them. */
	#otherScraper?: BenchScraper;
	#dir?: string;

	constructor(options: SizeBenchOptions) {
		this.#options = options;
	}

	async run(): Promise<SizeResult> {
		try {
			return await this.#run();
		} finally {
			this.#scraper?.close();
			this.#otherScraper?.close();
			await this.#load?.close();
			await this.#server?.close();
			if (this.#dir) fs.rmSync(this.#dir, { recursive: true, force: true });
		}
	}

	async #run(): Promise<SizeResult> {
		const { size, scrapes, pairRounds, progress } = this.#options;
		const label = `${size.producers}/${size.consumers}`;
		const topology = planTopology(size);
		this.#dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-bench-'));
		fs.chmodSync(this.#dir, 0o700);
		const config = await benchConfig(this.#dir, this.#options.scrapeTimeoutMs);
		const server = (this.#server = await Server.create({ config }));
		const scraper = (this.#scraper = new BenchScraper(server.metricsUrl!));
		const otherScraper = (this.#otherScraper = new BenchScraper(server.metricsUrl!));
		const load = (this.#load = BenchLoad.start());
		progress(
			`${label}: ${topology.peers} peers in ${topology.rooms.length} rooms (${topology.producers} producers, ${topology.consumers} consumers), joining`
		);
		const joined = await load.join({
			url: server.appUrl,
			rooms: topology.rooms,
			videoKbps: this.#options.videoKbps,
			joinConcurrency: JOIN_CONCURRENCY,
			sinkSockets: SINK_SOCKETS,
			sink: this.#options.sink
		});
		if (joined.failures > 0) throw new Error(`${label}: ${joined.failures} joins failed, first: ${joined.firstError}`);
		await this.#waitForMedia(label, topology.consumers);
		const workerPids = server.workerPool.workers.map((w) => w.pid);
		const settled = await settleWorker({
			pids: workerPids,
			minMs: topology.consumers * SETTLE_MIN_MS_PER_CONSUMER,
			saturate: this.#options.saturate,
			label,
			progress
		});

		const { objects, exporterRequests } = this.#statsTargets();
		const inFlight = config.prometheus.statsConcurrency;
		progress(`${label}: ${objects.length} objects, ${exporterRequests.length} of them asked by a scrape; warming up`);
		for (let i = 0; i < 2; i++) await Promise.all([scraper.scrape(), otherScraper.scrape()]);
		await sleep(1000);

		// A saturated worker makes a sequential sweep take minutes: one round tells enough there.
		const rounds = this.#options.saturate ? Math.min(scrapes, SATURATED_ROUNDS) : scrapes;
		const pause = new RoundPause({
			workerPids,
			pauseMs: ROUND_PAUSE_MS,
			saturatedPercent: SATURATED_WORKER_PERCENT,
			budgetMs: this.#options.saturate ? 0 : ROUNDS_UNSATURATE_MAX_MS,
			onWait: (cpu) =>
				progress(
					`${label}: the worker forwards at ${cpu.toFixed(0)}% of a core: waiting for it to get below ${SATURATED_WORKER_PERCENT}%`
				)
		});
		progress(`${label}: ${rounds} rounds of exporter scrape / sequential sweep / concurrent sweep / a scrape's requests alone`);
		const exporterMs: number[] = [];
		const sequentialMs: number[] = [];
		const floorMs: number[] = [];
		const requestsMs: number[] = [];
		let wholeBodyBytes = 0;
		let cutBodyBytes = 0;
		let measuredScrapesTimedOut = 0;
		const measured = (s: ScrapeTiming): ScrapeTiming => {
			if (s.timedOut) {
				measuredScrapesTimedOut++;
				cutBodyBytes = Math.max(cutBodyBytes, s.bytes);
			} else wholeBodyBytes = Math.max(wholeBodyBytes, s.bytes);
			return s;
		};
		let sequentialCapped = false;
		const steps = [
			async () => {
				exporterMs.push(measured(await scraper.scrape()).ms);
			},
			async () => {
				// Capped on a saturated worker, where it takes minutes: the figure is then a lower bound.
				const cap = this.#options.saturate ? performance.now() + SATURATED_SEQUENTIAL_CAP_MS : Infinity;
				sequentialMs.push(
					await timed(async () => {
						for (const o of objects) {
							if (performance.now() > cap) {
								sequentialCapped = true;
								break;
							}
							await o.getStats().catch(() => undefined);
						}
					})
				);
			},
			async () => {
				floorMs.push(await timed(() => Promise.all(objects.map((o) => o.getStats().catch(() => undefined)))));
			},
			async () => {
				requestsMs.push(await timed(() => boundedSweep(exporterRequests, inFlight)));
			}
		];
		for (let round = 0; round < rounds; round++) {
			await pause.beforeRound();
			for (const step of BALANCED_ORDERS[round % BALANCED_ORDERS.length]!) {
				await steps[step]!();
				await sleep(50);
			}
			progress(
				`${label}: round ${round + 1}: exporter ${exporterMs.at(-1)!.toFixed(0)} ms, sequential ${sequentialMs.at(-1)!.toFixed(0)} ms, floor ${floorMs.at(-1)!.toFixed(0)} ms, requests alone ${requestsMs.at(-1)!.toFixed(0)} ms`
			);
		}

		// A saturated worker holds every scrape to its deadline (a pair round there takes ~12 s): that
		// size is measured for the deadline, with no more pair rounds than scrapes.
		const pairs = this.#options.saturate ? Math.min(pairRounds, scrapes) : pairRounds;
		progress(`${label}: ${pairs} rounds of one scrape vs two at once`);
		const oneMs: number[] = [];
		const twoMs: number[] = [];
		/** When the last response's headers came: the rest of `twoMs` is sending the body twice. */
		let twoFirstByteMs = 0;
		let oneFirstByteMs = 0;
		let pairsSharingOneSweep = 0;
		// And this process's CPU (the server's, all threads) over each, where a second scrape's own
		// work is done: the worker answers one sweep for both.
		const oneCpuMs: number[] = [];
		const twoCpuMs: number[] = [];
		const cpuOf = async (work: () => Promise<void>): Promise<number> => {
			const before = process.cpuUsage();
			await work();
			const used = process.cpuUsage(before);
			return (used.user + used.system) / 1000;
		};
		const pairSteps = [
			async () => {
				oneCpuMs.push(
					await cpuOf(async () => {
						const one = measured(await scraper.scrape());
						oneMs.push(one.ms);
						oneFirstByteMs = one.firstByteMs;
					})
				);
			},
			async () => {
				twoCpuMs.push(
					await cpuOf(async () => {
						const both = (await Promise.all([scraper.scrape(), otherScraper.scrape()])).map(measured);
						twoMs.push(Math.max(...both.map((s) => s.ms)));
						twoFirstByteMs = Math.max(...both.map((s) => s.firstByteMs));
						if (both[0]!.sweeps === both[1]!.sweeps) pairsSharingOneSweep++;
					})
				);
			}
		];
		for (let round = 0; round < pairs; round++) {
			// Each first in every other round, and each after a pause as rounds above: 50 ms after a
			// scrape, a scrape took longer (the worker still forwarding what the sweep held back, the
			// garbage of the one before), which weighed on whichever came second.
			for (const step of round % 2 === 0 ? [0, 1] : [1, 0]) {
				await pause.beforeRound();
				await pairSteps[step]!();
			}
			progress(
				`${label}: round ${round + 1}: one scrape ${oneMs.at(-1)!.toFixed(0)} ms (headers at ${oneFirstByteMs.toFixed(0)}, server CPU ${oneCpuMs.at(-1)!.toFixed(0)} ms), two at once ${twoMs.at(-1)!.toFixed(0)} ms (headers at ${twoFirstByteMs.toFixed(0)}, server CPU ${twoCpuMs.at(-1)!.toFixed(0)} ms)`
			);
		}

		// Loss and CPU: windows without and with a scrape every second, in A-B-B-A order.
		const half = Math.max(1, this.#options.windowSeconds / 2);
		progress(`${label}: loss and CPU, ${2 * half} s without and ${2 * half} s with a scrape every second`);
		const quietA = await this.#window(half, null);
		const withScrapes: ScrapeTiming[] = [];
		const busyA = await this.#window(half, withScrapes);
		const busyB = await this.#window(half, withScrapes);
		const quietB = await this.#window(half, null);
		const quiet = sumWindows([quietA, quietB]);
		const busy = sumWindows([busyA, busyB]);
		const rate = (w: WindowResult, key: 'nodeMs' | 'workerMs' | 'loadMs'): number => w[key] / w.seconds;
		const perScrape = (key: 'nodeMs' | 'workerMs'): number =>
			withScrapes.length === 0 ? 0 : Math.max(0, ((rate(busy, key) - rate(quiet, key)) * busy.seconds) / withScrapes.length);

		return {
			producers: topology.producers,
			consumers: topology.consumers,
			exporterP50Ms: round1(quantile(exporterMs, 0.5)),
			exporterP95Ms: round1(quantile(exporterMs, 0.95)),
			sequentialP50Ms: round1(quantile(sequentialMs, 0.5)),
			sequentialCapped,
			floorP50Ms: round1(quantile(floorMs, 0.5)),
			exporterRequestsP50Ms: round1(quantile(requestsMs, 0.5)),
			sequentialToExporterRoundsP50: round3(
				quantile(
					sequentialMs.map((ms, i) => ms / exporterMs[i]!),
					0.5
				)
			),
			exporterToFloorRoundsP50: round3(
				quantile(
					exporterMs.map((ms, i) => ms / floorMs[i]!),
					0.5
				)
			),
			sequentialToExporterRequestsRoundsP50: round3(
				quantile(
					sequentialMs.map((ms, i) => ms / requestsMs[i]!),
					0.5
				)
			),
			exporterToExporterRequestsRoundsP50: round3(
				quantile(
					exporterMs.map((ms, i) => ms / requestsMs[i]!),
					0.5
				)
			),
			concurrentScrapesRatio: round3(quantile(twoMs, 0.5) / quantile(oneMs, 0.5)),
			concurrentScrapesRoundsP50: round3(
				quantile(
					twoMs.map((ms, i) => ms / oneMs[i]!),
					0.5
				)
			),
			concurrentScrapesServerCpuRatio: round3(quantile(twoCpuMs, 0.5) / quantile(oneCpuMs, 0.5)),
			sequentialToExporterCi95: interval(sequentialMs, exporterMs),
			exporterToFloorCi95: interval(exporterMs, floorMs),
			concurrentScrapesCi95: interval(twoMs, oneMs),
			pairRounds: pairs,
			concurrentScrapesSharingOneSweep: pairsSharingOneSweep,
			nodeCpuMsPerScrape: round1(perScrape('nodeMs')),
			workerCpuMsPerScrape: round1(perScrape('workerMs')),
			forwardLossWithScrapes: round4(lossPercent(busy)),
			forwardLossWithout: round4(lossPercent(quiet)),
			peers: topology.peers,
			rooms: topology.rooms.length,
			saturate: this.#options.saturate,
			forwardedPps: Math.round(quiet.recvPackets / quiet.seconds),
			workerCpuPercent: round1((100 * rate(quiet, 'workerMs')) / 1000),
			loadCpuPercent: round1((100 * rate(quiet, 'loadMs')) / 1000),
			settleSeconds: round1(settled.seconds),
			settledWorkerCpuPercent: round1(settled.workerCpuPercent),
			settledBelowSaturation: settled.workerCpuPercent < SATURATED_WORKER_PERCENT,
			scrapeTimeoutMs: config.prometheus.scrapeTimeoutMs,
			maxScrapeMs: round1(Math.max(0, ...withScrapes.map((s) => s.ms))),
			timedOutScrapes: withScrapes.filter((s) => s.timedOut).length,
			measuredScrapesTimedOut,
			bodyBytes: wholeBodyBytes || cutBodyBytes,
			...pause.totals
		};
	}

	/** Until every consumer's RTP reaches the sink (consumers start at their producer's next keyframe). */
	async #waitForMedia(label: string, consumers: number): Promise<void> {
		const deadline = Date.now() + 60_000 + consumers * 20;
		for (;;) {
			const totals = await this.#load!.totals();
			if (totals.consumers >= consumers && totals.receiving >= consumers) return;
			if (Date.now() > deadline) {
				this.#options.progress(`${label}: only ${totals.receiving}/${consumers} consumers receiving; measuring anyway`);
				return;
			}
			await sleep(500);
		}
	}

	/**
	 * Every transport, producer and consumer the exporter sweeps, as mediasoup objects; and those a
	 * scrape asks the worker about: all but the simple producers that a simple consumer's answer
	 * covers (the observer's getStats takes their stats from it, see server/stream/PROTOCOL.md).
	 */
	#statsTargets(): { objects: StatsTarget[]; exporterRequests: StatsTarget[] } {
		const observer = this.#server!.sfuObserver;
		const { transports, producers, consumers } = observer.state;
		const transportObjects = Object.keys(transports).flatMap((id) => observer.lookup('transport', id) ?? []);
		const producerObjects = Object.keys(producers).flatMap((id) => observer.lookup('producer', id) ?? []);
		const consumerObjects = Object.keys(consumers).flatMap((id) => observer.lookup('consumer', id) ?? []);
		const covered = new Set(
			consumerObjects
				.filter((c) => c.type === 'simple' && observer.lookup('producer', c.producerId)?.type === 'simple')
				.map((c) => c.producerId)
		);
		return {
			objects: [...transportObjects, ...producerObjects, ...consumerObjects],
			exporterRequests: [...transportObjects, ...producerObjects.filter((p) => !covered.has(p.id)), ...consumerObjects]
		};
	}

	async #usage(): Promise<Usage> {
		const cpu = process.cpuUsage();
		const workerMs = procStatSum(this.#server!.workerPool.workers.map((w) => w.pid)).cpuMs;
		return { at: performance.now(), nodeMs: (cpu.user + cpu.system) / 1000, workerMs, load: await this.#load!.totals() };
	}

	/** `seconds` of media, scraping once a second when `scraping` is given (never two at once, as Prometheus). */
	async #window(seconds: number, scrapes: ScrapeTiming[] | null): Promise<WindowResult> {
		const start = await this.#usage();
		const end = start.at + seconds * 1000;
		if (scrapes) {
			for (let next = start.at; next < end; next += 1000) {
				const wait = next - performance.now();
				if (wait > 0) await sleep(wait);
				scrapes.push(await this.#scraper!.scrape());
			}
		}
		const rest = end - performance.now();
		if (rest > 0) await sleep(rest);
		const stop = await this.#usage();
		return {
			seconds: (stop.at - start.at) / 1000,
			nodeMs: stop.nodeMs - start.nodeMs,
			workerMs: stop.workerMs - start.workerMs,
			loadMs: stop.load.cpuMs - start.load.cpuMs,
			recvPackets: stop.load.recvPackets - start.load.recvPackets,
			expected: stop.load.expected - start.load.expected,
			lost: stop.load.lost - start.load.lost
		};
	}
}

type StatsTarget = { getStats(): Promise<unknown> };

/**
 * getStats() of every target, at most `inFlight` at once, as the observer's request handler sends them.
 */
async function boundedSweep(targets: readonly StatsTarget[], inFlight: number): Promise<void> {
	let next = 0;
	const runner = async (): Promise<void> => {
		while (next < targets.length) {
			const target = targets[next++]!;
			await target.getStats().catch(() => undefined);
		}
	};
	await Promise.all(Array.from({ length: Math.min(inFlight, targets.length) }, runner));
}

type WindowResult = {
	seconds: number;
	nodeMs: number;
	workerMs: number;
	loadMs: number;
	recvPackets: number;
	expected: number;
	lost: number;
};

function sumWindows(windows: WindowResult[]): WindowResult {
	const sum: WindowResult = { seconds: 0, nodeMs: 0, workerMs: 0, loadMs: 0, recvPackets: 0, expected: 0, lost: 0 };
	for (const w of windows) for (const key of Object.keys(sum) as (keyof WindowResult)[]) sum[key] += w[key];
	return sum;
}

function lossPercent(w: WindowResult): number {
	return w.expected <= 0 ? 0 : (100 * w.lost) / w.expected;
}

/** The example config with this bench's needs: loopback, free ports, a private socket, synthetic peers, one worker. */
async function benchConfig(dir: string, scrapeTimeoutMs?: number): Promise<Config> {
	const example = new URL('../../config/config.example.js', import.meta.url).href;
	const base = ((await import(example)) as { default: Record<string, Record<string, unknown>> }).default;
	return validateConfig(
		{
			...base,
			listen: { ...base.listen, ip: '127.0.0.1', port: 0 },
			mediasoup: { ...base.mediasoup, numWorkers: 1, webRtcServer: webRtcServerOnAnyPort() },
			room: { ...base.room, maxPeers: 1000 },
			syntheticPeers: { ...base.syntheticPeers, enabled: true },
			observer: { ...base.observer, socketPath: path.join(dir, 'observer.sock') },
			prometheus: { ...base.prometheus, listen: '127.0.0.1', port: 0, ...(scrapeTimeoutMs ? { scrapeTimeoutMs } : {}) }
		},
		'bench config'
	);
}

async function timed(body: () => Promise<unknown>): Promise<number> {
	const t0 = performance.now();
	await body();
	return performance.now() - t0;
}

/** The 95% interval of median(numerators) / median(denominators), resampling rounds (index i of both). */
function interval(numerators: readonly number[], denominators: readonly number[]): [number, number] {
	const rounds = numerators.map((n, i) => [n, denominators[i]!] as const);
	const ratio = (sample: readonly (readonly [number, number])[]): number =>
		quantile(
			sample.map(([n]) => n),
			0.5
		) /
		quantile(
			sample.map(([, d]) => d),
			0.5
		);
	const [low, high] = bootstrapInterval(rounds, ratio);
	return [round3(low), round3(high)];
}

const round1 = (v: number): number => Math.round(v * 10) / 10;
const round3 = (v: number): number => Math.round(v * 1000) / 1000;
const round4 = (v: number): number => Math.round(v * 10_000) / 10_000;
