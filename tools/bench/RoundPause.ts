import { setTimeout as sleep } from 'node:timers/promises';
import { procStatSum } from './procStat.js';

export type RoundPauseOptions = {
	/** The mediasoup workers whose forwarding is watched. */
	workerPids: readonly number[];
	/** The least pause (ms). */
	pauseMs: number;
	/** At or above this share of a core (%) the worker is saturated by its forwarding. */
	saturatedPercent: number;
	/** How long all pauses together may wait for the worker to get below saturation (ms); 0: never wait. */
	budgetMs: number;
	/** Told when a pause starts waiting, with the worker's CPU (%). */
	onWait?: (workerCpuPercent: number) => void;
};

/**
 * What the pauses before a run's measurements came to (one before each round of four, and one
 * before each of the one-scrape and two-scrape measurements).
 */
export type RoundPauseTotals = {
	/** Pauses that waited for the worker to get below saturation. */
	pausesWaited: number;
	/** Pauses after which the measurement started with the worker still saturated (the wait's budget was spent). */
	pausesSaturated: number;
	/** All the waiting, s. */
	waitedSeconds: number;
};

/**
 * The pause before each round (and before each one-scrape and two-scrape measurement): at least
 * `pauseMs`, and then, while the worker's forwarding alone takes `saturatedPercent` of a core or
 * more, until it takes less (a second at a time, within one budget for the size; none for a size
 * meant to saturate). A VM's host may run a vCPU at a fraction of its speed for minutes; a worker
 * on it saturates, and rounds taken then measure the saturated case, which `--saturate` measures
 * on purpose. The second half of the pause is the window the worker's CPU is read over: the first
 * lets it catch up on the packets the last measurement held back.
 */
export class RoundPause {
	readonly #options: RoundPauseOptions;
	readonly #totals: RoundPauseTotals = { pausesWaited: 0, pausesSaturated: 0, waitedSeconds: 0 };
	#budgetMs: number;

	constructor(options: RoundPauseOptions) {
		this.#options = options;
		this.#budgetMs = options.budgetMs;
	}

	async beforeRound(): Promise<void> {
		const { pauseMs, saturatedPercent } = this.#options;
		await sleep(pauseMs / 2);
		let cpu = await this.#workerCpuOver(pauseMs / 2);
		if (cpu < saturatedPercent) return;
		if (this.#budgetMs > 0) {
			const start = performance.now();
			this.#options.onWait?.(cpu);
			while (cpu >= saturatedPercent && performance.now() - start < this.#budgetMs) cpu = await this.#workerCpuOver(1000);
			const waitedMs = performance.now() - start;
			this.#budgetMs = Math.max(0, this.#budgetMs - waitedMs);
			this.#totals.pausesWaited++;
			this.#totals.waitedSeconds += waitedMs / 1000;
		}
		if (cpu >= saturatedPercent) this.#totals.pausesSaturated++;
	}

	get totals(): RoundPauseTotals {
		return { ...this.#totals, waitedSeconds: Math.round(this.#totals.waitedSeconds * 10) / 10 };
	}

	/** The workers' CPU over the next `ms` (% of a core), from the kernel's counters. */
	async #workerCpuOver(ms: number): Promise<number> {
		const before = procStatSum(this.#options.workerPids).cpuMs;
		const t0 = performance.now();
		await sleep(ms);
		return (100 * (procStatSum(this.#options.workerPids).cpuMs - before)) / (performance.now() - t0);
	}
}
