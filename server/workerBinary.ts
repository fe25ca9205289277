/**
 * mediasoup 3.8.4 reads MEDIASOUP_WORKER_BIN when its Worker module loads, so this module must be
 * imported before anything that imports mediasoup. The user's own value always wins; otherwise the
 * binary cached by scripts/setup is used.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function projectRoot(): string {
	// server/workerBinary.ts runs from server/ (tsx) or dist/server/ (compiled).
	let dir = path.dirname(fileURLToPath(import.meta.url));
	while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
	return dir;
}

export const cachedWorkerBinary = path.join(projectRoot(), '.cache', 'mediasoup-worker', 'usr', 'lib',
	'x86_64-linux-gnu', 'mediasoup', 'mediasoup-worker');

if (!process.env.MEDIASOUP_WORKER_BIN && fs.existsSync(cachedWorkerBinary)) {
	process.env.MEDIASOUP_WORKER_BIN = cachedWorkerBinary;
}
