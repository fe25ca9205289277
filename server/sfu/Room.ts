import type { types as ms } from 'mediasoup';
import type { Config } from '../../config/configSchema.js';
import type { NotificationMessage, RtpCapabilities } from '../contract/signalling.js';
import { RoomCapacityError, RoomClosedError } from '../base/errors.js';
import { Logger } from '../base/Logger.js';
import { TypedEmitter } from '../base/TypedEmitter.js';
import type { MeetingCounters } from './MeetingCounters.js';
import { Peer } from './Peer.js';

const logger = new Logger('Room');

/** How often the active-speaker observer re-evaluates, in ms (mediasoup's default is 300). */
const ACTIVE_SPEAKER_INTERVAL_MS = 300;

export type ActiveSpeaker = { peerId: string | null; producerId: string | null };

/** For the MeetingServer (its parent). */
export type RoomEvents = {
	'@close': [];
};

export type RoomObserverEvents = {
	newpeer: [Peer];
	activespeaker: [ActiveSpeaker];
	close: [];
};

export type RoomOptions = {
	id: string;
	worker: ms.Worker;
	/** The worker's WebRtcServer, on which the peers' WebRTC transports listen (undefined: a port each). */
	webRtcServer: ms.WebRtcServer | undefined;
	config: Pick<Config, 'room' | 'mediasoup'>;
	counters: MeetingCounters;
};

/**
 * A meeting: one mediasoup Router on one worker, with an active-speaker observer over the audio
 * producers. Every producer is consumed by every other peer that can receive it. An empty room
 * stays open for `room.emptyRoomGraceSeconds` (so a reload keeps the router), then closes.
 */
export class Room extends TypedEmitter<RoomEvents> {
	readonly id: string;
	readonly router: ms.Router;
	readonly workerPid: number;
	readonly createdAt = Date.now();
	readonly observer = new TypedEmitter<RoomObserverEvents>();
	readonly #activeSpeakerObserver: ms.ActiveSpeakerObserver;
	readonly #webRtcServer: ms.WebRtcServer | undefined;
	readonly #config: RoomOptions['config'];
	readonly #counters: MeetingCounters;
	readonly #peers = new Map<string, Peer>();
	#activeSpeaker: ActiveSpeaker = { peerId: null, producerId: null };
	#graceTimer: NodeJS.Timeout | undefined;
	#closed = false;

	static async create({ id, worker, webRtcServer, config, counters }: RoomOptions): Promise<Room> {
		const router = await worker.createRouter({
			// The schema checks the fields it knows; mediasoup validates the rest of each codec.
			mediaCodecs: config.mediasoup.router.mediaCodecs as ms.RtpCodecCapability[],
			appData: { roomId: id }
		});
		let activeSpeakerObserver: ms.ActiveSpeakerObserver;
		try {
			activeSpeakerObserver = await router.createActiveSpeakerObserver({
				interval: ACTIVE_SPEAKER_INTERVAL_MS,
				appData: { roomId: id }
			});
		} catch (error) {
			router.close();
			throw error;
		}
		return new Room({ id, router, workerPid: worker.pid, activeSpeakerObserver, webRtcServer, config, counters });
	}

	private constructor({
		id,
		router,
		workerPid,
		activeSpeakerObserver,
		webRtcServer,
		config,
		counters
	}: {
		id: string;
		router: ms.Router;
		workerPid: number;
		activeSpeakerObserver: ms.ActiveSpeakerObserver;
		webRtcServer: ms.WebRtcServer | undefined;
		config: RoomOptions['config'];
		counters: MeetingCounters;
	}) {
		super();
		this.id = id;
		this.router = router;
		this.workerPid = workerPid;
		this.#activeSpeakerObserver = activeSpeakerObserver;
		this.#webRtcServer = webRtcServer;
		this.#config = config;
		this.#counters = counters;
		activeSpeakerObserver.on('dominantspeaker', ({ producer }: ms.ActiveSpeakerObserverDominantSpeaker) => {
			this.#setActiveSpeaker({ peerId: (producer.appData as { peerId: string }).peerId, producerId: producer.id });
		});
		// Normally the MeetingServer closes rooms of a dead worker first; this covers any other path.
		router.on('workerclose', () => this.close('worker died'));
		// A room nobody joins (e.g. only getRouterRtpCapabilities was asked) must not live forever.
		this.#scheduleGraceClose();
	}

	get peers(): ReadonlyMap<string, Peer> {
		return this.#peers;
	}

	get closed(): boolean {
		return this.#closed;
	}

	get activeSpeaker(): ActiveSpeaker {
		return { ...this.#activeSpeaker };
	}

	/**
	 * Adds a peer (synchronously, so the peer limit holds under concurrent joins) and tells the
	 * others. Consumers for existing producers follow once the peer has a recv transport.
	 */
	join({
		displayName,
		rtpCapabilities,
		userAgent,
		notify
	}: {
		displayName: string;
		rtpCapabilities: RtpCapabilities;
		userAgent: string;
		notify: (message: NotificationMessage) => void;
	}): Peer {
		if (this.#closed) throw new RoomClosedError('the room closed; join again');
		const { maxPeers } = this.#config.room;
		if (this.#peers.size >= maxPeers) throw new RoomCapacityError(`the room is full (${maxPeers} peers)`);
		clearTimeout(this.#graceTimer);
		this.#graceTimer = undefined;
		const peer = Peer.create({
			roomId: this.id,
			displayName,
			userAgent,
			rtpCapabilities,
			router: this.router,
			webRtcServer: this.#webRtcServer,
			webRtcTransportSettings: this.#config.mediasoup.webRtcTransport,
			counters: this.#counters,
			notify
		});
		this.#peers.set(peer.id, peer);
		peer.on('@newproducer', (producer) => this.#onNewProducer(peer, producer));
		peer.on('@recvtransportready', () => this.#consumeAllFor(peer));
		peer.on('@close', () => this.#onPeerClose(peer));
		this.#counters.event('joins');
		logger.debug('peer joined [roomId:%s, peerId:%s, peers:%d]', this.id, peer.id, this.#peers.size);
		for (const other of this.#peers.values()) {
			if (other !== peer) other.notify('peerJoined', { id: peer.id, displayName: peer.displayName });
		}
		this.observer.emit('newpeer', peer);
		return peer;
	}

	/** Closes every peer (telling each why), then the router. Safe to call twice. */
	close(reason = 'closed'): void {
		if (this.#closed) return;
		this.#closed = true;
		logger.debug('close() [roomId:%s, reason:%s]', this.id, reason);
		clearTimeout(this.#graceTimer);
		this.#graceTimer = undefined;
		for (const peer of [...this.#peers.values()]) {
			peer.notify('roomClosed', { reason });
			peer.close();
		}
		this.#peers.clear();
		this.router.close();
		this.emit('@close');
		this.observer.emit('close');
	}

	#onNewProducer(peer: Peer, producer: ms.Producer): void {
		if (producer.kind === 'audio') {
			this.#activeSpeakerObserver.addProducer({ producerId: producer.id }).catch((error: Error) => {
				if (!producer.closed && !this.#closed)
					logger.warn('addProducer() to the active-speaker observer failed: %s', error.message);
			});
			producer.observer.once('close', () => {
				if (this.#activeSpeaker.producerId === producer.id && !this.#closed)
					this.#setActiveSpeaker({ peerId: null, producerId: null });
			});
		}
		for (const other of this.#peers.values()) {
			if (other !== peer) void other.consume(producer, peer.id);
		}
	}

	#consumeAllFor(peer: Peer): void {
		for (const other of this.#peers.values()) {
			if (other === peer) continue;
			for (const producer of other.producers.values()) void peer.consume(producer, other.id);
		}
	}

	#onPeerClose(peer: Peer): void {
		this.#peers.delete(peer.id);
		this.#counters.event('leaves');
		if (this.#closed) return;
		logger.debug('peer left [roomId:%s, peerId:%s, peers:%d]', this.id, peer.id, this.#peers.size);
		for (const other of this.#peers.values()) other.notify('peerLeft', { peerId: peer.id });
		if (this.#peers.size === 0) this.#scheduleGraceClose();
	}

	#scheduleGraceClose(): void {
		clearTimeout(this.#graceTimer);
		this.#graceTimer = setTimeout(() => this.close('empty'), this.#config.room.emptyRoomGraceSeconds * 1000);
		// Shutdown closes rooms explicitly; a pending grace period must not keep the process alive.
		this.#graceTimer.unref();
	}

	#setActiveSpeaker(speaker: ActiveSpeaker): void {
		if (speaker.producerId === this.#activeSpeaker.producerId) return;
		this.#activeSpeaker = speaker;
		this.#counters.event('activeSpeakerChanges');
		for (const peer of this.#peers.values()) peer.notify('activeSpeaker', { ...speaker });
		this.observer.emit('activespeaker', { ...speaker });
	}
}
