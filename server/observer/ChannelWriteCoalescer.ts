import type { Writable } from 'node:stream';

/**
 * Lets the worker requests issued in one tick leave in one socket write. mediasoup 3.8.4's
 * Channel.request() writes each request to the worker's channel socket at once: a stats sweep's
 * 2,200 getStats() calls at 200/2000 are 2,200 write() system calls from this process, and the
 * worker, which answers between RTP packets, reads them in as many small pieces as arrive. Corked
 * for the rest of the tick, the requests of one burst (the first batch of a request, then those
 * sent as a burst of answers is read) go out in one writev(). Measured at 200/2000 with media
 * flowing: a scrape's sweep left in ~24 writes instead of ~2,200, and the scrape took 0.80x as
 * long (prom.md, "Requests written together").
 *
 * mediasoup has no public handle on that socket: this reads its private `_channel._producerSocket`
 * (mediasoup is pinned to 3.8.4, the worker binary's version), checks its shape, and does nothing
 * for an object without one. test/observer-channelWrites.test.ts fails if an upgrade moves it.
 */
export class ChannelWriteCoalescer {
	/** Sockets corked in this tick; not empty exactly while an uncork is scheduled. */
	readonly #corked = new Set<Writable>();

	/** The channel socket of a mediasoup transport, producer or consumer, if it has the expected shape. */
	static socketOf(target: object): Writable | undefined {
		const socket = (target as { _channel?: { _producerSocket?: unknown } })._channel?._producerSocket;
		return isCorkable(socket) ? socket : undefined;
	}

	/** Call right before a request to `target`'s worker: its channel stays corked until the next tick. */
	beforeRequest(target: object): void {
		const socket = ChannelWriteCoalescer.socketOf(target);
		if (!socket || this.#corked.has(socket) || !socket.writable) return;
		socket.cork();
		this.#corked.add(socket);
		if (this.#corked.size > 1) return;
		// Scheduled from a promise reaction (the answers of one read, resolved together), nextTick
		// runs once the microtasks of that read are done, so every request they send is in the same
		// write; scheduled from plain code (a request's first ids), once that code returns.
		process.nextTick(() => this.#uncork());
	}

	#uncork(): void {
		const corked = [...this.#corked];
		this.#corked.clear();
		for (const socket of corked) {
			try {
				socket.uncork();
			} catch {
				// A socket that cannot flush reports it through its own 'error' event (mediasoup's Channel listens).
			}
		}
	}
}

function isCorkable(value: unknown): value is Writable {
	const socket = value as Partial<Writable> | null | undefined;
	return typeof socket?.cork === 'function' && typeof socket.uncork === 'function' && typeof socket.write === 'function';
}
