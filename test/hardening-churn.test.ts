import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Figures } from '../tools/soak/SoakFigures.js';

// Churn soak, CI-sized: scripts/soak runs join → produce → consume → leave cycles against a server
// in its own process (node --expose-gc, so heap figures follow a full GC) while scraping /metrics
// every 100 ms. `scripts/soak --cycles 5000` is the full run.

const CYCLES = Number(process.env.HARDENING_SOAK_CYCLES ?? 300);

function runSoak(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn(path.resolve('scripts/soak'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d: Buffer) => {
			stdout += d.toString();
		});
		child.stderr.on('data', (d: Buffer) => {
			stderr += d.toString();
		});
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.once('error', (error) => {
			clearTimeout(timer);
			reject(error);
		});
		child.once('close', (code) => {
			clearTimeout(timer);
			resolve({ code, stdout, stderr });
		});
	});
}

test(
	`churn soak: ${CYCLES} join/produce/consume/leave cycles while scraping every 100 ms; no stale series, objects, handles and heap back to baseline`,
	{ timeout: 150_000 },
	async () => {
		const run = await runSoak(['--cycles', String(CYCLES), '--json'], 140_000);
		const line = run.stdout.trim().split('\n').at(-1) ?? '';
		let figures: Figures;
		try {
			figures = JSON.parse(line) as Figures;
		} catch {
			assert.fail(`scripts/soak printed no figures (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
		}
		const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
		console.log(
			`# soak: ${figures.cycles} cycles in ${figures.durationSeconds} s, ${figures.scrapes} scrapes (${figures.scrapesOverlapping} overlapping), ${figures.closedObjects} objects closed, ${figures.objectSeriesSeen} seen in scrapes`
		);
		console.log(
			`# soak heap after GC: start ${mb(figures.heap.startBytes)}, baseline ${mb(figures.heap.baselineBytes)}, after ${mb(figures.heap.afterBytes)}; without code: ${mb(figures.heap.dataBaselineBytes)} → ${mb(figures.heap.dataAfterBytes)} (limit +${mb(figures.heap.limitBytes)})`
		);
		console.log(
			`# soak open handles: baseline ${JSON.stringify(figures.handles.baseline)}, after ${JSON.stringify(figures.handles.after)}`
		);

		assert.deepEqual(figures.errors, [], 'no exception, no failed request or scrape');
		assert.deepEqual(figures.staleSeries, [], 'no scrape started after a close shows the closed object');
		assert.equal(figures.cycles, CYCLES);
		// The check has teeth: scrapes ran all along and saw the objects' series while they lived.
		assert.ok(figures.scrapes >= figures.durationSeconds * 3, `${figures.scrapes} scrapes in ${figures.durationSeconds} s`);
		assert.ok(figures.objectSeriesSeen > CYCLES, `${figures.objectSeriesSeen} objects seen in scrapes`);
		assert.ok(figures.closedObjects >= CYCLES * 10, `${figures.closedObjects} objects closed`);
		assert.ok(
			Object.values(figures.objects.after).every((n) => n === 0),
			JSON.stringify(figures.objects.after)
		);
		assert.deepEqual(figures.handles.after, figures.handles.baseline, 'open handles back to baseline');
		assert.equal(figures.heap.gc, true, 'heap figures after a forced GC');
		assert.ok(figures.heap.dataGrowthBytes <= figures.heap.limitBytes, `heap grew by ${mb(figures.heap.dataGrowthBytes)}`);
		assert.equal(figures.ok, true);
		assert.equal(run.code, 0, run.stderr);
	}
);
