import type { Config } from '../config/configSchema.js';
import { Logger } from './base/Logger.js';
import { WorkerPool } from './sfu/WorkerPool.js';
import { AppHttpServer } from './http/AppHttpServer.js';
import { ExporterService } from './exporter/ExporterService.js';
import { MeetingServer } from './sfu/MeetingServer.js';
import { SignallingServer } from './signalling/SignallingServer.js';
import { requestHandlers } from './signalling/requestHandlers.js';
import { SfuObserver } from './observer/SfuObserver.js';
import { ObserverRequestHandler } from './stream/ObserverRequestHandler.js';
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
	readonly exporterService?: ExporterService;
	readonly meetingServer: MeetingServer;
	readonly signallingServer: SignallingServer;
	readonly sfuObserver: SfuObserver;
	readonly observerStreamServer: ObserverStreamServer;
	#closed = false;

	static async create({ config }: { config: Config }): Promise<Server> {
		const workerPool = await WorkerPool.create({
			numWorkers: config.mediasoup.numWorkers,
			settings: config.mediasoup.worker,
			webRtcServer: config.mediasoup.webRtcServer
		});
		let sfuObserver: SfuObserver | undefined;
		let appHttpServer: AppHttpServer | undefined;
		let exporterService: ExporterService | undefined;
		let meetingServer: MeetingServer | undefined;
		let signallingServer: SignallingServer | undefined;
		let observerStreamServer: ObserverStreamServer | undefined;
		try {
			appHttpServer = await AppHttpServer.create(config.listen);
			meetingServer = MeetingServer.create({ config, workerPool, methods: Object.keys(requestHandlers) });
			signallingServer = SignallingServer.create({
				httpServer: appHttpServer.httpServer,
				config,
				rooms: meetingServer,
				counters: meetingServer.counters
			});
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
				// The exporter reads the SFU only through the observer stream, as scripts/exporter does.
				exporterService = await ExporterService.create({
					socketPath: observerStreamServer.socketPath,
					ip: config.prometheus.listen,
					port: config.prometheus.port,
					options: config.prometheus
				});
			}
		} catch (error) {
			await exporterService?.close();
			await meetingServer?.close();
			signallingServer?.close();
			await observerStreamServer?.close();
			await appHttpServer?.close();
			sfuObserver?.close();
			workerPool.close();
			throw error;
		}
		return new Server({
			config,
			workerPool,
			appHttpServer,
			exporterService,
			meetingServer,
			signallingServer,
			sfuObserver,
			observerStreamServer
		});
	}

	private constructor({
		config,
		workerPool,
		appHttpServer,
		exporterService,
		meetingServer,
		signallingServer,
		sfuObserver,
		observerStreamServer
	}: {
		config: Config;
		workerPool: WorkerPool;
		appHttpServer: AppHttpServer;
		exporterService?: ExporterService;
		meetingServer: MeetingServer;
		signallingServer: SignallingServer;
		sfuObserver: SfuObserver;
		observerStreamServer: ObserverStreamServer;
	}) {
		this.config = config;
		this.workerPool = workerPool;
		this.appHttpServer = appHttpServer;
		this.exporterService = exporterService;
		this.meetingServer = meetingServer;
		this.signallingServer = signallingServer;
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
		return this.exporterService ? `${this.exporterService.url}/metrics` : undefined;
	}

	/**
	 * What the server holds right now, as the observer sees it plus routers as the workers
	 * themselves report them: all zero on an idle server (soak and fuzz check leaks with it).
	 */
	async objectCounts(): Promise<Record<string, number>> {
		const state = this.sfuObserver.state;
		const counts: Record<string, number> = {};
		for (const kind of ['rooms', 'peers', 'routers', 'transports', 'producers', 'consumers'] as const)
			counts[kind] = Object.keys(state[kind]).length;
		let workerRouters = 0;
		for (const worker of this.workerPool.workers) workerRouters += ((await worker.dump()) as { routerIds: string[] }).routerIds.length;
		counts.workerRouters = workerRouters;
		counts.meetingRooms = this.meetingServer.rooms.size;
		counts.connectedSockets = this.meetingServer.counters.snapshot().connectedSockets;
		return counts;
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		logger.debug('close()');
		// First: peers hear `roomClosed` while the sockets are still up.
		await this.meetingServer.close();
		this.signallingServer.close();
		await this.exporterService?.close();
		// The stream closes before the workers: its requests (getStats, dump, usage) use them.
		await this.observerStreamServer.close();
		await this.appHttpServer.close();
		this.sfuObserver.close();
		this.workerPool.close();
	}
}
