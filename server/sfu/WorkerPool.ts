import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { Logger } from '../base/Logger.js';
import { TypedEmitter } from '../base/TypedEmitter.js';
import type { Config } from '../../config/configSchema.js';
import { NoWorkerError } from '../base/errors.js';

const logger = new Logger('WorkerPool');

/** Delay before replacing a dead worker, so a worker that dies at start-up cannot spin the CPU. */
const RESPAWN_DELAY_MS = 200;

export type WorkerPoolObserverEvents = {
	newworker: [ms.Worker];
	/** A worker died (not closed by us); it is replaced after a short delay. */
	workerdied: [{ worker: ms.Worker; error: Error }];
	close: [];
};

export type WorkerPoolEvents = {
	/** Same as the observer's: rooms on the dead worker are the Server's to recover. */
	workerdied: [{ worker: ms.Worker; error: Error }];
};

type WorkerSettings = Config['mediasoup']['worker'];
type WebRtcServerSettings = Config['mediasoup']['webRtcServer'];

/**
 * N mediasoup workers, each with its WebRtcServer (unless opted out) so that all of a worker's
 * browser transports share one UDP and one TCP port: worker slot i listens on the configured port
 * + i, and a replacement takes its slot's port again. A worker that dies is logged, counted and
 * replaced; rooms go to the least-loaded worker (fewest transports, then fewest routers).
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
	readonly #settings: WorkerSettings;
	readonly #webRtcServerSettings: WebRtcServerSettings;
	readonly #workers = new Map<number, ms.Worker>();
	readonly #webRtcServers = new Map<number, ms.WebRtcServer>();
	/** Load bookkeeping per worker pid, fed by the workers' own observers. */
	readonly #load = new Map<number, { routers: number; transports: number }>();
	readonly #respawnTimers = new Set<NodeJS.Timeout>();
	#deaths = 0;
	#closed = false;
	readonly observer = new TypedEmitter<WorkerPoolObserverEvents>();

	/** `webRtcServer` null: no WebRtcServer, each WebRTC transport takes its own port from the worker's range. */
	static async create({
		numWorkers,
		settings,
		webRtcServer = null
	}: {
		numWorkers: number;
		settings: WorkerSettings;
		webRtcServer?: WebRtcServerSettings;
	}): Promise<WorkerPool> {
		if (!Number.isInteger(numWorkers) || numWorkers < 1) throw new TypeError('numWorkers must be a positive integer');
		const pool = new WorkerPool(settings, webRtcServer);
		try {
			for (let slot = 0; slot < numWorkers; slot++) await pool.#spawn(slot);
		} catch (error) {
			pool.close();
			throw error;
		}
		logger.debug('created %d workers', numWorkers);
		return pool;
	}

	private constructor(settings: WorkerSettings, webRtcServer: WebRtcServerSettings) {
		super();
		this.#settings = settings;
		this.#webRtcServerSettings = webRtcServer;
	}

	get workers(): ms.Worker[] {
		return [...this.#workers.values()];
	}

	/** Workers that died since start (closed ones are not counted). */
	get deaths(): number {
		return this.#deaths;
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** The worker's WebRtcServer, where browser transports on it listen; undefined when opted out. */
	webRtcServerOf(worker: ms.Worker): ms.WebRtcServer | undefined {
		return this.#webRtcServers.get(worker.pid);
	}

	loadOf(worker: ms.Worker): { routers: number; transports: number } {
		return { ...(this.#load.get(worker.pid) ?? { routers: 0, transports: 0 }) };
	}

	leastLoadedWorker(): ms.Worker {
		let best: ms.Worker | undefined;
		let bestLoad = { routers: Infinity, transports: Infinity };
		for (const worker of this.#workers.values()) {
			const load = this.#load.get(worker.pid)!;
			if (load.transports < bestLoad.transports || (load.transports === bestLoad.transports && load.routers < bestLoad.routers)) {
				best = worker;
				bestLoad = load;
			}
		}
		if (!best) throw new NoWorkerError('no media worker is running; try again shortly');
		return best;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const timer of this.#respawnTimers) clearTimeout(timer);
		this.#respawnTimers.clear();
		for (const worker of this.#workers.values()) worker.close();
		this.#workers.clear();
		this.#webRtcServers.clear();
		this.#load.clear();
		this.observer.emit('close');
	}

	async #spawn(slot: number): Promise<ms.Worker> {
		const worker = await mediasoup.createWorker({
			logLevel: this.#settings.logLevel,
			logTags: this.#settings.logTags as ms.WorkerLogTag[],
			rtcMinPort: this.#settings.rtcMinPort,
			rtcMaxPort: this.#settings.rtcMaxPort,
			appData: { slot }
		});
		let webRtcServer: ms.WebRtcServer | undefined;
		try {
			if (this.#webRtcServerSettings)
				webRtcServer = await worker.createWebRtcServer(webRtcServerOptions(this.#webRtcServerSettings, slot));
		} catch (error) {
			worker.close();
			throw new Error(`worker ${slot}: cannot listen for media: ${(error as Error).message}`, { cause: error });
		}
		if (this.#closed) {
			worker.close();
			throw new NoWorkerError('pool closed while a worker was starting');
		}
		const load = { routers: 0, transports: 0 };
		this.#workers.set(worker.pid, worker);
		if (webRtcServer) this.#webRtcServers.set(worker.pid, webRtcServer);
		this.#load.set(worker.pid, load);
		worker.observer.on('newrouter', (router: ms.Router) => {
			load.routers++;
			router.observer.on('newtransport', (transport: ms.Transport) => {
				load.transports++;
				transport.observer.on('close', () => load.transports--);
			});
			router.observer.on('close', () => load.routers--);
		});
		worker.on('died', (error: Error) => this.#onDied(worker, slot, error));
		logger.debug('worker started [pid:%d, slot:%d]', worker.pid, slot);
		this.observer.emit('newworker', worker);
		return worker;
	}

	#onDied(worker: ms.Worker, slot: number, error: Error): void {
		if (this.#closed) return;
		this.#deaths++;
		this.#workers.delete(worker.pid);
		this.#webRtcServers.delete(worker.pid);
		this.#load.delete(worker.pid);
		logger.error('worker died [pid:%d]: %s; replacing it', worker.pid, error.message);
		this.observer.emit('workerdied', { worker, error });
		this.emit('workerdied', { worker, error });
		const timer = setTimeout(() => {
			this.#respawnTimers.delete(timer);
			this.#spawn(slot).catch((err: Error) => {
				if (!this.#closed) logger.error('could not replace worker: %s', err.message);
			});
		}, RESPAWN_DELAY_MS);
		this.#respawnTimers.add(timer);
	}
}

/** Slot i listens on each configured port + i (port 0 stays 0: any free port of the worker's range). */
function webRtcServerOptions(settings: NonNullable<WebRtcServerSettings>, slot: number): ms.WebRtcServerOptions {
	return {
		listenInfos: settings.listenInfos.map(({ protocol, ip, announcedIp, port }) => ({
			protocol,
			ip,
			...(announcedIp ? { announcedIp } : {}),
			port: port === 0 ? 0 : port + slot
		})),
		appData: { slot }
	};
}
