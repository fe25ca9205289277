import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapInterval, quantile } from '../tools/bench/bootstrap.js';

/** scripts/bench-scrape's 95% intervals of its ratios (tools/bench/bootstrap.ts). */

const median = (values: readonly number[]): number => quantile(values, 0.5);
const ratioOfMedians = (sample: readonly (readonly [number, number])[]): number =>
	median(sample.map(([n]) => n)) / median(sample.map(([, d]) => d));

test('quantile interpolates between ranks', () => {
	assert.equal(quantile([], 0.5), 0);
	assert.equal(quantile([3, 1, 2], 0.5), 2);
	assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
	assert.equal(quantile([10, 20], 0.975), 19.75);
});

test('rounds with one ratio give an interval of that ratio alone', () => {
	const rounds = Array.from({ length: 20 }, (_, i) => [5 * (100 + i), 100 + i] as const);
	assert.deepEqual(bootstrapInterval(rounds, ratioOfMedians), [5, 5]);
});

test('noisy rounds give an interval around the figure, the same for the same rounds', () => {
	// A ratio of 1.2 with rounds that vary 2-3x, as single rounds do on this project's VM.
	let state = 7;
	const noise = (): number => {
		state = (state * 48271) % 2147483647;
		return 0.6 + 1.2 * (state / 2147483647);
	};
	const rounds = Array.from({ length: 20 }, () => [1.2 * 300 * noise(), 300 * noise()] as const);
	const figure = ratioOfMedians(rounds);
	const [low, high] = bootstrapInterval(rounds, ratioOfMedians);
	assert.ok(low < figure && figure < high, `${low} < ${figure} < ${high}`);
	assert.ok(high - low > 0.1, `an interval ${high - low} wide from rounds this noisy`);
	assert.deepEqual(bootstrapInterval(rounds, ratioOfMedians), [low, high]);
	assert.notDeepEqual(bootstrapInterval(rounds, ratioOfMedians, { seed: 2 }), [low, high]);
	// More rounds like these narrow it.
	const more = Array.from({ length: 200 }, () => [1.2 * 300 * noise(), 300 * noise()] as const);
	const [moreLow, moreHigh] = bootstrapInterval(more, ratioOfMedians);
	assert.ok(moreHigh - moreLow < high - low, `200 rounds: ${moreHigh - moreLow} against 20: ${high - low}`);
});

test('no rounds, no interval', () => {
	assert.deepEqual(bootstrapInterval([], ratioOfMedians), [0, 0]);
});
