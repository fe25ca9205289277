import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import type { Response, Router } from 'express';
import { Logger } from '../../base/Logger.js';
import { appDistDir } from '../../http/AppHttpServer.js';
import type { MetricsSnapshot } from '../snapshot/MetricsSnapshot.js';
import { AT, numberAt, transportRow } from '../snapshot/mediasoupStats.js';

const logger = new Logger('OverviewPage');

/** What the page needs: the exporter's snapshot (shared with scrapes in flight). */
export interface SnapshotSource {
	snapshot(): Promise<MetricsSnapshot>;
}

/** One poll's worth of numbers; the browser keeps the history and turns CPU seconds into rates. */
export type OverviewSample = {
	/** When the snapshot was taken, ms since the epoch. */
	at: number;
	/** The exporter holds the server's state (false: the numbers below are zeros, not facts). */
	up: boolean;
	rooms: number;
	peers: number;
	producers: number;
	consumers: number;
	/** Bits per second summed over all transports (recv: into the SFU), as mediasoup_bitrate_bps. */
	bitrate: { recv: number; send: number };
	/** CPU seconds (user + system) of each worker since it started, as mediasoup_worker_cpu_seconds_total. */
	workers: { pid: number; cpuSeconds: number }[];
	/** The snapshot hit the scrape deadline: bitrates may be partial. */
	timedOut: boolean;
};

/** The overview numbers of one snapshot, computed as the collectors compute the same metrics. */
export function overviewSample(snapshot: MetricsSnapshot): OverviewSample {
	const { state } = snapshot;
	const bitrate = { recv: 0, send: 0 };
	for (const id of Object.keys(state?.transports ?? {})) {
		const entries = snapshot.sweep.stats.get(id);
		const row = entries ? transportRow(entries) : undefined;
		bitrate.recv += row ? (numberAt(row, AT.recvBitrate) ?? 0) : 0;
		bitrate.send += row ? (numberAt(row, AT.sendBitrate) ?? 0) : 0;
	}
	return {
		at: snapshot.startedAt,
		up: state !== null,
		rooms: Object.keys(state?.rooms ?? {}).length,
		peers: Object.keys(state?.peers ?? {}).length,
		producers: Object.keys(state?.producers ?? {}).length,
		consumers: Object.keys(state?.consumers ?? {}).length,
		bitrate,
		workers: (snapshot.usage?.workers ?? []).map((w) => ({ pid: w.pid, cpuSeconds: w.cpuUserSeconds + w.cpuSystemSeconds })),
		timedOut: snapshot.timedOut
	};
}

// Everything from this origin, nothing inline, no frames: the page and its script are static.
const CSP =
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

function pageHeaders(res: Response): Response {
	return res.set({
		'Content-Security-Policy': CSP,
		'X-Content-Type-Options': 'nosniff',
		'Referrer-Policy': 'no-referrer',
		'Cache-Control': 'no-store'
	});
}

/** The page's files as the build writes them (app/overview, bundled by scripts/build-app.mjs). */
const ASSETS = [
	['/overview', 'index.html', 'html'],
	['/overview.js', 'overview.js', 'text/javascript'],
	['/overview.css', 'overview.css', 'text/css']
] as const;

/**
 * A live overview on the metrics port: `/overview` (HTML), its script and style, and
 * `/overview.json`, one sample computed from a snapshot of the exporter's own source. The server
 * keeps no history and runs no timer: each poll of the page takes (or shares) a snapshot, and the
 * page keeps the last minutes in the browser, so nothing runs when nobody looks.
 */
export class OverviewPage {
	readonly #source: SnapshotSource;
	/** The built files, read once (undefined: not built, answered with 404 and a hint). */
	readonly #assets = new Map<string, string | undefined>();

	constructor(source: SnapshotSource) {
		this.#source = source;
	}

	routes(): Router {
		const router = express.Router();
		const dir = path.join(appDistDir(), '..', 'overview');
		for (const [route, file, type] of ASSETS) {
			router.get(route, (_req, res) => {
				if (!this.#assets.has(file)) this.#assets.set(file, readOrUndefined(path.join(dir, file)));
				const body = this.#assets.get(file);
				if (body === undefined)
					pageHeaders(res).status(404).type('text/plain').send('the overview page is not built: run npm run build\n');
				else pageHeaders(res).type(type).send(body);
			});
		}
		// Browsers ask for it on every page of the port; an empty answer keeps their consoles clean.
		router.get('/favicon.ico', (_req, res) => {
			res.status(204).end();
		});
		router.get('/overview.json', (_req, res) => {
			this.#source.snapshot().then(
				(snapshot) => {
					pageHeaders(res).json(overviewSample(snapshot));
				},
				(error: Error) => {
					logger.error('overview snapshot failed: %s', error.stack ?? error.message);
					pageHeaders(res).status(500).json({ error: 'snapshot failed' });
				}
			);
		});
		return router;
	}
}

function readOrUndefined(file: string): string | undefined {
	try {
		return fs.readFileSync(file, 'utf8');
	} catch {
		logger.warn('%s is missing: build the overview page (npm run build)', file);
		return undefined;
	}
}
