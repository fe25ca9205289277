import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

/**
 * CI smoke test of scripts/bench-scrape: a tiny size with real media, a few scrapes. It checks that
 * the bench finishes and reports every figure as a number, not what the figures are (they depend
 * on the machine; prom.md reports measured ones).
 */

const FIELDS = [
	'producers',
	'consumers',
	'exporterP50Ms',
	'exporterP95Ms',
	'sequentialP50Ms',
	'floorP50Ms',
	'concurrentScrapesRatio',
	'nodeCpuMsPerScrape',
	'workerCpuMsPerScrape',
	'forwardLossWithScrapes',
	'forwardLossWithout'
] as const;

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn('scripts/bench-scrape', args, { stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
			stdout += chunk;
		});
		child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
			stderr += chunk;
		});
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.on('error', reject);
		child.on('close', (code) => {
			clearTimeout(timer);
			resolve({ code, stdout, stderr });
		});
	});
}

// The native sink with the default pair rounds (three per scrape), the node sink with them given.
for (const [sink, pairRounds] of [
	['native', undefined],
	['node', 2]
] as const) {
	test(`scripts/bench-scrape --json at 4/12 reports every figure as a number (${sink} RTP sink)`, { timeout: 180_000 }, async () => {
		await smoke(sink, pairRounds);
	});
}

test('scripts/bench-scrape refuses a bad option with exit 2, says which, and starts nothing', { timeout: 60_000 }, async () => {
	for (const bad of [
		['--pair-rounds', '0'],
		['--pair-rounds', '2.5'],
		['--scrapes', 'many']
	]) {
		const { code, stdout, stderr } = await run([...bad, '--json'], 50_000);
		assert.equal(code, 2, `${bad.join(' ')}: exit ${code}`);
		assert.match(stderr, new RegExp(`bench-scrape: ${bad[0]}: expected an integer from 1 to 10000, got "${bad[1]}"`));
		assert.match(stderr, /usage: scripts\/bench-scrape/);
		assert.doesNotMatch(stderr, /\[bench-scrape\]/);
		assert.equal(stdout, '');
	}
});

async function smoke(sink: 'native' | 'node', pairRounds: number | undefined): Promise<void> {
	const { code, stdout, stderr } = await run(
		[
			'--sizes',
			'4/12',
			'--scrapes',
			'3',
			'--window-seconds',
			'2',
			'--sink',
			sink,
			'--json',
			...(pairRounds === undefined ? [] : ['--pair-rounds', String(pairRounds)])
		],
		170_000
	);
	assert.equal(code, 0, `bench-scrape exited ${code}:\n${stderr}`);
	const report = JSON.parse(stdout) as { sizes: Record<string, unknown>[]; sink: string; pairRounds: number };
	assert.equal(report.sizes.length, 1);
	assert.equal(report.sink, sink);
	const expectedPairRounds = pairRounds ?? 9;
	assert.equal(report.pairRounds, expectedPairRounds);
	// One progress line per pair round, numbered 1 to pairRounds.
	const pairLines = [...stderr.matchAll(/round (\d+): one scrape /g)].map((m) => Number(m[1]));
	assert.deepEqual(
		pairLines,
		Array.from({ length: expectedPairRounds }, (_, i) => i + 1)
	);
	const [size] = report.sizes as [Record<string, unknown>];
	const roundRatios = [
		'sequentialToExporterRoundsP50',
		'exporterToFloorRoundsP50',
		'sequentialToExporterRequestsRoundsP50',
		'exporterToExporterRequestsRoundsP50',
		'concurrentScrapesRoundsP50',
		'concurrentScrapesServerCpuRatio'
	];
	for (const field of [...FIELDS, 'exporterRequestsP50Ms', ...roundRatios]) {
		assert.equal(typeof size[field], 'number', `${field} is ${JSON.stringify(size[field])}`);
		assert.ok(Number.isFinite(size[field]), `${field} is finite`);
	}
	// The per-round ratios: medians of ratios of positive times.
	for (const field of roundRatios) assert.ok((size[field] as number) > 0, `${field} is ${JSON.stringify(size[field])}`);
	// The 95% intervals of the three target ratios: two positive finite numbers, low to high (what
	// they hold is test/bench-bootstrap.test.ts's; 3 rounds make them wide).
	for (const field of ['sequentialToExporterCi95', 'exporterToFloorCi95', 'concurrentScrapesCi95']) {
		const interval = size[field] as [number, number];
		assert.ok(Array.isArray(interval) && interval.length === 2, `${field} ${JSON.stringify(interval)}`);
		const [low, high] = interval;
		assert.ok(Number.isFinite(low) && Number.isFinite(high) && low > 0 && low <= high, `${field} ${JSON.stringify(interval)}`);
	}
	// Two scrapes at once shared their sweep in at most every round (a count, not a promise).
	assert.ok(
		Number.isInteger(size.concurrentScrapesSharingOneSweep) && (size.concurrentScrapesSharingOneSweep as number) <= expectedPairRounds
	);
	// At 4/12 the worker is nowhere near saturation: it settled below it, and said with what CPU.
	assert.equal(size.settledBelowSaturation, true);
	assert.equal(typeof size.settledWorkerCpuPercent, 'number');
	assert.ok((size.settledWorkerCpuPercent as number) < 90, `settledWorkerCpuPercent ${String(size.settledWorkerCpuPercent)}`);
	// Nor did it saturate between measurements: no pause waited for it.
	assert.deepEqual([size.pausesWaited, size.pausesSaturated, size.waitedSeconds], [0, 0, 0]);
	// No measured scrape was cut at the deadline, and the body is a whole one (4 producers and 12
	// consumers with their families: tens of kilobytes).
	assert.equal(size.measuredScrapesTimedOut, 0);
	assert.ok((size.bodyBytes as number) > 20_000, `bodyBytes ${String(size.bodyBytes)}`);
	assert.equal(size.producers, 4);
	assert.equal(size.consumers, 12);
	// The sink got the forwarded media (12 consumers of opus and VP8: hundreds of packets a second).
	assert.ok((size.forwardedPps as number) > 100, `forwardedPps ${String(size.forwardedPps)}`);
	// Progress went to stderr, so stdout was the JSON document alone.
	assert.match(stderr, /\[bench-scrape\] 4\/12:/);
}
