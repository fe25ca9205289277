import crypto from 'node:crypto';
import bcrypt from 'bcryptjs';

export type BasicAuthOutcome = 'ok' | 'denied' | 'busy';

export type BasicAuthVerifierOptions = {
	/** User name → bcrypt hash. */
	users: Readonly<Record<string, string>>;
	/** How long a verified pair is trusted without bcrypt again. */
	cacheTtlMs?: number;
	maxCacheEntries?: number;
	/** bcrypt runs at once; more wait in a queue of `maxQueued`, beyond which requests are refused as busy. */
	maxConcurrent?: number;
	maxQueued?: number;
};

/**
 * Checks user name and password against bcrypt hashes, as Prometheus' exporter-toolkit does.
 * bcrypt is slow on purpose (tens of ms of CPU per check in pure JS), so:
 * - a verified pair is remembered for `cacheTtlMs` under an HMAC-SHA-256 of the pair (a random
 *   per-process key, so the cache holds nothing that helps offline guessing), and a Prometheus
 *   scraping many times a second pays bcrypt about once a minute;
 * - only `maxConcurrent` checks run at once and the queue is bounded, so a flood of wrong
 *   passwords costs at most that much CPU and is answered "busy" beyond it;
 * - an unknown user is checked against a dummy hash of the same cost, so the answer time does not
 *   tell which user names exist.
 * Failures are never cached (a right password must work at once after a wrong one), and nothing
 * here logs a user name or password.
 */
export class BasicAuthVerifier {
	readonly #users: ReadonlyMap<string, string>;
	readonly #cacheTtlMs: number;
	readonly #maxCacheEntries: number;
	readonly #maxConcurrent: number;
	readonly #maxQueued: number;
	readonly #cacheKey = crypto.randomBytes(32);
	/** Cache key → expiry (performance.now() ms); Map order is insertion order, oldest first. */
	readonly #verified = new Map<string, number>();
	readonly #queue: (() => void)[] = [];
	#running = 0;
	#dummyHash?: Promise<string>;
	#bcryptRuns = 0;

	constructor({ users, cacheTtlMs = 60_000, maxCacheEntries = 1024, maxConcurrent = 2, maxQueued = 64 }: BasicAuthVerifierOptions) {
		if (Object.keys(users).length === 0) throw new TypeError('BasicAuthVerifier needs at least one user');
		this.#users = new Map(Object.entries(users));
		this.#cacheTtlMs = cacheTtlMs;
		this.#maxCacheEntries = maxCacheEntries;
		this.#maxConcurrent = maxConcurrent;
		this.#maxQueued = maxQueued;
	}

	/** bcrypt comparisons run so far (cache hits and busy refusals run none). */
	get bcryptRuns(): number {
		return this.#bcryptRuns;
	}

	async verify(user: string, password: string): Promise<BasicAuthOutcome> {
		const key = crypto.createHmac('sha256', this.#cacheKey).update(user).update('\u0000').update(password).digest('base64');
		const expires = this.#verified.get(key);
		if (expires !== undefined) {
			if (expires > performance.now()) return 'ok';
			this.#verified.delete(key);
		}
		if (this.#running >= this.#maxConcurrent) {
			if (this.#queue.length >= this.#maxQueued) return 'busy';
			// The finishing check hands its slot over: #running stays as it is.
			await new Promise<void>((resolve) => this.#queue.push(resolve));
		} else {
			this.#running++;
		}
		try {
			const known = this.#users.get(user);
			const hash = known ?? (await this.#dummy());
			this.#bcryptRuns++;
			const match = await bcrypt.compare(password, hash);
			if (!match || known === undefined) return 'denied';
			this.#remember(key);
			return 'ok';
		} finally {
			const next = this.#queue.shift();
			if (next) next();
			else this.#running--;
		}
	}

	#remember(key: string): void {
		this.#verified.delete(key);
		this.#verified.set(key, performance.now() + this.#cacheTtlMs);
		while (this.#verified.size > this.#maxCacheEntries) {
			this.#verified.delete(this.#verified.keys().next().value!);
		}
	}

	/** A hash of a random password at the cost of the first configured user's hash. */
	#dummy(): Promise<string> {
		if (!this.#dummyHash) {
			const first = this.#users.values().next().value!;
			const cost = Number(/^\$2[aby]\$(\d{2})\$/.exec(first)?.[1] ?? 10);
			this.#dummyHash = bcrypt.hash(crypto.randomBytes(18).toString('base64'), cost);
		}
		return this.#dummyHash;
	}
}
