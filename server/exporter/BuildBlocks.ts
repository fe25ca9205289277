import type { BlockPool } from './BlockPool.js';

/**
 * The blocks one build of the per-object families wrote its lines into, lent from a BlockPool.
 * They go back to the pool once the build is over (close(): the next build began) and every body
 * made from it has been released: each scrape that hands the body out leases it, and releases it
 * when its response is done. A lease never released keeps the blocks out of the pool for good
 * (they are then collected like any memory): safe, only not reused.
 */
export class BuildBlocks {
	readonly #pool: BlockPool;
	#blocks: Buffer[] = [];
	#leases = 0;
	#closed = false;
	#returned = false;

	constructor(pool: BlockPool) {
		this.#pool = pool;
	}

	/** Whether the blocks went back to the pool (they may now hold another build's lines). */
	get returned(): boolean {
		return this.#returned;
	}

	/** A block of at least `bytes` for this build's lines (a new one has `newBytes`: see BlockPool.take). */
	take(bytes: number, newBytes = bytes): Buffer {
		if (this.#closed) throw new Error('this build is over: its blocks cannot grow');
		const block = this.#pool.take(bytes, newBytes);
		this.#blocks.push(block);
		return block;
	}

	/**
	 * Keeps the blocks out of the pool until the returned function is called (once; later calls do
	 * nothing). Only while the build's body can still be handed out: never after the blocks returned.
	 */
	lease(): () => void {
		if (this.#returned) throw new Error('the blocks of this build were already reused');
		this.#leases++;
		let released = false;
		return () => {
			if (released) return;
			released = true;
			this.#leases--;
			this.#giveBack();
		};
	}

	/** The build is over: no more blocks; they go back as soon as no lease holds them (idempotent). */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#giveBack();
	}

	#giveBack(): void {
		if (!this.#closed || this.#leases > 0 || this.#returned) return;
		this.#returned = true;
		this.#pool.give(this.#blocks);
		this.#blocks = [];
	}
}
