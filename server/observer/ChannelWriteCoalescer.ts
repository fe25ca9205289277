import type { Socket } from 'node:net';

/** What mediasoup 3.8.4 keeps on every Transport, Producer and Consumer (TypeScript-private, not #private). */
type WithChannel = { _channel?: { _producerSocket?: unknown } };

function channelSocket(target: unknown): Pick<Socket, 'cork' | 'uncork'> | undefined {
	const socket = (target as WithChannel | null)?._channel?._producerSocket as Partial<Socket> | undefined;
	return typeof socket?.cork === 'function' && typeof socket.uncork === 'function' ? socket as Pick<Socket, 'cork' | 'uncork'> : undefined;
}

/**
 * Makes the worker requests issued in one tick leave in one write. mediasoup 3.8.4's Channel
 * writes every request to the worker's channel socket at once, one write() each: a stats sweep at
 * 200/2000 is 2,211 system calls in this process. Corking the socket before a request and
 * uncorking it on the next tick sends all the requests a wave of answers started as one writev()
 * (22-28 per sweep there). Objects without that socket (another mediasoup version) are left alone.
 */
export class ChannelWriteCoalescer {
	readonly #corked = new Set<Pick<Socket, 'cork' | 'uncork'>>();

	/** Call right before a request to `target` (a mediasoup Transport, Producer or Consumer). */
	hold(target: unknown): void {
		const socket = channelSocket(target);
		if (!socket || this.#corked.has(socket)) return;
		socket.cork();
		this.#corked.add(socket);
		// After this tick's promise jobs: every runner a wave of answers resumed has asked by then.
		if (this.#corked.size === 1) process.nextTick(() => this.#release());
	}

	#release(): void {
		for (const socket of this.#corked) socket.uncork();
		this.#corked.clear();
	}
}
