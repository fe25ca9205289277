import type { StatsByObject } from './MetricsSnapshot.js';
import { STATS_FIELDS, STATS_TEXT_FIELDS, type StatsRow } from './mediasoupStats.js';

const FIELD_COUNT = STATS_FIELDS.length;
/** Which fields of a row hold texts (kept as indexes into the table's texts). */
const IS_TEXT: readonly boolean[] = STATS_FIELDS.map((field) => (STATS_TEXT_FIELDS as readonly string[]).includes(field));

/** The arrays a table keeps its rows in; handed on to a later sweep's table (see StatsTable.create). */
type Storage = {
	/** Row after row, FIELD_COUNT values each: a number, a text's index, or NaN for none. */
	values: Float64Array;
	/** Per object (by its slot): its first row and how many it has. */
	firstRow: Int32Array;
	rowCount: Int32Array;
	/** The table that uses these arrays now: an earlier one must not read them any more. */
	owner?: StatsTable;
};

/**
 * One sweep's stats rows by object id, packed into typed arrays that later sweeps reuse. A sweep's
 * answers arrive over hundreds of milliseconds and are read when it ends, so 2,400 rows kept as
 * arrays outlived V8's young generation at every scrape: copied, promoted and collected again by
 * V8's helper threads, ~12 ms of their CPU per scrape at 200/2000 (measured by dropping the rows
 * instead). Rows read from the table are made afresh each time they are asked for: the
 * transports' for the totals, and those of objects whose labels changed during the sweep.
 *
 * A table's arrays pass to the table of a later sweep (create(..., reuse)): readers must be done
 * with a snapshot's stats before the sweep after next begins (the exporter reads them as soon as
 * the snapshot is taken). A table read after that throws rather than answer another sweep's rows.
 */
export class StatsTable implements StatsByObject {
	readonly #storage: Storage;
	/** Object id → slot (its first row and row count are at that index). */
	readonly #slots = new Map<string, number>();
	/** This sweep's distinct texts (types, kinds, MIME types, RIDs: a few dozen). */
	readonly #texts: string[] = [];
	readonly #textIndex = new Map<string, number>();
	#rowCount = 0;
	#nextSlot = 0;

	/** A table for about `objects` objects; with the arrays of `reuse`, which cannot be read any more. */
	static create(objects: number, reuse?: StatsTable): StatsTable {
		return new StatsTable(objects, reuse === undefined ? undefined : reuse.#storage);
	}

	private constructor(objects: number, storage?: Storage) {
		const slots = Math.max(16, objects);
		this.#storage = storage ?? { values: new Float64Array(0), firstRow: new Int32Array(0), rowCount: new Int32Array(0) };
		this.#storage.owner = this;
		// A consumer or transport has one row; simulcast producers have one per encoding.
		this.#reserve(Math.ceil(slots * 1.25), slots);
	}

	/** Keeps `rows` as the stats of `id` (replacing what it had). */
	add(id: string, rows: readonly StatsRow[]): void {
		this.#check();
		let slot = this.#slots.get(id);
		if (slot === undefined) {
			slot = this.#nextSlot++;
			this.#slots.set(id, slot);
		}
		this.#reserve(this.#rowCount + rows.length, this.#nextSlot);
		const { values, firstRow, rowCount } = this.#storage;
		firstRow[slot] = this.#rowCount;
		rowCount[slot] = rows.length;
		for (const row of rows) {
			const at = this.#rowCount++ * FIELD_COUNT;
			for (let i = 0; i < FIELD_COUNT; i++) {
				const value = row[i];
				values[at + i] = IS_TEXT[i]
					? typeof value === 'string'
						? this.#textOf(value)
						: NaN
					: typeof value === 'number'
						? value
						: NaN;
			}
		}
	}

	/** Forgets `id` (an object that closed during the sweep). */
	drop(id: string): void {
		this.#check();
		this.#slots.delete(id);
	}

	get size(): number {
		this.#check();
		return this.#slots.size;
	}

	has(id: string): boolean {
		this.#check();
		return this.#slots.has(id);
	}

	/** The rows of `id`, made afresh (null where a row has no value). */
	get(id: string): readonly StatsRow[] | undefined {
		this.#check();
		const slot = this.#slots.get(id);
		if (slot === undefined) return undefined;
		const { firstRow, rowCount } = this.#storage;
		const rows = new Array<StatsRow>(rowCount[slot]!);
		for (let k = 0; k < rows.length; k++) rows[k] = this.#row(firstRow[slot]! + k);
		return rows;
	}

	keys(): IterableIterator<string> {
		this.#check();
		return this.#slots.keys();
	}

	#row(index: number): StatsRow {
		const { values } = this.#storage;
		const at = index * FIELD_COUNT;
		const row = new Array<unknown>(FIELD_COUNT);
		for (let i = 0; i < FIELD_COUNT; i++) {
			const value = values[at + i]!;
			row[i] = Number.isNaN(value) ? null : IS_TEXT[i] ? this.#texts[value] : value;
		}
		return row;
	}

	#textOf(text: string): number {
		let index = this.#textIndex.get(text);
		if (index === undefined) {
			index = this.#texts.push(text) - 1;
			this.#textIndex.set(text, index);
		}
		return index;
	}

	/** Room for `rows` rows and `slots` objects (arrays grow by half again, their contents kept). */
	#reserve(rows: number, slots: number): void {
		const storage = this.#storage;
		if (storage.values.length < rows * FIELD_COUNT) {
			const values = new Float64Array(Math.ceil(rows * 1.5) * FIELD_COUNT);
			values.set(storage.values.subarray(0, this.#rowCount * FIELD_COUNT));
			storage.values = values;
		}
		if (storage.firstRow.length < slots) {
			const size = Math.ceil(slots * 1.5);
			const firstRow = new Int32Array(size);
			const rowCount = new Int32Array(size);
			firstRow.set(storage.firstRow.subarray(0, this.#nextSlot));
			rowCount.set(storage.rowCount.subarray(0, this.#nextSlot));
			storage.firstRow = firstRow;
			storage.rowCount = rowCount;
		}
	}

	#check(): void {
		if (this.#storage.owner !== this) throw new Error('stats read after a later sweep took their memory');
	}
}
