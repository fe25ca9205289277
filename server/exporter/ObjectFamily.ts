/** How values that land on the same label set combine. */
export type Fold = 'sum' | 'min' | 'max';

const FOLDS: Record<Fold, (a: number, b: number) => number> = {
	sum: (a, b) => a + b,
	min: Math.min,
	max: Math.max
};

const NEEDS_ESCAPE = /[\\\n"]/;
const NEWLINE = 0x0a;

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
	/** This build's values: label set text → value, in first-seen order (prom-client's order). */
	readonly #values = new Map<string, number>();
	/** Label set text → `name{labels} ` as UTF-8, kept for the label sets of the last build. */
	readonly #lineStarts = new Map<string, Buffer>();

	constructor({ name, help, fold }: { name: string; help: string; fold: Fold }) {
		if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new TypeError(`invalid metric name ${JSON.stringify(name)}`);
		this.name = name;
		this.help = help;
		this.#fold = FOLDS[fold];
	}

	/** `labelSet` as made by formatLabelSet. */
	add(labelSet: string, value: number | undefined): void {
		if (value === undefined || !Number.isFinite(value)) return;
		const previous = this.#values.get(labelSet);
		this.#values.set(labelSet, previous === undefined ? value : this.#fold(previous, value));
	}

	get size(): number {
		return this.#values.size;
	}

	/** Empties the family for the next build. */
	clear(): void {
		this.#values.clear();
	}

	/**
	 * HELP, TYPE and one line per series as UTF-8, without a trailing newline (as prom-client joins
	 * families). Written straight into a buffer from the cached line starts: tens of thousands of
	 * lines per scrape, so no string per line and no encoding of the whole body afterwards.
	 */
	render(): Buffer {
		const header = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} gauge`;
		let bound = Buffer.byteLength(header);
		const starts = new Array<Buffer>(this.#values.size);
		let i = 0;
		for (const labelSet of this.#values.keys()) {
			let start = this.#lineStarts.get(labelSet);
			if (start === undefined) {
				start = Buffer.from(`${this.name}${labelSet} `);
				this.#lineStarts.set(labelSet, start);
			}
			starts[i++] = start;
			// A newline and the value: JavaScript's number text is at most 25 ASCII characters.
			bound += 1 + start.length + 25;
		}
		const out = Buffer.allocUnsafe(bound);
		let offset = out.write(header, 0, 'utf8');
		i = 0;
		for (const value of this.#values.values()) {
			out[offset++] = NEWLINE;
			offset += starts[i++]!.copy(out, offset);
			offset += out.write(String(value), offset, 'latin1');
		}
		// Forget the line starts of series that are gone (closed objects, changed labels).
		if (this.#lineStarts.size > this.#values.size) {
			for (const labelSet of this.#lineStarts.keys()) if (!this.#values.has(labelSet)) this.#lineStarts.delete(labelSet);
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
	#used: ObjectFamily[] = [];

	begin(): void {
		for (const family of this.#used) family.clear();
		this.#used = [];
	}

	/** The family `name` (made on first use), empty, placed after those asked for before it. */
	family({ name, help, fold }: { name: string; help: string; fold: Fold }): ObjectFamily {
		let family = this.#byName.get(name);
		if (!family || family.help !== help) {
			family = new ObjectFamily({ name, help, fold });
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

function escapeHelp(help: string): string {
	return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
