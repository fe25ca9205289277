/** How values that land on the same label set combine. */
export type Fold = 'sum' | 'min' | 'max';

const FOLDS: Record<Fold, (a: number, b: number) => number> = {
	sum: (a, b) => a + b,
	min: Math.min,
	max: Math.max
};

const NEEDS_ESCAPE = /[\\\n"]/;

/** A label value escaped for both exposition formats (backslash, newline, double quote). */
export function escapeLabelValue(value: string): string {
	return NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

/** `{a="1",b="2"}` for label names and values in that order, as prom-client writes it. */
export function formatLabelSet(names: readonly string[], labels: Readonly<Record<string, string>>): string {
	let text = '{';
	for (let i = 0; i < names.length; i++) {
		const name = names[i]!;
		text += `${i === 0 ? '' : ','}${name}="${escapeLabelValue(labels[name]!)}"`;
	}
	return `${text}}`;
}

/** `{a="1"}` + `b`=`2` → `{a="1",b="2"}`. */
export function extendLabelSet(labelSet: string, name: string, value: string): string {
	const inner = labelSet.slice(1, -1);
	return `{${inner}${inner ? ',' : ''}${name}="${escapeLabelValue(value)}"}`;
}

/**
 * A gauge family of per-object series, written by hand: thousands of series per scrape, whose
 * label sets are rendered once per object (and cached across scrapes by ObjectLabeler) instead of
 * being hashed and formatted per sample as prom-client does. Values landing on one label set fold
 * (with `quiet`, ids are blank and objects share label sets): counts and bitrates add up, a score
 * keeps the worst, loss and delays the highest. Values that are missing or not finite are skipped.
 * The output is what prom-client writes for a gauge, in both formats (gauges are named alike).
 */
export class ObjectFamily {
	readonly name: string;
	readonly help: string;
	readonly #fold: (a: number, b: number) => number;
	/** Label set text → value, in first-seen order (prom-client's order). */
	readonly #values = new Map<string, number>();

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

	/** HELP, TYPE and one line per series, without a trailing newline (as prom-client joins families). */
	render(): string {
		const lines = new Array<string>(this.#values.size + 2);
		lines[0] = `# HELP ${this.name} ${escapeHelp(this.help)}`;
		lines[1] = `# TYPE ${this.name} gauge`;
		let i = 2;
		for (const [labelSet, value] of this.#values) lines[i++] = `${this.name}${labelSet} ${value}`;
		return lines.join('\n');
	}
}

function escapeHelp(help: string): string {
	return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
