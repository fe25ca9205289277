import { BlockPool } from './BlockPool.js';
import { BuildBlocks } from './BuildBlocks.js';

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
/** Largest block segments are written into (a consumer family at 2,000 consumers is ~700 KB). */
const MAX_BLOCK_SIZE = 4 * 1024 * 1024;

/** A label value escaped for both exposition formats (backslash, newline, double quote). */
export function escapeLabelValue(value: string): string {
	return NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

/** A family's line start for a series: `name{labels} ` as UTF-8. */
type LineStart = { family: ObjectFamily; bytes: Buffer };

/**
 * A series' label set: its text, `{a="1",b="2"}`, and the line start of each family that wrote it,
 * in the family's slot. Label sets live as long as their object's labels do (ObjectLabeler caches
 * them), so a scrape finds every line start in its slot instead of looking it up by the text:
 * 23,000 lookups of ~300-character keys per scrape at 200/2000 were the largest part of writing
 * the lines.
 */
export type SeriesLabels = { readonly text: string; readonly lineStarts: (LineStart | undefined)[] };

export function seriesLabels(text: string): SeriesLabels {
	return { text, lineStarts: [] };
}

/**
 * `{a="1",b="2"}` for label names and values in that order, as prom-client writes it. Joined from an
 * array so the text is one flat string: label sets are cached and copied into every scrape's body,
 * and a string built with `+=` would be a rope that each copy walks again.
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

/** Lines of one family written together: their bytes, and which of the family's series they are (`from` up to `to`). */
type Segment = { bytes: Buffer; from: number; to: number };

/**
 * A gauge family of per-object series, written by hand: thousands of series per scrape, whose
 * label sets are rendered once per object (and cached across scrapes by ObjectLabeler) instead of
 * being hashed and formatted per sample as prom-client does. Values landing on one label set fold
 * (with `quiet`, ids are blank and objects share label sets): counts and bitrates add up, a score
 * keeps the worst, loss and delays the highest. Values that are missing or not finite are skipped.
 * The output is what prom-client writes for a gauge, in both formats (gauges are named alike).
 *
 * Lines can be written as they come (`flush()`, while a sweep still runs) when label sets are
 * unique; each series remembers the object it belongs to (`owner`), so that `render()` can leave
 * out objects that closed in the meantime. A family lives as long as its exporter
 * (ObjectFamilies) and is emptied for every build; the start of each line (`name{labels} `) is
 * made once per label set and kept in the label set's `slot` (see SeriesLabels).
 */
export class ObjectFamily {
	readonly name: string;
	readonly help: string;
	readonly #fold: (a: number, b: number) => number;
	/** Where blocks come from (ObjectFamilies lends them from its pool): at least `bytes`, `newBytes` if made. */
	readonly #allocate: (bytes: number, newBytes: number) => Buffer;
	/** Every label set is added at most once per build (ids in the labels): no folding needed. */
	readonly #unique: boolean;
	/**
	 * This build's series in the order added: label set, value and owner, the first #size of each
	 * array (kept from build to build and written over, so that a build allocates no arrays; render()
	 * cuts off what a past, larger build left beyond #size, which would keep its objects' label sets
	 * alive). Those before #flushed are written into #segments.
	 */
	readonly #labelSets: SeriesLabels[] = [];
	readonly #numbers: number[] = [];
	readonly #owners: (string | undefined)[] = [];
	#size = 0;
	#flushed = 0;
	#segments: Segment[] = [];
	/** Where each label set (by text) is in the arrays above (only when folding). */
	readonly #index = new Map<string, number>();
	/** Where this family keeps its line start in a SeriesLabels (another family may share a slot: it is checked). */
	readonly #slot: number;
	/** Where #write() puts segments: a block, and how much of it is taken (a new block per build). */
	#block?: Buffer;
	#blockUsed = 0;
	/** Bytes of series the last render() wrote. */
	#lastBytes = 0;

	/**
	 * `allocate`: a block of at least `bytes` (of `newBytes` if it has to be made), which no one else
	 * writes while a body of this build is in use.
	 */
	constructor({ name, help, fold, unique = false, slot = 0, allocate = (_bytes, newBytes) => Buffer.allocUnsafe(newBytes) }: {
		name: string; help: string; fold: Fold; unique?: boolean; slot?: number; allocate?: (bytes: number, newBytes: number) => Buffer;
	}) {
		if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new TypeError(`invalid metric name ${JSON.stringify(name)}`);
		this.name = name;
		this.help = help;
		this.#fold = FOLDS[fold];
		this.#unique = unique;
		this.#slot = slot;
		this.#allocate = allocate;
	}

	/** `labelSet` as made by formatLabelSet; `owner`: the object's id, if it may have to be left out later. */
	add(labelSet: SeriesLabels, value: number | undefined, owner?: string): void {
		if (value === undefined || !Number.isFinite(value)) return;
		if (!this.#unique) {
			const at = this.#index.get(labelSet.text);
			if (at !== undefined) {
				this.#numbers[at] = this.#fold(this.#numbers[at]!, value);
				return;
			}
			this.#index.set(labelSet.text, this.#size);
		}
		const at = this.#size++;
		this.#labelSets[at] = labelSet;
		this.#numbers[at] = value;
		this.#owners[at] = owner;
	}

	get size(): number {
		return this.#size;
	}

	/** Empties the family for the next build. */
	clear(): void {
		this.#size = 0;
		this.#flushed = 0;
		this.#segments = [];
		this.#clearIndex();
		// The last build's pieces may still be being sent: never write over them.
		this.#block = undefined;
	}

	/**
	 * Writes the series added since the last flush (unique label sets only: a folding family must
	 * see every value first). Lets a build write its lines while a sweep still runs.
	 */
	flush(): void {
		if (!this.#unique) throw new Error('a folding family is written once, by render()');
		this.#flush();
	}

	/**
	 * HELP, TYPE and one line per series as UTF-8 pieces, in order, without a trailing newline (as
	 * prom-client joins families). Series owned by an id in `without` are left out. Written straight
	 * into buffers from the cached line starts: tens of thousands of lines per scrape, so no string
	 * per line and no encoding of the whole body afterwards.
	 */
	render(without?: ReadonlySet<string>): Buffer[] {
		this.#flush();
		const out: Buffer[] = [Buffer.from(`# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} gauge`)];
		for (const segment of this.#segments) {
			const kept = without && without.size > 0 ? this.#keptOf(segment, without) : undefined;
			out.push(kept ? this.#write(kept.labelSets, kept.numbers, 0, kept.labelSets.length) : segment.bytes);
		}
		this.#lastBytes = out.reduce((n, piece) => n + piece.length, 0);
		if (this.#labelSets.length > this.#size) {
			this.#labelSets.length = this.#size;
			this.#numbers.length = this.#size;
			this.#owners.length = this.#size;
		}
		return joinAdjacent(out);
	}

	#flush(): void {
		if (this.#size === this.#flushed) return;
		const from = this.#flushed;
		this.#segments.push({ bytes: this.#write(this.#labelSets, this.#numbers, from, this.#size), from, to: this.#size });
		this.#flushed = this.#size;
		this.#clearIndex();
	}

	/** Map.clear() allocates a new table even for an empty map, and families with unique label sets never fill it. */
	#clearIndex(): void {
		if (this.#index.size > 0) this.#index.clear();
	}

	/** The series of `segment` not owned by an id in `without`, or undefined if it keeps them all. */
	#keptOf(segment: Segment, without: ReadonlySet<string>): { labelSets: SeriesLabels[]; numbers: number[] } | undefined {
		let kept: { labelSets: SeriesLabels[]; numbers: number[] } | undefined;
		for (let i = segment.from; i < segment.to; i++) {
			const owner = this.#owners[i];
			const leftOut = owner !== undefined && without.has(owner);
			if (leftOut && !kept) {
				kept = { labelSets: this.#labelSets.slice(segment.from, i), numbers: this.#numbers.slice(segment.from, i) };
			} else if (!leftOut && kept) {
				kept.labelSets.push(this.#labelSets[i]!);
				kept.numbers.push(this.#numbers[i]!);
			}
		}
		return kept;
	}

	/** `\nname{labels} value` for the series `from` up to `to` of these arrays. */
	#write(labelSets: readonly SeriesLabels[], numbers: readonly number[], from: number, to: number): Buffer {
		const count = to - from;
		const starts = new Array<Buffer>(count);
		let bound = 0;
		for (let i = 0; i < count; i++) {
			const labelSet = labelSets[from + i]!;
			let start = labelSet.lineStarts[this.#slot];
			if (start === undefined || start.family !== this) {
				start = { family: this, bytes: Buffer.from(`${this.name}${labelSet.text} `) };
				labelSet.lineStarts[this.#slot] = start;
			}
			starts[i] = start.bytes;
			// A newline and the value: JavaScript's number text is at most 25 ASCII characters.
			bound += 1 + start.bytes.length + 25;
		}
		// Segments are carved out of larger blocks: hundreds of small allocations per scrape cost more
		// than the writing.
		if (!this.#block || this.#block.length - this.#blockUsed < bound) {
			// For what this family wrote last time: one or two blocks per build. A new block gets 10%
			// more, so that a reused one still fits when the values have grown a digit or two.
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
			offset += writeNumber(out, offset, numbers[from + i]!);
		}
		this.#blockUsed = offset;
		return out.subarray(first, offset);
	}
}

/**
 * The per-object families of one exporter, kept across scrapes (see ObjectFamily). A build asks for
 * its families in output order; `begin()` empties them for the next. One build at a time, from
 * begin() to render(): the exporter's scrapes share one snapshot, so builds never overlap. The
 * lines of a build go into blocks lent from a pool (`blocks`), reused by later builds once the
 * bodies made from them are released.
 */
export class ObjectFamilies {
	readonly #byName = new Map<string, ObjectFamily>();
	/** The slot each family name has in SeriesLabels (kept when a family is made again with another help). */
	readonly #slots = new Map<string, number>();
	readonly #unique: boolean;
	readonly #pool: BlockPool;
	#used: ObjectFamily[] = [];
	#blocks: BuildBlocks;

	/** `uniqueLabelSets`: no two series of a family share a label set (ids are in them; not with `quiet`). */
	constructor({ uniqueLabelSets = false, pool = new BlockPool() }: { uniqueLabelSets?: boolean; pool?: BlockPool } = {}) {
		this.#unique = uniqueLabelSets;
		this.#pool = pool;
		this.#blocks = new BuildBlocks(pool);
	}

	/** The line memory: made so far, and free for the next builds (released bodies of past builds). */
	get lineMemory(): { allocatedBytes: number; freeBytes: number } {
		return { allocatedBytes: this.#pool.allocatedBytes, freeBytes: this.#pool.freeBytes };
	}

	/** The blocks of the current build: lease them for as long as a body rendered from it is in use. */
	get blocks(): BuildBlocks {
		return this.#blocks;
	}

	begin(): void {
		for (const family of this.#used) family.clear();
		this.#used = [];
		// The last build's blocks go back once its bodies are released (at once if none was made).
		this.#blocks.close();
		this.#blocks = new BuildBlocks(this.#pool);
	}

	/** The family `name` (made on first use), empty, placed after those asked for before it. */
	family({ name, help, fold }: { name: string; help: string; fold: Fold }): ObjectFamily {
		let family = this.#byName.get(name);
		if (!family || family.help !== help) {
			let slot = this.#slots.get(name);
			if (slot === undefined) {
				slot = this.#slots.size;
				this.#slots.set(name, slot);
			}
			family = new ObjectFamily({ name, help, fold, unique: this.#unique, slot, allocate: (bytes, newBytes) => this.#blocks.take(bytes, newBytes) });
			this.#byName.set(name, family);
		}
		family.clear();
		this.#used.push(family);
		return family;
	}

	/** Families asked for in this build so far. */
	get length(): number {
		return this.#used.length;
	}

	/** Drops the families asked for after the first `length` (a collector that failed half-way). */
	truncate(length: number): void {
		for (const family of this.#used.splice(length)) family.clear();
	}

	/** Series added in this build (including any that render() is then told to leave out). */
	get seriesCount(): number {
		return this.#used.reduce((n, f) => n + f.size, 0);
	}

	/** Writes what was added since the last flush (unique label sets only). */
	flush(): void {
		for (const family of this.#used) family.flush();
	}

	/** Each family's exposition (UTF-8 pieces), in order, without the series owned by `without`. */
	render(without?: ReadonlySet<string>): Buffer[][] {
		return this.#used.map((family) => family.render(without));
	}
}

/**
 * `pieces` with each run of pieces that follow one another in memory as one piece: segments
 * written one after the other into a block go out together. A family is ~75 segments at 200/2000
 * (one per answered request), and every piece costs the HTTP response a write() call of its own.
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
