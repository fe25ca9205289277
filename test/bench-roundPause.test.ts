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
 * read over the pause's second half) for /proc's 10 ms ticks.
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
		const t0 = performance.now();
		await pause.beforeRound();
		const firstMs = performance.now() - t0;
		// The pause, then 1 s reads of the CPU until the budget was spent: 1 + 2 × 1 s.
		assert.ok(firstMs >= 2900, `waited ${firstMs.toFixed(0)} ms`);
		assert.equal(waits.length, 1);
		assert.ok(waits[0]! >= SATURATED_PERCENT, `the spinning process at ${waits[0]!.toFixed(0)}%`);
		assert.equal(pause.totals.pausesWaited, 1);
		assert.equal(pause.totals.pausesSaturated, 1);
		assert.ok(pause.totals.waitedSeconds >= 1.5, `waitedSeconds ${pause.totals.waitedSeconds}`);

		// The budget is spent: the next round only pauses, and is counted saturated again.
		const t1 = performance.now();
		await pause.beforeRound();
		const secondMs = performance.now() - t1;
		assert.ok(secondMs < 2000, `second pause ${secondMs.toFixed(0)} ms`);
		assert.equal(waits.length, 1);
		assert.deepEqual(pause.totals, { pausesWaited: 1, pausesSaturated: 2, waitedSeconds: pause.totals.waitedSeconds });
	} finally {
		await stop(spinning);
	}
});

test('a round after an idle worker only pauses', { timeout: 30_000 }, async () => {
	const idle = await start('setTimeout(() => {}, 60_000)');
	try {
		const pause = new RoundPause({
			workerPids: [idle.pid],
			pauseMs: PAUSE_MS,
			saturatedPercent: SATURATED_PERCENT,
			budgetMs: 10_000,
			onWait: () => assert.fail('waited for an idle process')
		});
		const t0 = performance.now();
		await pause.beforeRound();
		await pause.beforeRound();
		const ms = performance.now() - t0;
		assert.ok(ms >= 1990 && ms < 4000, `two pauses took ${ms.toFixed(0)} ms`);
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
		const t0 = performance.now();
		await pause.beforeRound();
		const ms = performance.now() - t0;
		assert.ok(ms < 6000, `waited ${ms.toFixed(0)} ms of a 20 s budget`);
		assert.equal(pause.totals.pausesWaited, 1);
		assert.equal(pause.totals.pausesSaturated, 0);
	} finally {
		await stop(spinning);
	}
});
