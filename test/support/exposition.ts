/**
 * A parser for the Prometheus text and OpenMetrics expositions the exporter serves, for asserting
 * on values: one entry per sample line, label values unescaped.
 */
import assert from 'node:assert/strict';

export type Sample = { name: string; labels: Record<string, string>; value: number };

export type Exposition = {
	samples: Sample[];
	/** `# TYPE` per family name. */
	types: Map<string, string>;
	/** Samples of `name` whose labels include every given one. */
	find(name: string, labels?: Record<string, string>): Sample[];
	/** The one sample of `name` with these labels (throws if there is not exactly one). */
	value(name: string, labels?: Record<string, string>): number;
	/** Family names with at least one sample. */
	names(): Set<string>;
};

export function parseExposition(body: string): Exposition {
	const samples: Sample[] = [];
	const types = new Map<string, string>();
	for (const line of body.split('\n')) {
		if (line === '' || line === '# EOF') continue;
		if (line.startsWith('#')) {
			const type = /^# TYPE (\S+) (\S+)$/.exec(line);
			if (type) types.set(type[1]!, type[2]!);
			continue;
		}
		samples.push(parseSample(line));
	}
	const find = (name: string, labels: Record<string, string> = {}): Sample[] =>
		samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
	return {
		samples,
		types,
		find,
		value(name, labels = {}) {
			const found = find(name, labels);
			if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
			return found[0]!.value;
		},
		names: () => new Set(samples.map((s) => s.name))
	};
}

/** One GET of an exposition on a connection of its own (asserts 200): the body and its parse. */
export async function scrape(url: string): Promise<{ body: string; exposition: Exposition }> {
	const response = await fetch(url, { headers: { connection: 'close' } });
	assert.equal(response.status, 200);
	const body = await response.text();
	return { body, exposition: parseExposition(body) };
}

function parseSample(line: string): Sample {
	const nameEnd = line.search(/[{ ]/);
	const name = line.slice(0, nameEnd);
	const labels: Record<string, string> = {};
	let i = nameEnd;
	if (line[i] === '{') {
		i++;
		while (line[i] !== '}') {
			const eq = line.indexOf('=', i);
			const key = line.slice(i, eq);
			if (line[eq + 1] !== '"') throw new Error(`bad label in ${line}`);
			i = eq + 2;
			let value = '';
			while (line[i] !== '"') {
				if (line[i] === '\\') {
					const next = line[i + 1];
					value += next === 'n' ? '\n' : next;
					i += 2;
				} else {
					value += line[i];
					i++;
				}
			}
			labels[key] = value;
			i++;
			if (line[i] === ',') i++;
		}
		i++;
	}
	const [valueText] = line.slice(i).trim().split(' ');
	return { name, labels, value: Number(valueText) };
}
