/**
 * A promise the test resolves, to force an order on asynchronous code instead of sleeping and
 * hoping: the code under test awaits `pass()`, the test awaits `reached` (something waits at the
 * gate), does what must happen meanwhile, then calls `open()`.
 */
export class Gate {
	/** Resolves once something waits at the gate (or has passed it). */
	readonly reached: Promise<void>;
	readonly #opened: Promise<void>;
	#reach!: () => void;
	#open!: () => void;
	#waiting = false;
	#isOpen = false;

	constructor() {
		this.reached = new Promise((resolve) => (this.#reach = resolve));
		this.#opened = new Promise((resolve) => (this.#open = resolve));
	}

	/** Whether something waits at the gate, or has passed it. */
	get wasReached(): boolean {
		return this.#waiting;
	}

	get isOpen(): boolean {
		return this.#isOpen;
	}

	/** Resolves once the gate is open (at once if it is). */
	async pass(): Promise<void> {
		this.#waiting = true;
		this.#reach();
		await this.#opened;
	}

	open(): void {
		this.#isOpen = true;
		this.#open();
	}
}
