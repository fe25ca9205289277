import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { RoundPause } from '../tools/bench/RoundPause.js';

/**
 * scripts/bench-scrape's pause before a round, against real processes standing in for the worker:
 * one spinning on a core (saturated) and one asleep. It reads their CPU from /proc as it reads the
 * worker's. The bound is a quarter of a core, well below what a spinning process gets here even
 * with the rest of the suite running beside it (on 2 cores), and the pause long enough (its CPU is
 * read over the pause's second half) for /proc's 10 ms ticks. What is asserted is what the pause
 * decided (whether it waited, whether the round counts as saturated), never how long it took.
 */
const PAUSE_MS = 1000;
const SATURATED_PERCENT = 25;

/** Runs `code` in a node process, once that process is up (it writes a byte first). */
async function start(code: string): Promise<ChildProcess & { pid: number }> {
	const child = spawn(process.execPath, ['-e', `process.stdout.write('.'); ${code}`], { stdio: ['ignore', 'pipe', 'ignore'] });
	await once(child.stdout!, 'data');
	return child as ChildProcess & { pid: number };
}

async function stop(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	child.kill('SIGKILL');
	await once(child, 'exit');
}

test('a round waits for a saturated worker within the budget, then counts the round as saturated', { timeout: 30_000 }, async () => {
	const spinning = await start('for (;;) {}');
	try {
		const waits: number[] = [];
		const pause = new RoundPause({
			workerPids: [spinning.pid],
			pauseMs: PAUSE_MS,
			saturatedPercent: SATURATED_PERCENT,
			budgetMs: 1500,
			onWait: (cpu) => waits.push(cpu)
		});
		await pause.beforeRound();
		assert.equal(waits.length, 1, 'it waited');
		assert.ok(waits[0]! >= SATURATED_PERCENT, `the spinning process at ${waits[0]!.toFixed(0)}%`);
		// Still saturated when the wait ended: the wait ended because the budget was spent.
		assert.deepEqual([pause.totals.pausesWaited, pause.totals.pausesSaturated], [1, 1]);
		const { waitedSeconds } = pause.totals;

		// The budget is spent: the next round only pauses (no wait, none counted), and is counted saturated again.
		await pause.beforeRound();
		assert.equal(waits.length, 1, 'no second wait');
		assert.deepEqual(pause.totals, { pausesWaited: 1, pausesSaturated: 2, waitedSeconds });
	} finally {
		await stop(spinning);
	}
});

test('a round after an idle worker only pauses', { timeout: 30_000 }, async () => {
	const idle = await start('setTimeout(() => {}, 60_000)');
	try {
		const waits: number[] = [];
		const pause = new RoundPause({
			workerPids: [idle.pid],
			pauseMs: PAUSE_MS,
			saturatedPercent: SATURATED_PERCENT,
			budgetMs: 10_000,
			onWait: (cpu) => waits.push(cpu)
		});
		await pause.beforeRound();
		await pause.beforeRound();
		assert.deepEqual(waits, [], 'no wait for an idle process');
		assert.deepEqual(pause.totals, { pausesWaited: 0, pausesSaturated: 0, waitedSeconds: 0 });
	} finally {
		await stop(idle);
	}
});

test('a worker that gets below saturation ends the wait early', { timeout: 30_000 }, async () => {
	// Spins for 1.5 s, then idles: the wait ends at the first 1 s read after that, long before the budget.
	const spinning = await start('const end = Date.now() + 1500; while (Date.now() < end) {} setTimeout(() => {}, 60_000)');
	try {
		const pause = new RoundPause({
			workerPids: [spinning.pid],
			pauseMs: PAUSE_MS,
			saturatedPercent: SATURATED_PERCENT,
			budgetMs: 20_000
		});
		await pause.beforeRound();
		// It waited, and the round is not counted saturated: the wait ended because the process got
		// below saturation, not because the 20 s budget was spent (that would count it saturated).
		assert.equal(pause.totals.pausesWaited, 1);
		assert.equal(pause.totals.pausesSaturated, 0);
	} finally {
		await stop(spinning);
	}
});
