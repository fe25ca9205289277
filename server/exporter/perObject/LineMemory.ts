/** Free blocks kept for later sweeps, in bytes (a body at 200/2000 is 8 MiB; at 280/2800, 11 MiB). */
const DEFAULT_MAX_FREE_BYTES = 64 * 1024 * 1024;

/** The blocks one sweep's lines were written into, and who still reads them. */
type Build = { blocks: Buffer[]; leases: number; over: boolean; returned: boolean };

/**
 * Memory for the per-object lines, reused from one sweep to the next. A scrape writes megabytes
 * of lines, and memory a process touches for the first time costs a page fault per 4 KiB: with a
 * fresh block per family and sweep, writing the lines at 200/2000 took 55-100 ms in most scrapes,
 * with reused blocks 15-25 ms. A sweep's blocks go back to the free list once the next sweep has
 * begun and every body made from them has been released: each scrape that hands a body out leases
 * it until its response is done. A lease never released keeps its blocks out for good (they are
 * then collected like any memory): safe, only not reused.
 */
export class LineMemory {
	readonly #maxFreeBytes: number;
	/** Free blocks, each with memory of its own (never a slice of Node's shared pool). */
	#free: Buffer[] = [];
	#freeBytes = 0;
	#allocatedBytes = 0;
	#build: Build = newBuild();

	constructor({ maxFreeBytes = DEFAULT_MAX_FREE_BYTES }: { maxFreeBytes?: number } = {}) {
		if (!Number.isInteger(maxFreeBytes) || maxFreeBytes < 0) throw new TypeError('maxFreeBytes must be a non-negative integer');
		this.#maxFreeBytes = maxFreeBytes;
	}

	/** Bytes in free blocks. */
	get freeBytes(): number {
		return this.#freeBytes;
	}

	/** Bytes of every block ever made (memory that is reused stops growing). */
	get allocatedBytes(): number {
		return this.#allocatedBytes;
	}

	/**
	 * A block of at least `bytes` for this sweep's lines (contents undefined): the smallest free one
	 * that fits, else a new one of `newBytes` (more, so that the next sweep's longer lines still fit).
	 */
	take(bytes: number, newBytes = bytes): Buffer {
		let best = -1;
		for (let i = 0; i < this.#free.length; i++) {
			const length = this.#free[i]!.length;
			if (length >= bytes && (best < 0 || length < this.#free[best]!.length)) best = i;
		}
		let block: Buffer;
		if (best < 0) {
			block = Buffer.allocUnsafeSlow(Math.max(bytes, newBytes));
			this.#allocatedBytes += block.length;
		} else {
			block = this.#free.splice(best, 1)[0]!;
			this.#freeBytes -= block.length;
		}
		this.#build.blocks.push(block);
		return block;
	}

	/**
	 * `lease` for the blocks of the sweep being written now, to be called by each scrape that hands
	 * out a body made from them: they are not reused until the function it returns is called (once;
	 * later calls do nothing).
	 */
	leaser(): () => () => void {
		const build = this.#build;
		return () => {
			if (build.returned) throw new Error('the blocks of this sweep were already reused');
			build.leases++;
			let released = false;
			return () => {
				if (released) return;
				released = true;
				build.leases--;
				this.#giveBack(build);
			};
		};
	}

	/** The next sweep begins: the last one's blocks return as soon as no lease holds them. */
	nextSweep(): void {
		const build = this.#build;
		build.over = true;
		this.#build = newBuild();
		this.#giveBack(build);
	}

	/** Beyond the bound the smallest free blocks go first (blocks grow with the objects: large ones are the useful ones). */
	#giveBack(build: Build): void {
		if (!build.over || build.leases > 0 || build.returned) return;
		build.returned = true;
		for (const block of build.blocks) {
			this.#free.push(block);
			this.#freeBytes += block.length;
		}
		build.blocks = [];
		if (this.#freeBytes <= this.#maxFreeBytes) return;
		this.#free.sort((a, b) => b.length - a.length);
		while (this.#freeBytes > this.#maxFreeBytes) this.#freeBytes -= this.#free.pop()!.length;
	}
}

function newBuild(): Build {
	return { blocks: [], leases: 0, over: false, returned: false };
}
