import type { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { Logger } from '../base/Logger.js';
import { TypedEmitter } from '../base/TypedEmitter.js';
import {
	emptyState,
	copyState,
	applyStateChange,
	collectionOf,
	type ObservedState,
	type EntityKind,
	type EntityKinds,
	type StateChange,
	type TupleRecord,
	type ProducerScoreRecord,
	type ConsumerRecord,
	type TransportRecord,
	type ListenRecord
} from './ObservedState.js';
import type { ObservedMeetingServer, ObservedPeer, ObservedRoom, ObservedWorkerPool, ActiveSpeaker } from './ObservedSources.js';

const logger = new Logger('SfuObserver');

export type SfuObserverEvents = {
	/** One change to the state, emitted after it is applied. */
	change: [StateChange];
	close: [];
};

/** The mediasoup objects the observer can look up by id (workers by pid, as a string). */
export type MediasoupObjects = {
	worker: ms.Worker;
	webRtcServer: ms.WebRtcServer;
	router: ms.Router;
	transport: ms.Transport;
	producer: ms.Producer;
	consumer: ms.Consumer;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

/**
 * Follows the worker pool, every worker's routers, transports, producers and consumers through
 * mediasoup's `observer` emitters, and the meeting server's rooms and peers through theirs, into one
 * ObservedState. Emits a `change` for every add, update and remove, in the order they happen.
 *
 * It must be created before the first router exists: mediasoup has no public way to list a
 * worker's routers, so a router created earlier would go unseen.
 *
 * Two facts mediasoup announces with no event, so they are re-read on the object's next
 * event and by refresh() (which the stream runs before every snapshot):
 * - a PlainTransport's tuple after connect();
 * - a consumer's own `paused` when pause()/resume() is called while its producer is paused (the
 *   observer's pause/resume follow `paused || producerPaused`). The effective state is always right;
 *   `paused` alone may lag until the producer resumes.
 */
export class SfuObserver extends TypedEmitter<SfuObserverEvents> {
	readonly #state: ObservedState = emptyState();
	readonly #objects: { [K in keyof MediasoupObjects]: Map<string, MediasoupObjects[K]> } = {
		worker: new Map(),
		webRtcServer: new Map(),
		router: new Map(),
		transport: new Map(),
		producer: new Map(),
		consumer: new Map()
	};
	/** Listener removers per observed emitter, run on close() (dead emitters just drop theirs). */
	readonly #disposers = new Map<object, (() => void)[]>();
	readonly #meetingServer?: ObservedMeetingServer;
	#closed = false;

	constructor({ workerPool, meetingServer }: { workerPool: ObservedWorkerPool; meetingServer?: ObservedMeetingServer }) {
		super();
		this.#meetingServer = meetingServer;
		this.#listen(workerPool.observer, 'newworker', (worker: ms.Worker) => this.#addWorker(worker, workerPool));
		for (const worker of workerPool.workers) this.#addWorker(worker, workerPool);
		if (meetingServer) {
			this.#listen(meetingServer.observer, 'newroom', (room: ObservedRoom) => this.#addRoom(room));
			for (const room of meetingServer.rooms.values()) this.#addRoom(room);
		}
	}

	/** The live state. Do not change it; records are replaced (never mutated) on update. */
	get state(): Readonly<ObservedState> {
		return this.#state;
	}

	get meetingServer(): ObservedMeetingServer | undefined {
		return this.#meetingServer;
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** A copy of the state, safe to keep while the state moves on. */
	snapshot(): ObservedState {
		return copyState(this.#state);
	}

	/** Re-reads what mediasoup may have changed silently (see the class comment); emits the updates. */
	refresh(): void {
		for (const id of this.#objects.transport.keys()) this.#refreshTransport(id);
		for (const id of this.#objects.consumer.keys()) this.#refreshConsumer(id);
	}

	/** The live mediasoup object with this id, in O(1). */
	lookup<K extends keyof MediasoupObjects>(entity: K, id: string): MediasoupObjects[K] | undefined {
		return this.#objects[entity].get(id) as MediasoupObjects[K] | undefined;
	}

	workers(): ms.Worker[] {
		return [...this.#objects.worker.values()];
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const disposers of this.#disposers.values()) for (const dispose of disposers) dispose();
		this.#disposers.clear();
		for (const map of Object.values(this.#objects)) map.clear();
		this.emit('close');
	}

	/** Listens on a mediasoup or TypedEmitter observer (both are node EventEmitters). */
	#listen(emitter: EventEmitter, event: string, fn: Listener): void {
		emitter.on(event, fn);
		let list = this.#disposers.get(emitter);
		if (!list) this.#disposers.set(emitter, (list = []));
		list.push(() => emitter.off(event, fn));
	}

	#forget(emitter: object): void {
		this.#disposers.delete(emitter);
	}

	#get<K extends EntityKind>(entity: K, id: string): EntityKinds[K] | undefined {
		return (this.#state[collectionOf(entity)] as Record<string, EntityKinds[K]>)[id];
	}

	#apply(change: StateChange): void {
		if (this.#closed) return;
		applyStateChange(this.#state, change);
		this.emit('change', change);
	}

	#add<K extends EntityKind>(entity: K, id: string, record: EntityKinds[K]): void {
		if (this.#get(entity, id)) logger.warn('%s %s seen twice; the later one wins', entity, id);
		this.#apply({ op: 'add', entity, id, record } as StateChange);
	}

	/** Replaces the record with the patched copy; nothing is emitted when no field changes. */
	#update<K extends EntityKind>(entity: K, id: string, patch: Partial<EntityKinds[K]>): void {
		const old = this.#get(entity, id);
		if (!old) return;
		const changed = (Object.keys(patch) as (keyof EntityKinds[K])[]).some(
			(key) => JSON.stringify(old[key]) !== JSON.stringify(patch[key])
		);
		if (!changed) return;
		this.#apply({ op: 'update', entity, id, record: { ...old, ...patch } } as StateChange);
	}

	#remove(entity: EntityKind, id: string): void {
		if (!this.#get(entity, id)) return;
		this.#apply({ op: 'remove', entity, id } as StateChange);
	}

	#addWorker(worker: ms.Worker, workerPool: ObservedWorkerPool): void {
		if (this.#closed || worker.closed) return;
		const id = String(worker.pid);
		if (this.#objects.worker.has(id)) return;
		this.#objects.worker.set(id, worker);
		this.#add('worker', id, { pid: worker.pid, startedAt: Date.now() });
		this.#listen(worker.observer, 'newrouter', (router: ms.Router) => this.#addRouter(router, worker.pid));
		// The pool makes a worker's WebRtcServer before announcing the worker, so it is asked for it.
		this.#listen(worker.observer, 'newwebrtcserver', (server: ms.WebRtcServer) => this.#addWebRtcServer(server, worker.pid));
		const server = workerPool.webRtcServerOf(worker);
		if (server) this.#addWebRtcServer(server, worker.pid);
		this.#listen(worker.observer, 'close', () => {
			this.#objects.worker.delete(id);
			this.#forget(worker.observer);
			this.#remove('worker', id);
		});
	}

	#addWebRtcServer(server: ms.WebRtcServer, workerPid: number): void {
		const id = server.id;
		if (this.#closed || server.closed || this.#objects.webRtcServer.has(id)) return;
		this.#objects.webRtcServer.set(id, server);
		this.#add('webRtcServer', id, { id, workerPid, listenInfos: [], transports: 0, createdAt: Date.now() });
		// Only the worker knows the ports it got (a port of 0 asks for any free one).
		server.dump().then(
			(dump: unknown) => this.#update('webRtcServer', id, { listenInfos: listenRecords(dump) }),
			(error: Error) => {
				if (!server.closed) logger.warn('WebRtcServer %s: dump() failed: %s', id, error.message);
			}
		);
		const count = (delta: number): void => {
			const old = this.#get('webRtcServer', id);
			if (old) this.#update('webRtcServer', id, { transports: old.transports + delta });
		};
		this.#listen(server.observer, 'webrtctransporthandled', () => count(1));
		this.#listen(server.observer, 'webrtctransportunhandled', () => count(-1));
		this.#listen(server.observer, 'close', () => {
			this.#objects.webRtcServer.delete(id);
			this.#forget(server.observer);
			this.#remove('webRtcServer', id);
		});
	}

	#addRouter(router: ms.Router, workerPid: number): void {
		const id = router.id;
		this.#objects.router.set(id, router);
		this.#add('router', id, { id, workerPid, roomId: stringOrNull(router.appData.roomId), createdAt: Date.now() });
		this.#listen(router.observer, 'newtransport', (transport: ms.Transport) => this.#addTransport(transport, id));
		this.#listen(router.observer, 'close', () => {
			this.#objects.router.delete(id);
			this.#forget(router.observer);
			this.#remove('router', id);
		});
	}

	#addTransport(transport: ms.Transport, routerId: string): void {
		const id = transport.id;
		const appData = transport.appData;
		const direction = appData.direction === 'send' || appData.direction === 'recv' ? appData.direction : null;
		this.#objects.transport.set(id, transport);
		this.#add('transport', id, {
			id,
			type: transportType(transport),
			routerId,
			roomId: stringOrNull(appData.roomId) ?? this.#get('router', routerId)?.roomId ?? null,
			peerId: stringOrNull(appData.peerId),
			direction,
			...transportState(transport),
			createdAt: Date.now()
		});
		const refresh = (): void => this.#update('transport', id, transportState(transport));
		for (const event of ['icestatechange', 'dtlsstatechange', 'iceselectedtuplechange', 'tuple']) {
			this.#listen(transport.observer, event, refresh);
		}
		this.#listen(transport.observer, 'newproducer', (producer: ms.Producer) => {
			refresh();
			this.#addProducer(producer, id);
		});
		this.#listen(transport.observer, 'newconsumer', (consumer: ms.Consumer) => {
			refresh();
			this.#addConsumer(consumer, id);
		});
		this.#listen(transport.observer, 'close', () => {
			this.#objects.transport.delete(id);
			this.#forget(transport.observer);
			this.#remove('transport', id);
		});
	}

	/** Re-reads the transport's tuple (see the class comment on PlainTransport.connect()). */
	#refreshTransport(transportId: string): void {
		const transport = this.#objects.transport.get(transportId);
		if (transport && !transport.closed) this.#update('transport', transportId, transportState(transport));
	}

	#addProducer(producer: ms.Producer, transportId: string): void {
		const id = producer.id;
		const transport = this.#get('transport', transportId);
		this.#objects.producer.set(id, producer);
		this.#add('producer', id, {
			id,
			...streamOwner(producer.appData, transportId, transport),
			kind: producer.kind,
			type: producer.type,
			mimeType: producer.rtpParameters.codecs[0]?.mimeType ?? '',
			clockRate: producer.rtpParameters.codecs[0]?.clockRate ?? 0,
			paused: producer.paused,
			score: producerScores(producer.score),
			createdAt: Date.now()
		});
		const onPause = (): void => this.#update('producer', id, { paused: producer.paused });
		this.#listen(producer.observer, 'pause', onPause);
		this.#listen(producer.observer, 'resume', onPause);
		this.#listen(producer.observer, 'score', (score: ms.ProducerScore[]) => {
			this.#refreshTransport(transportId);
			this.#update('producer', id, { score: producerScores(score) });
		});
		this.#listen(producer.observer, 'close', () => {
			this.#objects.producer.delete(id);
			this.#forget(producer.observer);
			this.#remove('producer', id);
		});
	}

	#addConsumer(consumer: ms.Consumer, transportId: string): void {
		const id = consumer.id;
		const transport = this.#get('transport', transportId);
		this.#objects.consumer.set(id, consumer);
		this.#add('consumer', id, {
			id,
			...streamOwner(consumer.appData, transportId, transport),
			producerId: consumer.producerId,
			kind: consumer.kind,
			type: consumer.type,
			mimeType: consumer.rtpParameters.codecs[0]?.mimeType ?? '',
			clockRate: consumer.rtpParameters.codecs[0]?.clockRate ?? 0,
			...consumerState(consumer),
			createdAt: Date.now()
		});
		const refresh = (): void => {
			this.#refreshTransport(transportId);
			this.#refreshConsumer(id);
		};
		for (const event of ['pause', 'resume', 'score', 'layerschange']) this.#listen(consumer.observer, event, refresh);
		// The observer's pause/resume follow `paused || producerPaused`: a paused consumer whose
		// producer pauses emits nothing there, so its own (public) producer events are followed too.
		this.#listen(consumer, 'producerpause', refresh);
		this.#listen(consumer, 'producerresume', refresh);
		this.#listen(consumer.observer, 'close', () => {
			this.#forget(consumer);
			this.#objects.consumer.delete(id);
			this.#forget(consumer.observer);
			this.#remove('consumer', id);
		});
	}

	#refreshConsumer(id: string): void {
		const consumer = this.#objects.consumer.get(id);
		if (consumer && !consumer.closed) this.#update('consumer', id, consumerState(consumer));
	}

	#addRoom(room: ObservedRoom): void {
		const id = room.id;
		if (this.#closed || this.#get('room', id)) return;
		this.#add('room', id, {
			id,
			routerId: room.router.id,
			workerPid: room.workerPid,
			createdAt: room.createdAt,
			activeSpeakerPeerId: null,
			activeSpeakerChanges: 0
		});
		this.#listen(room.observer, 'newpeer', (peer: ObservedPeer) => this.#addPeer(peer));
		this.#listen(room.observer, 'activespeaker', ({ peerId }: ActiveSpeaker) => {
			const old = this.#get('room', id);
			if (!old || old.activeSpeakerPeerId === peerId) return;
			this.#update('room', id, { activeSpeakerPeerId: peerId, activeSpeakerChanges: old.activeSpeakerChanges + 1 });
		});
		this.#listen(room.observer, 'close', () => {
			this.#forget(room.observer);
			// Peers normally close before their room; drop any left so none outlives it.
			for (const peer of Object.values(this.#state.peers)) {
				if (peer.roomId === id) this.#remove('peer', peer.id);
			}
			this.#remove('room', id);
		});
		for (const peer of room.peers.values()) this.#addPeer(peer);
	}

	#addPeer(peer: ObservedPeer): void {
		const id = peer.id;
		if (this.#get('peer', id)) return;
		this.#add('peer', id, {
			id,
			roomId: peer.roomId,
			displayName: peer.displayName,
			userAgent: peer.userAgent,
			clientType: peer.clientType,
			joinedAt: peer.joinedAt
		});
		this.#listen(peer.observer, 'clienttypechange', (clientType: 'browser' | 'synthetic') => {
			this.#update('peer', id, { clientType });
		});
		this.#listen(peer.observer, 'close', () => {
			this.#forget(peer.observer);
			this.#remove('peer', id);
		});
	}
}

/**
 * Where a producer or consumer belongs: its own appData first, else its transport's record (a
 * transport made outside the meeting server carries no appData of ours).
 */
function streamOwner(
	appData: Record<string, unknown>,
	transportId: string,
	transport: TransportRecord | undefined
): { transportId: string; routerId: string; roomId: string | null; peerId: string | null } {
	return {
		transportId,
		routerId: transport?.routerId ?? '',
		roomId: stringOrNull(appData.roomId) ?? transport?.roomId ?? null,
		peerId: stringOrNull(appData.peerId) ?? transport?.peerId ?? null
	};
}

/** The sockets of a WebRtcServer's dump(): `udpSockets` and `tcpServers`, each `{ ip, port }`. */
function listenRecords(dump: unknown): ListenRecord[] {
	const { udpSockets, tcpServers } = (dump ?? {}) as { udpSockets?: unknown; tcpServers?: unknown };
	const of = (protocol: 'udp' | 'tcp', list: unknown): ListenRecord[] =>
		(Array.isArray(list) ? list : [])
			.filter((s): s is { ip: string; port: number } => typeof s?.ip === 'string' && typeof s?.port === 'number')
			.map(({ ip, port }) => ({ protocol, ip, port }));
	return [...of('udp', udpSockets), ...of('tcp', tcpServers)];
}

function stringOrNull(value: unknown): string | null {
	return typeof value === 'string' ? value : null;
}

function transportType(transport: ms.Transport): 'webrtc' | 'plain' | 'pipe' | 'direct' {
	if (transport instanceof mediasoup.types.WebRtcTransport) return 'webrtc';
	if (transport instanceof mediasoup.types.PlainTransport) return 'plain';
	if (transport instanceof mediasoup.types.PipeTransport) return 'pipe';
	return 'direct';
}

function tupleRecord(tuple: ms.TransportTuple | undefined): TupleRecord | null {
	// A comedia plain transport knows only its local side until the first packet arrives.
	if (!tuple || tuple.remoteIp === undefined || tuple.remotePort === undefined) return null;
	return {
		localIp: tuple.localIp,
		localPort: tuple.localPort,
		remoteIp: tuple.remoteIp,
		remotePort: tuple.remotePort,
		protocol: tuple.protocol
	};
}

function transportState(transport: ms.Transport): {
	iceState: EntityKinds['transport']['iceState'];
	dtlsState: EntityKinds['transport']['dtlsState'];
	tuple: TupleRecord | null;
} {
	if (transport instanceof mediasoup.types.WebRtcTransport) {
		return { iceState: transport.iceState, dtlsState: transport.dtlsState, tuple: tupleRecord(transport.iceSelectedTuple) };
	}
	if (transport instanceof mediasoup.types.PlainTransport || transport instanceof mediasoup.types.PipeTransport) {
		return { iceState: null, dtlsState: null, tuple: tupleRecord(transport.tuple) };
	}
	return { iceState: null, dtlsState: null, tuple: null };
}

/** Plain copies with no undefined-valued keys, so a record survives a JSON round trip unchanged. */
function producerScores(scores: ms.ProducerScore[]): ProducerScoreRecord[] {
	return scores.map(({ ssrc, rid, score }) => (typeof rid === 'string' ? { ssrc, rid, score } : { ssrc, score }));
}

function layers(value: ms.ConsumerLayers | undefined): ConsumerRecord['preferredLayers'] {
	if (!value) return null;
	return typeof value.temporalLayer === 'number'
		? { spatialLayer: value.spatialLayer, temporalLayer: value.temporalLayer }
		: { spatialLayer: value.spatialLayer };
}

function consumerState(
	consumer: ms.Consumer
): Pick<ConsumerRecord, 'paused' | 'producerPaused' | 'score' | 'preferredLayers' | 'currentLayers'> {
	const { score, producerScore, producerScores: scores } = consumer.score;
	return {
		paused: consumer.paused,
		producerPaused: consumer.producerPaused,
		score: { score, producerScore, producerScores: [...(scores ?? [])] },
		preferredLayers: layers(consumer.preferredLayers),
		currentLayers: layers(consumer.currentLayers)
	};
}
