/**
 * A token bucket: holds up to `burst` tokens, refilled at `ratePerSecond`; each message takes one.
 * A client may send `burst` messages at once (a join into a big room resumes many consumers) and
 * `ratePerSecond` on average.
 */
export class TokenBucket {
	readonly #ratePerMs: number;
	readonly #burst: number;
	readonly #now: () => number;
	#tokens: number;
	#last: number;

	/** `now` is in milliseconds and must not go backwards (performance.now() by default). */
	constructor({ ratePerSecond, burst, now = () => performance.now() }: { ratePerSecond: number; burst: number; now?: () => number }) {
		if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new TypeError('ratePerSecond must be a positive number');
		if (!(burst >= 1) || !Number.isFinite(burst)) throw new TypeError('burst must be a number ≥ 1');
		this.#ratePerMs = ratePerSecond / 1000;
		this.#burst = burst;
		this.#now = now;
		this.#tokens = burst;
		this.#last = now();
	}

	/** Takes a token if there is one; false means the caller is over its rate. */
	take(): boolean {
		const now = this.#now();
		this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#ratePerMs);
		this.#last = now;
		if (this.#tokens < 1) return false;
		this.#tokens -= 1;
		return true;
	}
}
