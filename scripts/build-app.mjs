// Bundles the browser app (app/) into dist/app with esbuild: app/main.ts → main.js, plus
// index.html and any .css/.png/.svg files copied as they are.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const appDir = path.join(top, 'app');
const outDir = path.join(top, 'dist', 'app');

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
await build({
	entryPoints: [path.join(appDir, 'main.ts')],
	bundle: true,
	format: 'esm',
	platform: 'browser',
	target: ['chrome110', 'firefox115', 'safari16'],
	outfile: path.join(outDir, 'main.js'),
	sourcemap: true,
	minify: true,
	logLevel: 'warning',
	tsconfig: path.join(appDir, 'tsconfig.json')
});
for (const name of fs.readdirSync(appDir)) {
	if (/\.(html|css|png|svg|ico)$/.test(name)) fs.copyFileSync(path.join(appDir, name), path.join(outDir, name));
}
