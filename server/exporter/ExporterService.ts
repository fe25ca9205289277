import { Logger } from '../base/Logger.js';
import { ObserverStreamClient } from '../stream/ObserverStreamClient.js';
import { Exporter } from './Exporter.js';
import type { ExporterOptions } from './ExporterOptions.js';
import { MetricsHttpServer } from './MetricsHttpServer.js';
import { MetricsAccessControl } from './http/MetricsAccessControl.js';
import { TlsCredentials } from './http/TlsCredentials.js';
import type { ReverseDnsCache } from './labels/ReverseDnsCache.js';

const logger = new Logger('ExporterService');

export type ExporterServiceOptions = {
	/** The server's observer stream socket. */
	socketPath: string;
	ip: string;
	port: number;
	options: ExporterOptions;
	/**
	 * Fail if the stream cannot be reached now (embedded: the stream server is up). Otherwise serve
	 * anyway, with meter_sfu_exporter_up 0, and keep trying (scripts/exporter started first).
	 */
	requireConnection?: boolean;
	dns?: ReverseDnsCache;
};

/**
 * The exporter as a unit: an ObserverStreamClient (reconnecting) on the server's Unix socket, the
 * Exporter reading only through it, and the HTTP endpoint. The server embeds one; scripts/exporter
 * runs the same in a process of its own.
 */
export class ExporterService {
	readonly client: ObserverStreamClient;
	readonly exporter: Exporter;
	readonly httpServer: MetricsHttpServer;
	#closed = false;

	static async create({
		socketPath,
		ip,
		port,
		options,
		requireConnection = true,
		dns
	}: ExporterServiceOptions): Promise<ExporterService> {
		// Requests end with the scrape anyway; the client's own timeout is only a backstop.
		const client = new ObserverStreamClient({ socketPath, autoReconnect: true, requestTimeoutMs: options.scrapeTimeoutMs + 1000 });
		const exporter = new Exporter({ source: client, options, dns });
		try {
			try {
				await client.connect();
			} catch (error) {
				if (requireConnection) throw error;
				logger.warn('observer stream %s not reachable yet (%s); retrying in the background', socketPath, (error as Error).message);
			}
			const access = await MetricsAccessControl.create({ options, listenIp: ip });
			const tls = TlsCredentials.fromOptions(options.tls);
			const httpServer = await MetricsHttpServer.create({ ip, port, exporter, access, tls, overview: exporter });
			return new ExporterService(client, exporter, httpServer);
		} catch (error) {
			exporter.close();
			client.close();
			throw error;
		}
	}

	private constructor(client: ObserverStreamClient, exporter: Exporter, httpServer: MetricsHttpServer) {
		this.client = client;
		this.exporter = exporter;
		this.httpServer = httpServer;
	}

	/** Base URL of the HTTP endpoint (append /metrics). */
	get url(): string {
		return this.httpServer.url;
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await this.httpServer.close();
		this.exporter.close();
		this.client.close();
	}
}
