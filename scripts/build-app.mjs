// Bundles the browser code with esbuild: the meeting app (app/main.ts → dist/app/main.js, plus
// index.html and any .css/.png/.svg files copied as they are) and the metrics port's overview page
// (app/overview/main.ts → dist/overview/overview.js, with its index.html and overview.css; not under
// dist/app, which the app port serves).
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const appDir = path.join(top, 'app');
const outDir = path.join(top, 'dist', 'app');
const overviewOutDir = path.join(top, 'dist', 'overview');

for (const dir of [outDir, overviewOutDir]) {
	fs.rmSync(dir, { recursive: true, force: true });
	fs.mkdirSync(dir, { recursive: true });
}
const common = {
	bundle: true,
	platform: 'browser',
	target: ['chrome110', 'firefox115', 'safari16'],
	sourcemap: true,
	minify: true,
	logLevel: 'warning',
	tsconfig: path.join(appDir, 'tsconfig.json')
};
await build({ ...common, entryPoints: [path.join(appDir, 'main.ts')], format: 'esm', outfile: path.join(outDir, 'main.js') });
// A classic script: the overview page loads it with `defer`, not as a module.
await build({
	...common,
	entryPoints: [path.join(appDir, 'overview', 'main.ts')],
	format: 'iife',
	sourcemap: false,
	outfile: path.join(overviewOutDir, 'overview.js')
});
for (const [from, to] of [
	[appDir, outDir],
	[path.join(appDir, 'overview'), overviewOutDir]
]) {
	for (const name of fs.readdirSync(from)) {
		if (/\.(html|css|png|svg|ico)$/.test(name)) fs.copyFileSync(path.join(from, name), path.join(to, name));
	}
}
