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

/** A label value escaped for both exposition formats (backslash, newline, double quote). */
export function escapeLabelValue(value: string): string {
	return NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

/**
 * `{a="1",b="2"}` for label names and values in that order, as prom-client writes it. Joined from an
 * array so the text is one flat string: label sets are cached and copied into every scrape's body,
 * and a string built with `+=` would be a rope that each copy walks again.
 */
export function formatLabelSet(names: readonly string[], labels: Readonly<Record<string, string>>): string {
	const parts = new Array<string>(names.length);
	for (let i = 0; i < names.length; i++) parts[i] = `${names[i]!}="${escapeLabelValue(labels[names[i]!]!)}"`;
	return ['{', parts.join(','), '}'].join('');
}

/** `{a="1"}` + `b`=`2` → `{a="1",b="2"}` (flat, as formatLabelSet). */
export function extendLabelSet(labelSet: string, name: string, value: string): string {
	const inner = labelSet.slice(1, -1);
	return ['{', inner, inner ? ',' : '', name, '="', escapeLabelValue(value), '"}'].join('');
}

/**
 * A gauge family of per-object series, written by hand: thousands of series per scrape, whose
 * label sets are rendered once per object (and cached across scrapes by ObjectLabeler) instead of
 * being hashed and formatted per sample as prom-client does. Values landing on one label set fold
 * (with `quiet`, ids are blank and objects share label sets): counts and bitrates add up, a score
 * keeps the worst, loss and delays the highest. Values that are missing or not finite are skipped.
 * The output is what prom-client writes for a gauge, in both formats (gauges are named alike).
 *
 * A family lives as long as its exporter (ObjectFamilies) and is emptied for every build, so the
 * start of each line (`name{labels} `) is made once per object, not once per scrape.
 */
export class ObjectFamily {
	readonly name: string;
	readonly help: string;
	readonly #fold: (a: number, b: number) => number;
	/** Every label set is added at most once per build (ids in the labels): no folding needed. */
	readonly #unique: boolean;
	/** This build's series in first-seen order (prom-client's order): label set text and value. */
	readonly #labelSets: string[] = [];
	readonly #numbers: number[] = [];
	/** Where each label set is in the arrays above (only when folding). */
	readonly #index = new Map<string, number>();
	/** Label set text → `name{labels} ` as UTF-8 and the build that last used it. */
	readonly #lineStarts = new Map<string, { bytes: Buffer; build: number }>();
	#build = 0;

	constructor({ name, help, fold, unique = false }: { name: string; help: string; fold: Fold; unique?: boolean }) {
		if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new TypeError(`invalid metric name ${JSON.stringify(name)}`);
		this.name = name;
		this.help = help;
		this.#fold = FOLDS[fold];
		this.#unique = unique;
	}

	/** `labelSet` as made by formatLabelSet. */
	add(labelSet: string, value: number | undefined): void {
		if (value === undefined || !Number.isFinite(value)) return;
		if (!this.#unique) {
			const at = this.#index.get(labelSet);
			if (at !== undefined) {
				this.#numbers[at] = this.#fold(this.#numbers[at]!, value);
				return;
			}
			this.#index.set(labelSet, this.#labelSets.length);
		}
		this.#labelSets.push(labelSet);
		this.#numbers.push(value);
	}

	get size(): number {
		return this.#labelSets.length;
	}

	/** Empties the family for the next build. */
	clear(): void {
		this.#labelSets.length = 0;
		this.#numbers.length = 0;
		this.#index.clear();
	}

	/**
	 * HELP, TYPE and one line per series as UTF-8, without a trailing newline (as prom-client joins
	 * families). Written straight into a buffer from the cached line starts: tens of thousands of
	 * lines per scrape, so no string per line and no encoding of the whole body afterwards.
	 */
	render(): Buffer {
		const build = ++this.#build;
		const header = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} gauge`;
		const count = this.#labelSets.length;
		let bound = Buffer.byteLength(header);
		const starts = new Array<Buffer>(count);
		for (let i = 0; i < count; i++) {
			const labelSet = this.#labelSets[i]!;
			let start = this.#lineStarts.get(labelSet);
			if (start === undefined) {
				start = { bytes: Buffer.from(`${this.name}${labelSet} `), build };
				this.#lineStarts.set(labelSet, start);
			} else {
				start.build = build;
			}
			starts[i] = start.bytes;
			// A newline and the value: JavaScript's number text is at most 25 ASCII characters.
			bound += 1 + start.bytes.length + 25;
		}
		const out = Buffer.allocUnsafe(bound);
		let offset = out.write(header, 0, 'utf8');
		for (let i = 0; i < count; i++) {
			out[offset++] = NEWLINE;
			const start = starts[i]!;
			// set(), not copy(): copy() of a small buffer goes through slow JavaScript in Node 20.
			out.set(start, offset);
			offset += start.length;
			offset += writeNumber(out, offset, this.#numbers[i]!);
		}
		// Forget the line starts of series that are gone (closed objects, changed labels).
		if (this.#lineStarts.size > count) {
			for (const [labelSet, start] of this.#lineStarts) if (start.build !== build) this.#lineStarts.delete(labelSet);
		}
		return out.subarray(0, offset);
	}
}

/**
 * The per-object families of one exporter, kept across scrapes (see ObjectFamily). A build asks for
 * its families in output order; `begin()` empties them for the next. Building and rendering must
 * happen in one synchronous stretch, as builds share these families.
 */
export class ObjectFamilies {
	readonly #byName = new Map<string, ObjectFamily>();
	readonly #unique: boolean;
	#used: ObjectFamily[] = [];

	/** `uniqueLabelSets`: no two series of a family share a label set (ids are in them; not with `quiet`). */
	constructor({ uniqueLabelSets = false }: { uniqueLabelSets?: boolean } = {}) {
		this.#unique = uniqueLabelSets;
	}

	begin(): void {
		for (const family of this.#used) family.clear();
		this.#used = [];
	}

	/** The family `name` (made on first use), empty, placed after those asked for before it. */
	family({ name, help, fold }: { name: string; help: string; fold: Fold }): ObjectFamily {
		let family = this.#byName.get(name);
		if (!family || family.help !== help) {
			family = new ObjectFamily({ name, help, fold, unique: this.#unique });
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

	get seriesCount(): number {
		return this.#used.reduce((n, f) => n + f.size, 0);
	}

	/** Each family's exposition (UTF-8), in order. */
	render(): Buffer[] {
		return this.#used.map((family) => family.render());
	}
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
