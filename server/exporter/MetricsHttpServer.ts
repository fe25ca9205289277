import http from 'node:http';
import https from 'node:https';
import express from 'express';
import { Logger } from '../base/Logger.js';
import { listeningUrl, startListening, stopListening } from '../http/HttpListener.js';
import type { LeasedScrapeResult } from './Exporter.js';
import type { MetricsAccessControl } from './http/MetricsAccessControl.js';
import { OverviewPage, type SnapshotSource } from './http/OverviewPage.js';
import type { TlsCredentials } from './http/TlsCredentials.js';

const logger = new Logger('MetricsHttpServer');

const OPENMETRICS = 'application/openmetrics-text';
const TEXT_OFFER = 'text/plain; version=0.0.4';
const OPENMETRICS_OFFER = `${OPENMETRICS}; version=1.0.0`;

/** What the HTTP server serves: anything that can build one scrape's exposition. */
export interface Scrapable {
	scrape(options: { openMetrics: boolean }): Promise<LeasedScrapeResult>;
}

const LANDING_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>meter-sfu exporter</title></head>
<body>
<h1>meter-sfu exporter</h1>
<p>Prometheus metrics of the meter-sfu SFU: <a href="metrics">/metrics</a>
(Prometheus text format, or OpenMetrics when the Accept header asks for ${OPENMETRICS}).</p>
<p>Live overview of rooms, peers, bitrate and worker CPU: <a href="overview">/overview</a>.</p>
</body>
</html>
`;

export type MetricsHttpServerOptions = {
	ip: string;
	port: number;
	exporter: Scrapable;
	/** Allow-list and authentication in front of every path (server/exporter/http). */
	access?: MetricsAccessControl;
	/** HTTPS (optionally mutual) instead of HTTP. */
	tls?: TlsCredentials | null;
	/** Serves /overview and /overview.json from this source's snapshots. */
	overview?: SnapshotSource;
};

/**
 * The metrics endpoint: `/metrics`, a landing page at `/` and the live overview. The format follows
 * the Accept header (with q-values, as Prometheus sends them); each request is its own scrape.
 */
export class MetricsHttpServer {
	readonly httpServer: http.Server | https.Server;
	readonly #scheme: 'http' | 'https';
	#closed = false;

	static async create(options: MetricsHttpServerOptions): Promise<MetricsHttpServer> {
		const server = new MetricsHttpServer(options);
		await startListening(server.httpServer, options);
		logger.debug('listening on %s', server.url);
		return server;
	}

	private constructor({ exporter, access, tls, overview }: MetricsHttpServerOptions) {
		const app = express();
		app.disable('x-powered-by');
		// No ETags: express would hash every /metrics body (megabytes per scrape) for a header no
		// scraper uses; the pages here are live and no-store anyway.
		app.set('etag', false);
		// First, for every path: nothing on this port is public unless the config says so.
		if (access) app.use(access.handle);
		if (overview) app.use(new OverviewPage(overview).routes());
		app.get('/', (_req, res) => {
			res.type('html').send(LANDING_PAGE);
		});
		app.get('/metrics', (req, res) => {
			// Offers with versions: an Accept entry's parameters must match the offer's, so a
			// request for OpenMetrics 0.0.1 only falls back to the text format.
			const openMetrics = req.accepts([TEXT_OFFER, OPENMETRICS_OFFER]) === OPENMETRICS_OFFER;
			exporter.scrape({ openMetrics }).then(
				({ contentType, chunks, byteLength, release }) => {
					// 'finish': the last write completed; 'close': that, or the connection died. Either
					// way nothing reads the chunks any more, and later scrapes can write into their memory.
					res.once('finish', release);
					res.once('close', release);
					res.set({ 'Cache-Control': 'no-store', 'Content-Length': String(byteLength) }).type(contentType);
					// Corked: the pieces go out in one writev(), without being joined first.
					res.cork();
					for (const chunk of chunks) res.write(chunk);
					res.end();
					// A client gone during the sweep: 'close' came before the listeners, nothing was written.
					if (res.destroyed) release();
				},
				(error: Error) => {
					logger.error('scrape failed: %s', error.stack ?? error.message);
					res.status(500).type('text/plain').send('scrape failed\n');
				}
			);
		});
		if (tls) {
			const httpsServer = https.createServer(tls.serverOptions(), app);
			tls.watch(httpsServer);
			this.httpServer = httpsServer;
			this.#scheme = 'https';
		} else {
			this.httpServer = http.createServer(app);
			this.#scheme = 'http';
		}
	}

	get url(): string {
		return listeningUrl(this.httpServer, this.#scheme);
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await stopListening(this.httpServer);
	}
}
