// The project's seeded PRNG; it lives with the tests, and the bench runs from a checkout like them.
import { SeededRandom } from '../random/SeededRandom.js';

/** The q-quantile of `values` (linear between the two nearest ranks); 0 for none. */
export function quantile(values: readonly number[], q: number): number {
	if (values.length === 0) return 0;
	const sorted = [...values].sort((a, b) => a - b);
	const position = (sorted.length - 1) * q;
	const low = Math.floor(position);
	const high = Math.ceil(position);
	return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

/**
 * The 95% percentile-bootstrap interval of `statistic` over a run's rounds: the rounds resampled
 * with replacement `resamples` times (a round's measurements stay together, so ratios stay
 * paired), the statistic of each resample, and their 2.5th and 97.5th percentiles. How far a
 * run's figure could have come out otherwise from rounds like these: single rounds on this
 * project's VM vary 2-3x, and a figure near a target says little without it. Seeded, so the same
 * rounds give the same interval.
 */
export function bootstrapInterval<T>(
	rounds: readonly T[],
	statistic: (sample: readonly T[]) => number,
	{ resamples = 2000, seed = 1 }: { resamples?: number; seed?: number } = {}
): [number, number] {
	if (rounds.length === 0) return [0, 0];
	const random = new SeededRandom(seed);
	const values: number[] = [];
	const sample: T[] = new Array<T>(rounds.length);
	for (let r = 0; r < resamples; r++) {
		for (let i = 0; i < rounds.length; i++) sample[i] = random.pick(rounds);
		values.push(statistic(sample));
	}
	return [quantile(values, 0.025), quantile(values, 0.975)];
}
