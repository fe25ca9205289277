/** How values that land on the same label set combine. */
export type Fold = 'sum' | 'min' | 'max';

const FOLDS: Record<Fold, (a: number, b: number) => number> = {
	sum: (a, b) => a + b,
	min: Math.min,
	max: Math.max
};

const NEEDS_ESCAPE = /[\\\n"]/;
const NEWLINE = 0x0a;
const DIGIT_0 = 0x30;
/** Largest block a family asks for at once (a consumer family at 2,000 consumers is ~700 KB). */
const MAX_BLOCK_SIZE = 4 * 1024 * 1024;

/** A label value escaped for both exposition formats (backslash, newline, double quote). */
export function escapeLabelValue(value: string): string {
	return NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

/**
 * A series' label set: its text, `{a="1",b="2"}`, and per family (by the family's `slot`) the
 * start of its lines, `name{a="1",b="2"} ` as UTF-8. Label sets live as long as their object's
 * labels (ObjectLabels caches them), so a line start is encoded once, not once per scrape.
 */
export type SeriesLabels = { readonly text: string; readonly lineStarts: Buffer[] };

export function seriesLabels(text: string): SeriesLabels {
	return { text, lineStarts: [] };
}

/**
 * `{a="1",b="2"}` for label names and values in that order, as prom-client writes it. Joined from an
 * array so the text is one flat string (a `+=` rope would be walked again at every copy).
 */
export function formatLabelSet(names: readonly string[], labels: Readonly<Record<string, string>>): SeriesLabels {
	const parts = new Array<string>(names.length);
	for (let i = 0; i < names.length; i++) parts[i] = `${names[i]!}="${escapeLabelValue(labels[names[i]!]!)}"`;
	return seriesLabels(['{', parts.join(','), '}'].join(''));
}

/** `{a="1"}` + `b`=`2` → `{a="1",b="2"}` (flat, as formatLabelSet). */
export function extendLabelSet(labelSet: SeriesLabels, name: string, value: string): SeriesLabels {
	const inner = labelSet.text.slice(1, -1);
	return seriesLabels(['{', inner, inner ? ',' : '', name, '="', escapeLabelValue(value), '"}'].join(''));
}

/** Lines written together: their bytes, and which of the family's series they are (`from` up to `to`). */
type Segment = { bytes: Buffer; from: number; to: number };

/**
 * A gauge family written by hand, in the bytes prom-client writes for a gauge in either format.
 * Each series remembers its object (`owner`), so render() can leave out objects that closed or
 * were written again. With unique label sets (ids in the labels), flush() writes the lines added
 * so far, while the sweep still runs; otherwise (`quiet`) series that share a label set fold at
 * render(): counts and bitrates add up, a score keeps the worst, loss and delays the highest.
 * Values that are missing or not finite are skipped.
 */
export class GaugeFamily {
	readonly name: string;
	readonly help: string;
	readonly #fold: (a: number, b: number) => number;
	readonly #unique: boolean;
	/** This family's index into every label set's `lineStarts` (one per family). */
	readonly #slot: number;
	/** A block of at least `bytes` (`newBytes` if one has to be made), which nothing else writes into. */
	readonly #allocate: (bytes: number, newBytes: number) => Buffer;
	/**
	 * This sweep's series in the order added: the first #size of each array (kept from sweep to
	 * sweep and written over, so a sweep allocates no arrays). Those before #flushed are in #segments.
	 */
	readonly #labelSets: SeriesLabels[] = [];
	readonly #values: number[] = [];
	readonly #owners: (string | undefined)[] = [];
	#size = 0;
	#flushed = 0;
	#segments: Segment[] = [];
	#block?: Buffer;
	#blockUsed = 0;
	/** Bytes the last render() gave: the next sweep's blocks are sized for it. */
	#lastBytes = 0;

	constructor({
		name,
		help,
		fold,
		unique = false,
		slot,
		allocate = (_bytes, newBytes) => Buffer.allocUnsafe(newBytes)
	}: {
		name: string;
		help: string;
		fold: Fold;
		unique?: boolean;
		slot: number;
		allocate?: (bytes: number, newBytes: number) => Buffer;
	}) {
		if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new TypeError(`invalid metric name ${JSON.stringify(name)}`);
		this.name = name;
		this.help = help;
		this.#fold = FOLDS[fold];
		this.#unique = unique;
		this.#slot = slot;
		this.#allocate = allocate;
	}

	/** `owner`: the id of the object the series belongs to, if render() may have to leave it out. */
	add(labelSet: SeriesLabels, value: number | undefined, owner?: string): void {
		if (value === undefined || !Number.isFinite(value)) return;
		const at = this.#size++;
		this.#labelSets[at] = labelSet;
		this.#values[at] = value;
		this.#owners[at] = owner;
	}

	/** Series added since clear(), before any folding. */
	get size(): number {
		return this.#size;
	}

	/** Empties the family for the next sweep; the last one's lines stay as they are (they may still be being sent). */
	clear(): void {
		this.#size = 0;
		this.#flushed = 0;
		this.#segments = [];
		this.#block = undefined;
	}

	/** Writes the lines added since the last flush (unique label sets only: folding needs every value first). */
	flush(): void {
		if (!this.#unique) throw new Error('a folding family is written once, by render()');
		this.#flush();
	}

	/**
	 * HELP, TYPE and one line per series as UTF-8 pieces, without a trailing newline (as prom-client
	 * joins families). Series owned by an id in `without` are left out.
	 */
	render(without: ReadonlySet<string> = new Set()): Buffer[] {
		const out: Buffer[] = [Buffer.from(`# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} gauge`)];
		if (this.#unique) {
			this.#flush();
			for (const segment of this.#segments) {
				const kept = without.size > 0 ? this.#keptOf(segment, without) : undefined;
				out.push(kept ? this.#write(kept.labelSets, kept.values, 0, kept.labelSets.length) : segment.bytes);
			}
		} else {
			const folded = this.#folded(without);
			out.push(this.#write(folded.labelSets, folded.values, 0, folded.labelSets.length));
		}
		this.#lastBytes = out.reduce((n, piece) => n + piece.length, 0);
		// What a past, larger sweep left beyond #size would keep its objects' label sets alive.
		if (this.#labelSets.length > this.#size) {
			this.#labelSets.length = this.#size;
			this.#values.length = this.#size;
			this.#owners.length = this.#size;
		}
		return joinAdjacent(out);
	}

	#flush(): void {
		if (this.#size === this.#flushed) return;
		const from = this.#flushed;
		this.#segments.push({ bytes: this.#write(this.#labelSets, this.#values, from, this.#size), from, to: this.#size });
		this.#flushed = this.#size;
	}

	/** The series of `segment` not owned by an id in `without`, or undefined if it keeps them all. */
	#keptOf(segment: Segment, without: ReadonlySet<string>): { labelSets: SeriesLabels[]; values: number[] } | undefined {
		let kept: { labelSets: SeriesLabels[]; values: number[] } | undefined;
		for (let i = segment.from; i < segment.to; i++) {
			const owner = this.#owners[i];
			const leftOut = owner !== undefined && without.has(owner);
			if (leftOut && !kept) {
				kept = { labelSets: this.#labelSets.slice(segment.from, i), values: this.#values.slice(segment.from, i) };
			} else if (!leftOut && kept) {
				kept.labelSets.push(this.#labelSets[i]!);
				kept.values.push(this.#values[i]!);
			}
		}
		return kept;
	}

	/** One series per label set (in the order first added), values folded, without the series of `without`. */
	#folded(without: ReadonlySet<string>): { labelSets: SeriesLabels[]; values: number[] } {
		const index = new Map<string, number>();
		const labelSets: SeriesLabels[] = [];
		const values: number[] = [];
		for (let i = 0; i < this.#size; i++) {
			const owner = this.#owners[i];
			if (owner !== undefined && without.has(owner)) continue;
			const labelSet = this.#labelSets[i]!;
			const at = index.get(labelSet.text);
			if (at === undefined) {
				index.set(labelSet.text, labelSets.length);
				labelSets.push(labelSet);
				values.push(this.#values[i]!);
			} else {
				values[at] = this.#fold(values[at]!, this.#values[i]!);
			}
		}
		return { labelSets, values };
	}

	/** `\nname{labels} value` for the series `from` up to `to` of these arrays, into this family's current block. */
	#write(labelSets: readonly SeriesLabels[], values: readonly number[], from: number, to: number): Buffer {
		const count = to - from;
		const starts = new Array<Buffer>(count);
		let bound = 0;
		for (let i = 0; i < count; i++) {
			const labelSet = labelSets[from + i]!;
			let start = labelSet.lineStarts[this.#slot];
			if (start === undefined) {
				start = Buffer.from(`${this.name}${labelSet.text} `);
				labelSet.lineStarts[this.#slot] = start;
			}
			starts[i] = start;
			// A newline and the value: JavaScript's number text is at most 25 ASCII characters.
			bound += 1 + start.length + 25;
		}
		// Lines are carved out of larger blocks: hundreds of small allocations per scrape cost more
		// than the writing. A new block gets 10% more than the family wrote last time, so that it
		// still fits next time when values have grown a digit or two.
		if (!this.#block || this.#block.length - this.#blockUsed < bound) {
			const last = Math.min(MAX_BLOCK_SIZE, this.#lastBytes);
			this.#block = this.#allocate(Math.max(bound, last), Math.max(bound, Math.ceil(last * 1.1)));
			this.#blockUsed = 0;
		}
		const out = this.#block;
		const first = this.#blockUsed;
		let offset = first;
		for (let i = 0; i < count; i++) {
			out[offset++] = NEWLINE;
			const start = starts[i]!;
			// set(), not copy(): copy() of a small buffer goes through slow JavaScript in Node 20.
			out.set(start, offset);
			offset += start.length;
			offset += writeNumber(out, offset, values[from + i]!);
		}
		this.#blockUsed = offset;
		return out.subarray(first, offset);
	}
}

/**
 * `pieces` with each run of pieces that follow one another in memory as one piece: the segments
 * of a family written one after the other go out together, not as one write() call each.
 */
function joinAdjacent(pieces: readonly Buffer[]): Buffer[] {
	const out: Buffer[] = [];
	let i = 0;
	while (i < pieces.length) {
		const first = pieces[i]!;
		let length = first.length;
		for (i++; i < pieces.length; i++) {
			const next = pieces[i]!;
			if (next.buffer !== first.buffer || first.byteOffset + length !== next.byteOffset) break;
			length += next.length;
		}
		out.push(length === first.length ? first : Buffer.from(first.buffer, first.byteOffset, length));
	}
	return out;
}

/** Writes `${value}` (ASCII) at `offset`; returns its length. Counts and bytes are whole numbers: those take the short way. */
function writeNumber(out: Buffer, offset: number, value: number): number {
	if (Number.isSafeInteger(value) && value >= 0) {
		if (value < 10) {
			out[offset] = DIGIT_0 + value;
			return 1;
		}
		let digits = 0;
		for (let rest = value; rest > 0; rest = Math.floor(rest / 10)) digits++;
		for (let i = digits - 1, rest = value; i >= 0; i--, rest = Math.floor(rest / 10)) out[offset + i] = DIGIT_0 + (rest % 10);
		return digits;
	}
	const text = String(value);
	for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i);
	return text.length;
}

function escapeHelp(help: string): string {
	return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
