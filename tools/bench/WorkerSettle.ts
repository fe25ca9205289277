import { setTimeout as sleep } from 'node:timers/promises';
import { procStatSum } from './procStat.js';

/**
 * A worker this busy forwarding alone is saturated: a size not meant to saturate waits for less,
 * before its first round (settleWorker) and before each (RoundPause), because above it a sweep's
 * requests wait behind the forwarding for seconds in some rounds, which is the saturated case.
 */
export const SATURATED_WORKER_PERCENT = 90;
const SETTLE_WINDOW_MS = 3000;
const SETTLE_MAX_MS = 120_000;
/** How much longer than steady a size not meant to saturate waits for the worker to get below saturation. */
const UNSATURATE_MAX_MS = 120_000;

export type SettleOptions = {
	/** The mediasoup workers' processes. */
	pids: readonly number[];
	/** At least this much media before measuring (ms). */
	minMs: number;
	/** Measuring the saturated case on purpose: steady is enough. */
	saturate: boolean;
	label: string;
	progress: (line: string) => void;
};

/**
 * Until the worker runs in its steady state; returns how long that took (s) and the worker's CPU
 * then. For the first seconds of media the worker is slower and erratic (its consumers' buffers
 * fill and are touched for the first time), and every figure taken then, the sweeps' and the
 * exporter's alike, is slower and noisier. Steady: RSS grew by less than 1% and CPU moved by less
 * than 5 points from one window to the next. Unless the size is meant to saturate, also below SATURATED_WORKER_PERCENT,
 * for at most UNSATURATE_MAX_MS more: a saturated worker answers a sequential sweep in a minute
 * instead of two seconds, and that is another measurement (`--saturate`).
 */
export async function settleWorker({
	pids,
	minMs,
	saturate,
	label,
	progress
}: SettleOptions): Promise<{ seconds: number; workerCpuPercent: number }> {
	const sample = (): { at: number; cpuMs: number; rssBytes: number } => ({ at: performance.now(), ...procStatSum(pids) });
	const start = performance.now();
	let previous = sample();
	let previousCpu: number | undefined;
	/** When the worker was first steady (but saturated), s. */
	let steadyAt: number | undefined;
	for (;;) {
		await sleep(SETTLE_WINDOW_MS);
		const now = sample();
		const cpu = (100 * (now.cpuMs - previous.cpuMs)) / (now.at - previous.at);
		const growth = (now.rssBytes - previous.rssBytes) / Math.max(1, previous.rssBytes);
		const seconds = (now.at - start) / 1000;
		progress(
			`${label}: settling ${seconds.toFixed(0)} s: worker ${cpu.toFixed(0)}% CPU, RSS ${(now.rssBytes / 2 ** 30).toFixed(2)} GiB (${growth >= 0 ? '+' : ''}${(100 * growth).toFixed(1)}%)`
		);
		const steady = seconds * 1000 >= minMs && growth < 0.01 && previousCpu !== undefined && Math.abs(cpu - previousCpu) < 5;
		if (steady && (saturate || cpu < SATURATED_WORKER_PERCENT)) return { seconds, workerCpuPercent: cpu };
		if (steady) steadyAt ??= seconds;
		if (steadyAt !== undefined && (seconds - steadyAt) * 1000 >= UNSATURATE_MAX_MS) {
			progress(
				cpu >= SATURATED_WORKER_PERCENT
					? `${label}: the worker is saturated by the forwarding alone (${cpu.toFixed(0)}% CPU); measuring anyway, at saturation`
					: `${label}: the worker is below saturation (${cpu.toFixed(0)}% CPU) but not steady; measuring anyway`
			);
			return { seconds, workerCpuPercent: cpu };
		}
		if (seconds * 1000 >= SETTLE_MAX_MS + (steadyAt !== undefined ? UNSATURATE_MAX_MS : 0)) {
			progress(`${label}: not steady after ${seconds.toFixed(0)} s; measuring anyway`);
			return { seconds, workerCpuPercent: cpu };
		}
		previous = now;
		previousCpu = cpu;
	}
}
