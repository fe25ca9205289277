import express from 'express';
import type { Response, Router } from 'express';
import { Logger } from '../../Logger.js';
import type { MetricsSnapshot } from '../MetricsSnapshot.js';
import { AT, numberAt, transportRow } from '../mediasoupStats.js';
import { OVERVIEW_CSS, OVERVIEW_HTML, OVERVIEW_SCRIPT } from './overviewAssets.js';

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
		bitrate.recv += row ? numberAt(row, AT.recvBitrate) ?? 0 : 0;
		bitrate.send += row ? numberAt(row, AT.sendBitrate) ?? 0 : 0;
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
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

function pageHeaders(res: Response): Response {
	return res.set({
		'Content-Security-Policy': CSP,
		'X-Content-Type-Options': 'nosniff',
		'Referrer-Policy': 'no-referrer',
		'Cache-Control': 'no-store'
	});
}

/**
 * A live overview on the metrics port: `/overview` (HTML), its script and style, and
 * `/overview.json`, one sample computed from a snapshot of the exporter's own source. The server
 * keeps no history and runs no timer: each poll of the page takes (or shares) a snapshot, and the
 * page keeps the last minutes in the browser, so nothing runs when nobody looks.
 */
export class OverviewPage {
	readonly #source: SnapshotSource;

	constructor(source: SnapshotSource) {
		this.#source = source;
	}

	routes(): Router {
		const router = express.Router();
		router.get('/overview', (_req, res) => {
			pageHeaders(res).type('html').send(OVERVIEW_HTML);
		});
		router.get('/overview.js', (_req, res) => {
			pageHeaders(res).type('text/javascript').send(OVERVIEW_SCRIPT);
		});
		router.get('/overview.css', (_req, res) => {
			pageHeaders(res).type('text/css').send(OVERVIEW_CSS);
		});
		// Browsers ask for it on every page of the port; an empty answer keeps their consoles clean.
		router.get('/favicon.ico', (_req, res) => {
			res.status(204).end();
		});
		router.get('/overview.json', (_req, res) => {
			this.#source.snapshot().then(
				(snapshot) => { pageHeaders(res).json(overviewSample(snapshot)); },
				(error: Error) => {
					logger.error('overview snapshot failed: %s', error.stack ?? error.message);
					pageHeaders(res).status(500).json({ error: 'snapshot failed' });
				});
		});
		return router;
	}
}
