import { EventEmitter } from 'node:events';

/** Event maps as tuple records, as in mediasoup: `{ close: []; score: [number] }`. */
export type EventMap = Record<string, unknown[]>;

/** A node EventEmitter whose event names and argument lists are checked by the compiler. */
export class TypedEmitter<E extends EventMap> extends EventEmitter {
	constructor() {
		super();
		// Monitoring code may attach many listeners (one per observer client); not a leak.
		this.setMaxListeners(Infinity);
	}

	override emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
		return super.emit(event, ...args);
	}

	override on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
		return super.on(event, listener as (...args: unknown[]) => void);
	}

	override once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
		return super.once(event, listener as (...args: unknown[]) => void);
	}

	override off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
		return super.off(event, listener as (...args: unknown[]) => void);
	}
}
