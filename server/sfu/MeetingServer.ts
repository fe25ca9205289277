import type { types as ms } from 'mediasoup';
import type { Config } from '../../config/configSchema.js';
import { Logger } from '../base/Logger.js';
import { TypedEmitter } from '../base/TypedEmitter.js';
import { RoomClosedError, ShuttingDownError } from '../base/errors.js';
import { MeetingCounters } from './MeetingCounters.js';
import { Room } from './Room.js';
import type { WorkerPool } from './WorkerPool.js';

const logger = new Logger('MeetingServer');

/** A room that closes while a join waits for it is re-created; a loop past this is a broken worker. */
const MAX_ROOM_ATTEMPTS = 3;

export type MeetingServerObserverEvents = {
	newroom: [Room];
};

/**
 * The meetings: rooms by id, each a Router on the least-loaded worker, and the counters of what
 * happens in them. Rooms of a worker that dies are closed with `roomClosed { reason: 'worker died' }`;
 * their peers may join again, on a healthy worker.
 */
export class MeetingServer {
	readonly observer = new TypedEmitter<MeetingServerObserverEvents>();
	readonly counters: MeetingCounters;
	readonly #config: Config;
	readonly #workerPool: WorkerPool;
	readonly #rooms = new Map<string, Room>();
	/** Rooms being created, so concurrent first joins share one router. */
	readonly #creating = new Map<string, Promise<Room>>();
	readonly #onWorkerDied: (event: { worker: ms.Worker; error: Error }) => void;
	#closed = false;

	/** `methods`: the signalling methods, counted from zero (MeetingCounters). */
	static create({ config, workerPool, methods }: { config: Config; workerPool: WorkerPool; methods: readonly string[] }): MeetingServer {
		return new MeetingServer({ config, workerPool, methods });
	}

	private constructor({ config, workerPool, methods }: { config: Config; workerPool: WorkerPool; methods: readonly string[] }) {
		this.#config = config;
		this.#workerPool = workerPool;
		this.counters = new MeetingCounters({ workerDeaths: () => workerPool.deaths, roomMaxPeers: config.room.maxPeers, methods });
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
			if (this.#closed) throw new ShuttingDownError('the server is shutting down');
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
		throw new RoomClosedError('the room kept closing while joining; try again');
	}

	/** Tells every peer the server is going away and closes the rooms. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		logger.debug('close()');
		this.#workerPool.off('workerdied', this.#onWorkerDied);
		// Rooms being created finish first, so none is left behind with a router.
		await Promise.allSettled([...this.#creating.values()]);
		for (const room of [...this.#rooms.values()]) room.close('server shutting down');
		this.#rooms.clear();
	}

	async #createRoom(roomId: string): Promise<Room> {
		const worker = this.#workerPool.leastLoadedWorker();
		const room = await Room.create({
			id: roomId,
			worker,
			webRtcServer: this.#workerPool.webRtcServerOf(worker),
			config: this.#config,
			counters: this.counters
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
