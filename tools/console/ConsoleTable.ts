/**
 * Aligned text tables for the operator console. Every cell goes through `ConsoleTable.cell()`:
 * control and bidi-override characters are escaped (a display name must not move the cursor, clear
 * the screen or reverse the text of the lines after it) and long values are cut.
 */

export type Align = 'left' | 'right';
export type Column = { header: string; align?: Align; maxWidth?: number };

const DEFAULT_MAX_WIDTH = 40;
// C0 controls, DEL, C1 controls, and the bidi embedding/override/isolate marks.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
// Characters a terminal draws two columns wide (CJK, Hangul, full-width forms, most emoji), and
// marks drawn on the character before them. An approximation of wcwidth, enough to keep columns.
const WIDE =
	/[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;
// Alternation, not one class: U+FE0F joins the code point before it, which a class would misread.
const ZERO_WIDTH = /\p{Mn}|\p{Me}|[\u200b-\u200d]|\ufe0f/u;

/** Columns a terminal uses for one code point. */
function charWidth(ch: string): number {
	if (ZERO_WIDTH.test(ch)) return 0;
	return WIDE.test(ch) ? 2 : 1;
}

/** Columns a terminal uses for a string. */
export function displayWidth(text: string): number {
	let width = 0;
	for (const ch of text) width += charWidth(ch);
	return width;
}

export class ConsoleTable {
	readonly #columns: Column[];
	readonly #rows: string[][] = [];

	constructor(columns: Column[]) {
		if (columns.length === 0) throw new TypeError('a table needs at least one column');
		this.#columns = columns;
	}

	/** Escapes unsafe characters as \xNN / \u{NNNN} and cuts the result to maxWidth columns. */
	static cell(value: unknown, maxWidth = DEFAULT_MAX_WIDTH): string {
		const text = value === null || value === undefined ? '-' : String(value);
		const escaped = text.replace(UNSAFE, (ch) => {
			const code = ch.codePointAt(0)!;
			return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
		});
		if (displayWidth(escaped) <= maxWidth) return escaped;
		let cut = '';
		let width = 0;
		for (const ch of escaped) {
			const w = charWidth(ch);
			if (width + w > maxWidth - 1) break;
			cut += ch;
			width += w;
		}
		return `${cut}…`;
	}

	add(values: unknown[]): this {
		this.#rows.push(this.#columns.map((column, i) => ConsoleTable.cell(values[i], column.maxWidth)));
		return this;
	}

	get size(): number {
		return this.#rows.length;
	}

	toString(): string {
		const width = displayWidth;
		const widths = this.#columns.map((column, i) => Math.max(width(column.header), ...this.#rows.map((row) => width(row[i]!))));
		const line = (cells: string[]): string =>
			cells
				.map((cell, i) => {
					const pad = ' '.repeat(widths[i]! - width(cell));
					return this.#columns[i]!.align === 'right' ? pad + cell : cell + pad;
				})
				.join('  ')
				.trimEnd();
		return [line(this.#columns.map((c) => c.header)), ...this.#rows.map(line)].join('\n');
	}
}

/** "42s", "3m05s", "2h07m", "3d04h": an age at a glance. */
export function formatDuration(ms: number): string {
	const s = Math.max(0, Math.floor(ms / 1000));
	if (s < 60) return `${s}s`;
	const m = Math.floor(s / 60);
	if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
	const h = Math.floor(m / 60);
	if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
	return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

export function formatBytes(bytes: number): string {
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let value = bytes;
	let unit = 0;
	while (value >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}
	return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Flattens nested objects to dotted keys ({ a: { b: 1 } } → [['a.b', 1]]) for a key/value table. */
export function flatten(value: unknown, prefix = ''): [string, unknown][] {
	if (value === null || typeof value !== 'object') return [[prefix || 'value', value]];
	if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) return [[prefix, value.join(', ')]];
	return Object.entries(value).flatMap(([key, v]) => flatten(v, prefix ? `${prefix}.${key}` : key));
}
