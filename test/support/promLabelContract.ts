/**
 * prom.md's metric reference as a label contract: every family of its tables with the label names
 * the document gives it, and a check of a live exposition against that. The label sets named
 * "stream labels" and "transport labels" are read from prom.md's Labels section, so the contract
 * follows the document rather than a copy of it.
 */
import type { Exposition, Sample } from './exposition.js';

export type DocumentedType = 'gauge' | 'counter' | 'histogram' | 'various';

export type DocumentedFamily = {
	/** A family name, or a pattern such as `process_*` (prom-client's default metrics). */
	name: string;
	type: DocumentedType;
	/** Label names as documented, sorted; undefined where prom.md says `various`. */
	labels: readonly string[] | undefined;
	/** The `###` heading of its table, for messages. */
	section: string;
};

/** `P` in `mediasoup_P_*` rows stands for both roles (prom.md, Producers and consumers). */
const ROLES = ['producer', 'consumer'];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class PromDocError extends Error {
	constructor(message: string) {
		super(`prom.md: ${message}`);
		this.name = 'PromDocError';
	}
}

/** Every family documented in the tables of prom.md's "Metric reference", with its label names. */
export function documentedLabelContract(markdown: string): DocumentedFamily[] {
	const labelSets = namedLabelSets(section(markdown, 'Labels'));
	const families: DocumentedFamily[] = [];
	const lines = section(markdown, 'Metric reference');
	let heading = '';
	for (let i = 0; i < lines.length; i++) {
		const line = lines[i]!;
		if (line.startsWith('### ')) heading = line.slice(4);
		if (!line.startsWith('|') || !/^\|[-| ]+\|$/.test(lines[i + 1] ?? '')) continue;
		const columns = cells(line).map((c) => c.toLowerCase());
		const at = (name: string): number => columns.indexOf(name);
		if (at('name') < 0 || at('type') < 0) throw new PromDocError(`a table under "${heading}" has no name or type column`);
		// Tables without a labels column name their set in the heading ("…, stream labels)").
		let tableLabels: readonly string[] | undefined;
		if (at('labels') < 0) {
			const setName = /\b(\w+) labels\)/.exec(heading)?.[1]?.toLowerCase();
			tableLabels = setName === undefined ? undefined : labelSets.get(setName);
			if (!tableLabels)
				throw new PromDocError(`the table under "${heading}" has no labels column and names no label set of the Labels section`);
		}
		for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
			const row = cells(lines[i]!);
			const names = backticked(row[at('name')]!);
			if (names.length === 0) throw new PromDocError(`a row under "${heading}" names no family: ${lines[i]}`);
			const labels = tableLabels
				? [...tableLabels, ...extraLabels(row[at('meaning')] ?? '')]
				: labelNames(row[at('labels')]!, `${names.join(', ')} under "${heading}"`);
			const type = documentedType(row[at('type')]!, names.join(', '));
			for (const name of names.flatMap((n) => (n.includes('_P_') ? ROLES.map((role) => n.replace('_P_', `_${role}_`)) : [n]))) {
				families.push({ name, type, labels: labels && [...labels].sort(), section: heading });
			}
		}
	}
	return families;
}

/** Violations of `contract` in one exposition: a family without samples, or a sample whose label names differ. */
export function labelContractViolations(contract: readonly DocumentedFamily[], exposition: Exposition): string[] {
	const violations: string[] = [];
	for (const family of contract) {
		if (family.name.endsWith('*')) {
			const prefix = family.name.slice(0, -1);
			const matching = [...exposition.types.keys()].filter((name) => name.startsWith(prefix));
			const withSamples = matching.filter((name) =>
				sampleNamesOf(name, exposition.types.get(name)!).some((s) => samplesNamed(exposition, s.name).length > 0)
			);
			if (withSamples.length === 0) violations.push(`${family.name}: no family with samples matches`);
			for (const name of withSamples)
				violations.push(...sampleViolations(exposition, name, exposition.types.get(name)!, family.labels));
			continue;
		}
		// OpenMetrics names a counter family without its `_total` (the samples keep it).
		const exposedType = exposition.types.get(family.name) ?? exposition.types.get(family.name.replace(/_total$/, ''));
		if (exposedType === undefined) {
			violations.push(`${family.name}: not in the exposition (no # TYPE)`);
			continue;
		}
		if (family.type !== 'various' && exposedType !== family.type)
			violations.push(`${family.name}: # TYPE ${exposedType}, documented ${family.type}`);
		violations.push(...sampleViolations(exposition, family.name, family.type === 'various' ? exposedType : family.type, family.labels));
	}
	return violations;
}

/** A family's samples against its documented labels: each sample name present, every sample with exactly them (any, if undefined). */
function sampleViolations(exposition: Exposition, family: string, type: string, labels: readonly string[] | undefined): string[] {
	const violations: string[] = [];
	for (const expected of sampleNamesOf(family, type)) {
		const samples = samplesNamed(exposition, expected.name);
		if (samples.length === 0) {
			violations.push(`${family}: no ${expected.name} sample`);
			continue;
		}
		if (!labels) continue;
		const want = [...labels, ...expected.extra].sort();
		const seen = new Set<string>();
		for (const sample of samples) {
			const got = Object.keys(sample.labels).sort();
			const key = got.join(',');
			if (key === want.join(',') || seen.has(key)) continue;
			seen.add(key);
			const missing = want.filter((l) => !got.includes(l));
			const extra = got.filter((l) => !want.includes(l));
			violations.push(
				`${sample.name}{${got.join(',')}}: documented {${want.join(',')}}` +
					(missing.length ? `, missing ${missing.join(',')}` : '') +
					(extra.length ? `, extra ${extra.join(',')}` : '')
			);
		}
	}
	return violations;
}

/** The sample names a family of `type` has, each with the labels it carries beyond the family's. */
function sampleNamesOf(family: string, type: string): { name: string; extra: string[] }[] {
	if (type === 'histogram')
		return [
			{ name: `${family}_bucket`, extra: ['le'] },
			{ name: `${family}_sum`, extra: [] },
			{ name: `${family}_count`, extra: [] }
		];
	if (type === 'counter' && !family.endsWith('_total')) return [{ name: `${family}_total`, extra: [] }];
	return [{ name: family, extra: [] }];
}

function samplesNamed(exposition: Exposition, name: string): Sample[] {
	return exposition.samples.filter((s) => s.name === name);
}

/** The lines of `## title`, up to the next `## ` heading. */
function section(markdown: string, title: string): string[] {
	const lines = markdown.split('\n');
	const start = lines.indexOf(`## ${title}`);
	if (start < 0) throw new PromDocError(`no "## ${title}" section`);
	const end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
	return lines.slice(start + 1, end < 0 ? undefined : end);
}

/**
 * The `**Name labels**` sets of the Labels section, by lower-case name: a paragraph ending in `:`
 * is followed by a table whose first column lists them; otherwise they are listed after its first `:`.
 */
function namedLabelSets(lines: string[]): Map<string, string[]> {
	const sets = new Map<string, string[]>();
	for (let i = 0; i < lines.length; i++) {
		const name = /^\*\*(\w+) labels\*\*/.exec(lines[i]!)?.[1]?.toLowerCase();
		if (!name) continue;
		let end = i;
		while (end < lines.length && lines[end]!.trim() !== '') end++;
		const paragraph = lines.slice(i, end).join('\n');
		let labels: string[];
		if (paragraph.trimEnd().endsWith(':')) {
			let row = end + 1;
			if (!lines[row]?.startsWith('|')) throw new PromDocError(`"${name} labels" ends with ":" but no table follows`);
			labels = [];
			for (row += 2; row < lines.length && lines[row]!.startsWith('|'); row++) labels.push(...backticked(cells(lines[row]!)[0]!));
		} else {
			labels = labelNames(paragraph.slice(paragraph.indexOf(':') + 1), `"${name} labels"`)!;
		}
		if (labels.length === 0) throw new PromDocError(`"${name} labels" lists no label`);
		sets.set(name, labels);
	}
	return sets;
}

/**
 * Label names in a labels cell or list: the backticked names outside parentheses (inside them are
 * values, as in `direction` (`recv`, `send`)), a backticked span possibly holding several
 * (`pid, room_id`). Empty text: no labels; `various`: not documented (undefined).
 */
function labelNames(text: string, where: string): string[] | undefined {
	if (text.trim() === 'various') return undefined;
	const outside = text.replace(/\([^)]*\)/g, '');
	const names = backticked(outside).flatMap((span) => span.split(/[\s,]+/).filter(Boolean));
	const bad = names.filter((n) => !LABEL_NAME.test(n));
	if (bad.length > 0) throw new PromDocError(`${where}: not label names: ${bad.join(', ')}`);
	if (names.length === 0 && outside.trim() !== '') throw new PromDocError(`${where}: labels "${text.trim()}" name no label`);
	return names;
}

/** `extra label `state`` (or `extra labels `a`, `b``) in a meaning cell. */
function extraLabels(meaning: string): string[] {
	const list = /extra labels? ((?:`\w+`(?:,\s*|\s+and\s+)?)+)/.exec(meaning)?.[1];
	return list ? backticked(list) : [];
}

function documentedType(cell: string, where: string): DocumentedType {
	const type = cell.trim().split(/\s/)[0];
	if (type === 'gauge' || type === 'counter' || type === 'histogram' || type === 'various') return type;
	throw new PromDocError(`${where}: unknown type "${cell}"`);
}

function cells(row: string): string[] {
	return row
		.split('|')
		.slice(1, -1)
		.map((c) => c.trim());
}

function backticked(text: string): string[] {
	return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.trim());
}
