import dns from 'node:dns';
import net from 'node:net';
import { Logger } from '../../base/Logger.js';

const logger = new Logger('ReverseDnsCache');

export type ReverseDnsCacheOptions = {
	/** A resolver of its own, so cancel() on close touches nobody else's queries. */
	resolver?: dns.promises.Resolver;
	/** How long a name is kept (a stale one is still shown while it is refreshed). */
	ttlMs?: number;
	/** How long a failed look-up is remembered before it is tried again. */
	negativeTtlMs?: number;
	/** Per-query timeout handed to the resolver (one try). */
	timeoutMs?: number;
	maxEntries?: number;
	/** Look-ups in flight at once; further addresses wait for a later scrape. */
	maxInFlight?: number;
};

type Entry = { name: string | null; expiresAt: number };

/**
 * Reverse DNS for address labels, never on a scrape's path: `name(ip)` answers from the cache at
 * once and starts a background look-up when the address is new or its entry is stale. So the first
 * scrape that sees an address shows the IP and later ones the name (edumeet awaited two uncached
 * look-ups per transport per scrape).
 */
export class ReverseDnsCache {
	readonly #resolver: dns.promises.Resolver;
	readonly #ttlMs: number;
	readonly #negativeTtlMs: number;
	readonly #maxEntries: number;
	readonly #maxInFlight: number;
	readonly #entries = new Map<string, Entry>();
	readonly #inFlight = new Set<string>();
	#lookups = 0;
	#failures = 0;
	#closed = false;

	constructor({
		resolver,
		ttlMs = 300_000,
		negativeTtlMs = 60_000,
		timeoutMs = 2_000,
		maxEntries = 10_000,
		maxInFlight = 16
	}: ReverseDnsCacheOptions = {}) {
		this.#resolver = resolver ?? new dns.promises.Resolver({ timeout: timeoutMs, tries: 1 });
		this.#ttlMs = ttlMs;
		this.#negativeTtlMs = negativeTtlMs;
		this.#maxEntries = maxEntries;
		this.#maxInFlight = maxInFlight;
	}

	/** Look-ups started and failed since creation. */
	get stats(): { lookups: number; failures: number; entries: number } {
		return { lookups: this.#lookups, failures: this.#failures, entries: this.#entries.size };
	}

	/** The cached host name of `ip`, or undefined (then a look-up is started if none is running). */
	name(ip: string): string | undefined {
		if (!net.isIP(ip)) return undefined;
		const entry = this.#entries.get(ip);
		if (!entry || entry.expiresAt <= Date.now()) this.#lookup(ip);
		return entry?.name ?? undefined;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#resolver.cancel();
		this.#entries.clear();
	}

	#lookup(ip: string): void {
		if (this.#closed || this.#inFlight.has(ip) || this.#inFlight.size >= this.#maxInFlight) return;
		this.#inFlight.add(ip);
		this.#lookups++;
		this.#resolver
			.reverse(ip)
			.then(
				(names) => this.#store(ip, names[0] ?? null),
				(error: NodeJS.ErrnoException) => {
					this.#failures++;
					logger.debug('reverse look-up of %s failed: %s', ip, error.code ?? error.message);
					// Keep a name we had: a DNS hiccup should not flip labels back to the address.
					const previous = this.#entries.get(ip)?.name ?? null;
					this.#store(ip, previous, this.#negativeTtlMs);
				}
			)
			.finally(() => this.#inFlight.delete(ip));
	}

	#store(ip: string, name: string | null, ttlMs = name ? this.#ttlMs : this.#negativeTtlMs): void {
		if (this.#closed) return;
		// Re-insert so Map order is least recently stored first; evict from the front.
		this.#entries.delete(ip);
		this.#entries.set(ip, { name, expiresAt: Date.now() + ttlMs });
		while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
	}
}
