import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Registry, type RegistryContentType } from 'prom-client';
import { Logger } from '../Logger.js';

const logger = new Logger('MetricsHttpServer');

/**
 * The metrics endpoint: `/metrics` (Prometheus text, or OpenMetrics when the Accept header asks for
 * it) and a landing page at `/`. Metrics are built by the registry's collectors on each request.
 */
export class MetricsHttpServer {
	readonly httpServer: http.Server;
	readonly #registry: Registry;
	#closed = false;

	static async create({ ip, port, registry }: { ip: string; port: number; registry: Registry }): Promise<MetricsHttpServer> {
		const server = new MetricsHttpServer(registry);
		await new Promise<void>((resolve, reject) => {
			server.httpServer.once('error', reject);
			server.httpServer.listen(port, ip, () => {
				server.httpServer.off('error', reject);
				resolve();
			});
		});
		logger.debug('listening on %s', server.url);
		return server;
	}

	private constructor(registry: Registry) {
		this.#registry = registry;
		const app = express();
		app.disable('x-powered-by');
		app.get('/', (_req, res) => {
			res.type('html').send('<!doctype html><title>meter-sfu exporter</title><h1>meter-sfu exporter</h1><p><a href="metrics">Metrics</a></p>\n');
		});
		app.get('/metrics', (req, res) => {
			const openMetrics = (req.headers.accept ?? '').includes('application/openmetrics-text');
			(this.#registry as Registry<RegistryContentType>).setContentType(
				openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
			this.#registry.metrics().then(
				(body) => res.type(this.#registry.contentType).send(body),
				(error: Error) => {
					logger.error('scrape failed: %s', error.message);
					res.status(500).type('text/plain').send(`scrape failed: ${error.message}\n`);
				});
		});
		this.httpServer = http.createServer(app);
	}

	get url(): string {
		const { address, port, family } = this.httpServer.address() as AddressInfo;
		return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.httpServer.closeAllConnections();
		await new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
	}
}
