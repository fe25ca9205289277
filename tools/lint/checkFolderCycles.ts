/**
 * Fails when folders import each other in a circle (ESLint's import-x/no-cycle sees modules; a
 * folder cycle is the layering problem to catch: sfu ↔ signalling, observer ↔ stream, …).
 * Reads the relative imports of every .ts file under the given roots (default: server app tools
 * scripts test config), builds the graph of folders, and prints each strongly connected set of
 * more than one folder with one import per edge as evidence. Exit code 1 when there is any.
 */
import fs from 'node:fs';
import path from 'node:path';

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?(?:from\s*)?['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
	if (!fs.existsSync(dir)) return [];
	return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(full);
		return /\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
	});
}

/** folder → folder → one `file → import` that makes the edge. */
function folderGraph(roots: string[]): Map<string, Map<string, string>> {
	const graph = new Map<string, Map<string, string>>();
	for (const file of roots.flatMap(sourceFiles)) {
		const from = path.dirname(file);
		for (const [, specifier] of fs.readFileSync(file, 'utf8').matchAll(IMPORT)) {
			const to = path.dirname(path.normalize(path.join(from, specifier!)));
			if (to === from) continue;
			let edges = graph.get(from);
			if (!edges) graph.set(from, (edges = new Map()));
			if (!edges.has(to)) edges.set(to, `${file} → ${specifier}`);
		}
	}
	return graph;
}

/** Tarjan's strongly connected components, keeping those of two folders or more. */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
	const index = new Map<string, number>();
	const low = new Map<string, number>();
	const stack: string[] = [];
	const onStack = new Set<string>();
	const found: string[][] = [];
	const visit = (node: string): void => {
		index.set(node, index.size);
		low.set(node, index.get(node)!);
		stack.push(node);
		onStack.add(node);
		for (const next of graph.get(node)?.keys() ?? []) {
			if (!index.has(next)) {
				visit(next);
				low.set(node, Math.min(low.get(node)!, low.get(next)!));
			} else if (onStack.has(next)) {
				low.set(node, Math.min(low.get(node)!, index.get(next)!));
			}
		}
		if (low.get(node) !== index.get(node)) return;
		const component: string[] = [];
		let member: string;
		do {
			member = stack.pop()!;
			onStack.delete(member);
			component.push(member);
		} while (member !== node);
		if (component.length > 1) found.push(component.sort());
	};
	for (const node of graph.keys()) if (!index.has(node)) visit(node);
	return found;
}

const roots = process.argv.length > 2 ? process.argv.slice(2) : ['server', 'app', 'tools', 'scripts', 'test', 'config'];
const graph = folderGraph(roots);
const found = cycles(graph);
for (const component of found) {
	process.stderr.write(`folders that import each other: ${component.join(', ')}\n`);
	for (const from of component) {
		for (const [to, evidence] of graph.get(from) ?? [])
			if (component.includes(to)) process.stderr.write(`  ${from} → ${to}: ${evidence}\n`);
	}
}
if (found.length > 0) process.exit(1);
process.stdout.write(`no import cycles between the ${graph.size} folders of ${roots.join(', ')}\n`);
