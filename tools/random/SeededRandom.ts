/**
 * A small seeded PRNG (mulberry32) for randomised tests: the same seed gives the same sequence, so
 * a failure reproduces with `HARDENING_SEED=<seed>`. Not for anything security-related.
 */
export class SeededRandom {
	readonly seed: number;
	#state: number;

	/** The seed from `HARDENING_SEED`, else a fresh one; tests print it. */
	static fromEnv(name = 'HARDENING_SEED'): SeededRandom {
		const raw = process.env[name];
		const seed = raw !== undefined && raw !== '' ? Number(raw) : Math.floor(Math.random() * 2 ** 32);
		if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
			throw new TypeError(`${name}: expected an integer from 0 to 2^32-1, got ${raw}`);
		return new SeededRandom(seed);
	}

	constructor(seed: number) {
		this.seed = seed >>> 0;
		this.#state = this.seed;
	}

	/** A float in [0, 1). */
	next(): number {
		let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	}

	/** An integer in [min, max]. */
	int(min: number, max: number): number {
		return min + Math.floor(this.next() * (max - min + 1));
	}

	chance(p: number): boolean {
		return this.next() < p;
	}

	pick<T>(items: readonly T[]): T {
		if (items.length === 0) throw new RangeError('pick() from an empty list');
		return items[Math.floor(this.next() * items.length)]!;
	}

	/** A string of `length` UTF-16 code units drawn from `alphabet` (by code unit). */
	string(length: number, alphabet: string): string {
		let out = '';
		for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.next() * alphabet.length)];
		return out;
	}
}
