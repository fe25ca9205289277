/** Free blocks kept for later builds, in bytes (a body at 200/2000 is 8 MiB; at 280/2800, 11 MiB). */
const DEFAULT_MAX_FREE_BYTES = 64 * 1024 * 1024;

/**
 * Memory for exposition lines, kept from one scrape to the next. Every scrape writes megabytes of
 * lines, and memory that a process touches for the first time costs a page fault per 4 KiB: on
 * this project's machine 15.6 µs each (8 MiB of fresh pages take 32 ms to touch, the same pages
 * 0.4 ms to write again). With a fresh block per family and build, writing the lines of a scrape at
 * 200/2000 took 1,700-2,000 faults and 55-100 ms in most scrapes (whenever the allocator had given
 * the last ones back to the kernel); with reused blocks 0-90 faults and 15-25 ms. Blocks are lent
 * through BuildBlocks, which gives them back only when no body uses them.
 */
export class BlockPool {
	readonly #maxFreeBytes: number;
	/** Free blocks, each with its own memory (never a slice of Node's shared pool). */
	#free: Buffer[] = [];
	#freeBytes = 0;
	#allocatedBytes = 0;

	constructor({ maxFreeBytes = DEFAULT_MAX_FREE_BYTES }: { maxFreeBytes?: number } = {}) {
		if (!Number.isInteger(maxFreeBytes) || maxFreeBytes < 0) throw new TypeError('maxFreeBytes must be a non-negative integer');
		this.#maxFreeBytes = maxFreeBytes;
	}

	/** Bytes in free blocks. */
	get freeBytes(): number {
		return this.#freeBytes;
	}

	/** Bytes of all the blocks this pool ever made (a pool that reuses its blocks stops growing). */
	get allocatedBytes(): number {
		return this.#allocatedBytes;
	}

	/**
	 * A block of at least `bytes` (contents undefined): the smallest free one that fits, else a new
	 * one of `newBytes` (more, so that the next build's slightly longer lines still fit in it).
	 */
	take(bytes: number, newBytes = bytes): Buffer {
		let best = -1;
		for (let i = 0; i < this.#free.length; i++) {
			const length = this.#free[i]!.length;
			if (length >= bytes && (best < 0 || length < this.#free[best]!.length)) best = i;
		}
		if (best < 0) {
			const size = Math.max(bytes, newBytes);
			this.#allocatedBytes += size;
			return Buffer.allocUnsafeSlow(size);
		}
		const [block] = this.#free.splice(best, 1);
		this.#freeBytes -= block!.length;
		return block!;
	}

	/**
	 * Takes blocks back; nothing may use them any more. Beyond the bound the smallest free blocks
	 * are dropped first (the builds' blocks grow with the objects; the large ones are the useful ones).
	 */
	give(blocks: readonly Buffer[]): void {
		for (const block of blocks) {
			this.#free.push(block);
			this.#freeBytes += block.length;
		}
		if (this.#freeBytes <= this.#maxFreeBytes) return;
		this.#free.sort((a, b) => b.length - a.length);
		while (this.#freeBytes > this.#maxFreeBytes) this.#freeBytes -= this.#free.pop()!.length;
	}
}
