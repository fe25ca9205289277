import { Registry, collectDefaultMetrics, Gauge, Counter } from 'prom-client';
import type { Config } from '../config/configSchema.js';
import { Logger } from './Logger.js';
import { WorkerPool } from './sfu/WorkerPool.js';
import { AppHttpServer } from './http/AppHttpServer.js';
import { MetricsHttpServer } from './exporter/MetricsHttpServer.js';
import { MeetingServer } from './sfu/MeetingServer.js';
import { SfuObserver } from './observer/SfuObserver.js';
import { ObserverRequestHandler } from './observer/ObserverRequestHandler.js';
import { ObserverStreamServer } from './stream/ObserverStreamServer.js';

const logger = new Logger('Server');

/**
 * The composition root: worker pool, meeting app and signalling, observer stream, exporter.
 * `close()` shuts everything down in reverse order and is safe to call twice.
 */
export class Server {
	readonly config: Config;
	readonly workerPool: WorkerPool;
	readonly appHttpServer: AppHttpServer;
	readonly metricsHttpServer?: MetricsHttpServer;
	readonly meetingServer: MeetingServer;
	readonly sfuObserver: SfuObserver;
	readonly observerStreamServer: ObserverStreamServer;
	#closed = false;

	static async create({ config }: { config: Config }): Promise<Server> {
		const workerPool = await WorkerPool.create({ numWorkers: config.mediasoup.numWorkers, settings: config.mediasoup.worker });
		let sfuObserver: SfuObserver | undefined;
		let appHttpServer: AppHttpServer | undefined;
		let metricsHttpServer: MetricsHttpServer | undefined;
		let meetingServer: MeetingServer | undefined;
		let observerStreamServer: ObserverStreamServer | undefined;
		try {
			appHttpServer = await AppHttpServer.create(config.listen);
			meetingServer = await MeetingServer.create({ config, workerPool, httpServer: appHttpServer.httpServer });
			// Before any router exists (rooms come with the first join): mediasoup cannot list a
			// worker's routers after the fact.
			sfuObserver = new SfuObserver({ workerPool, meetingServer });
			observerStreamServer = await ObserverStreamServer.create({
				socketPath: config.observer.socketPath,
				sfuObserver,
				requestHandler: new ObserverRequestHandler({ sfuObserver }),
				maxClientBacklogBytes: config.observer.maxClientBacklogBytes
			});
			if (config.prometheus.enabled) {
				metricsHttpServer = await MetricsHttpServer.create({
					ip: config.prometheus.listen, port: config.prometheus.port, registry: minimalRegistry(workerPool)
				});
			}
		} catch (error) {
			await meetingServer?.close();
			await observerStreamServer?.close();
			await appHttpServer?.close();
			sfuObserver?.close();
			workerPool.close();
			throw error;
		}
		return new Server({ config, workerPool, appHttpServer, metricsHttpServer, meetingServer, sfuObserver, observerStreamServer });
	}

	private constructor({ config, workerPool, appHttpServer, metricsHttpServer, meetingServer, sfuObserver, observerStreamServer }: {
		config: Config; workerPool: WorkerPool; appHttpServer: AppHttpServer; metricsHttpServer?: MetricsHttpServer;
		meetingServer: MeetingServer;
		sfuObserver: SfuObserver; observerStreamServer: ObserverStreamServer;
	}) {
		this.config = config;
		this.workerPool = workerPool;
		this.appHttpServer = appHttpServer;
		this.metricsHttpServer = metricsHttpServer;
		this.meetingServer = meetingServer;
		this.sfuObserver = sfuObserver;
		this.observerStreamServer = observerStreamServer;
	}

	/** The observer stream's Unix socket (absolute path). */
	get observerSocketPath(): string {
		return this.observerStreamServer.socketPath;
	}

	get appUrl(): string {
		return this.appHttpServer.url;
	}

	get metricsUrl(): string | undefined {
		return this.metricsHttpServer ? `${this.metricsHttpServer.url}/metrics` : undefined;
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		logger.debug('close()');
		// First: peers hear `roomClosed` while the sockets are still up.
		await this.meetingServer.close();
		await this.metricsHttpServer?.close();
		// The stream goes before the workers, so clients see no flood of removals on the way out.
		await this.observerStreamServer.close();
		await this.appHttpServer.close();
		this.sfuObserver.close();
		this.workerPool.close();
	}
}

/** Stand-in until the exporter: process metrics plus worker counts. */
function minimalRegistry(workerPool: WorkerPool): Registry {
	const registry = new Registry();
	collectDefaultMetrics({ register: registry });
	// Gauges named *_total fail `promtool check metrics`.
	for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
		registry.removeSingleMetric(name);
	}
	new Gauge({
		name: 'mediasoup_workers', help: 'mediasoup workers running', registers: [registry],
		collect() { this.set(workerPool.workers.length); }
	});
	new Counter({
		name: 'mediasoup_worker_deaths_total', help: 'mediasoup workers that died', registers: [registry],
		collect() { this.reset(); this.inc(workerPool.deaths); }
	});
	return registry;
}
