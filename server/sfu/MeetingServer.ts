import type http from 'node:http';
import { Server as SocketIoServer } from 'socket.io';
import type { types as ms } from 'mediasoup';
import type { Config } from '../../config/configSchema.js';
import { Logger } from '../Logger.js';
import { TypedEmitter } from '../TypedEmitter.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../signalling/contract.js';
import { ServerError } from '../signalling/RequestError.js';
import type { RoomDirectory } from '../signalling/RequestHandler.js';
import { RequestValidator } from '../signalling/RequestValidator.js';
import { SignallingSession } from '../signalling/SignallingSession.js';
import { requestHandlers } from '../signalling/requestHandlers.js';
import { MeetingCounters } from './MeetingCounters.js';
import { Room } from './Room.js';
import { NoWorkerError, type WorkerPool } from './WorkerPool.js';

const logger = new Logger('MeetingServer');

/** A room that closes while a join waits for it is re-created; a loop past this is a broken worker. */
const MAX_ROOM_ATTEMPTS = 3;

export type MeetingServerObserverEvents = {
	newroom: [Room];
};

/**
 * The meetings: rooms by id (each a Router on the least-loaded worker) and the socket.io
 * signalling on the app's HTTP server. Rooms of a worker that dies are closed with
 * `roomClosed { reason: 'worker died' }`; their peers may join again, on a healthy worker.
 */
export class MeetingServer implements RoomDirectory {
	readonly observer = new TypedEmitter<MeetingServerObserverEvents>();
	readonly counters: MeetingCounters;
	readonly #config: Config;
	readonly #workerPool: WorkerPool;
	readonly #io: SocketIoServer<ClientToServerEvents, ServerToClientEvents>;
	readonly #rooms = new Map<string, Room>();
	/** Rooms being created, so concurrent first joins share one router. */
	readonly #creating = new Map<string, Promise<Room>>();
	readonly #sessions = new Set<SignallingSession>();
	readonly #onWorkerDied: (event: { worker: ms.Worker; error: Error }) => void;
	#closed = false;

	static async create({ config, workerPool, httpServer }: { config: Config; workerPool: WorkerPool; httpServer: http.Server }): Promise<MeetingServer> {
		return new MeetingServer({ config, workerPool, httpServer });
	}

	private constructor({ config, workerPool, httpServer }: { config: Config; workerPool: WorkerPool; httpServer: http.Server }) {
		this.#config = config;
		this.#workerPool = workerPool;
		this.counters = new MeetingCounters({
			workerDeaths: () => workerPool.deaths, roomMaxPeers: config.room.maxPeers, methods: Object.keys(requestHandlers)
		});
		const validator = new RequestValidator(config.room);
		this.#io = new SocketIoServer<ClientToServerEvents, ServerToClientEvents>(httpServer, {
			maxHttpBufferSize: config.signalling.maxMessageBytes,
			// Browsers send Origin; refuse pages of other sites driving a visitor's browser here.
			allowRequest: (req, callback) => callback(null, sameOrigin(req))
		});
		this.#io.on('connection', (socket) => {
			if (this.#closed) {
				socket.disconnect(true);
				return;
			}
			const session = new SignallingSession({ socket, validator, counters: this.counters, rooms: this, config });
			this.#sessions.add(session);
			this.counters.socketConnected();
			socket.once('disconnect', () => {
				this.#sessions.delete(session);
				this.counters.socketDisconnected();
			});
		});
		this.#onWorkerDied = ({ worker }) => {
			for (const room of [...this.#rooms.values()]) {
				if (room.workerPid === worker.pid) room.close('worker died');
			}
		};
		workerPool.on('workerdied', this.#onWorkerDied);
	}

	get rooms(): ReadonlyMap<string, Room> {
		return this.#rooms;
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** The open room of that id, created on the least-loaded worker if there is none. */
	async getOrCreateRoom(roomId: string): Promise<Room> {
		for (let attempt = 0; attempt < MAX_ROOM_ATTEMPTS; attempt++) {
			if (this.#closed) throw new ServerError('the server is shutting down');
			const existing = this.#rooms.get(roomId);
			if (existing && !existing.closed) return existing;
			let creating = this.#creating.get(roomId);
			if (!creating) {
				creating = this.#createRoom(roomId).finally(() => this.#creating.delete(roomId));
				this.#creating.set(roomId, creating);
			}
			const room = await creating;
			if (!room.closed) return room;
		}
		throw new ServerError('the room kept closing while joining; try again');
	}

	/** Tells every peer the server is going away, closes the rooms, disconnects the sockets. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		logger.debug('close()');
		this.#workerPool.off('workerdied', this.#onWorkerDied);
		// Rooms being created finish first, so none is left behind with a router.
		await Promise.allSettled([...this.#creating.values()]);
		for (const room of [...this.#rooms.values()]) room.close('server shutting down');
		this.#rooms.clear();
		// Not io.close(): it would also close the HTTP server, which AppHttpServer owns.
		this.#io.disconnectSockets(true);
		this.#io.engine.close();
		for (const session of this.#sessions) session.close();
		this.#sessions.clear();
	}

	async #createRoom(roomId: string): Promise<Room> {
		let worker: ms.Worker;
		try {
			worker = this.#workerPool.leastLoadedWorker();
		} catch (error) {
			if (error instanceof NoWorkerError) throw new ServerError('no media worker is running; try again shortly');
			throw error;
		}
		const room = await Room.create({
			id: roomId, worker, webRtcServer: this.#workerPool.webRtcServerOf(worker), config: this.#config, counters: this.counters
		});
		if (this.#closed) {
			room.close('server shutting down');
			return room;
		}
		this.#rooms.set(roomId, room);
		this.counters.event('roomsCreated');
		room.once('@close', () => {
			if (this.#rooms.get(roomId) === room) this.#rooms.delete(roomId);
			this.counters.event('roomsClosed');
		});
		logger.debug('room created [roomId:%s, workerPid:%d]', roomId, worker.pid);
		this.observer.emit('newroom', room);
		return room;
	}
}

/** No Origin header (non-browser clients) or an Origin whose host is the Host the request went to. */
function sameOrigin(req: http.IncomingMessage): boolean {
	const origin = req.headers.origin;
	if (origin === undefined) return true;
	try {
		return new URL(origin).host === req.headers.host;
	} catch {
		return false;
	}
}
