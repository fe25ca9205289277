/**
 * mediasoup reads MEDIASOUP_WORKER_BIN when its Worker module loads, so this module must be
 * imported before anything that imports mediasoup. The user's own value always wins; otherwise the
 * worker that scripts/setup built (whose path it records in .cache/mediasoup-worker-path) is used.
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

function recordedWorkerBinary(): string | undefined {
	try {
		const recorded = fs.readFileSync(path.join(projectRoot(), '.cache', 'mediasoup-worker-path'), 'utf8').trim();
		return recorded && fs.existsSync(recorded) ? recorded : undefined;
	} catch {
		return undefined; // setup has not run: mediasoup reports the missing worker itself
	}
}

if (!process.env.MEDIASOUP_WORKER_BIN) {
	const recorded = recordedWorkerBinary();
	if (recorded) process.env.MEDIASOUP_WORKER_BIN = recorded;
}
