/**
 * The observer's state model: plain JSON records of every object the SFU has, keyed by id. This is
 * what the observer stream sends as a snapshot and keeps up to date with events, and what the
 * exporter and the operator console read. Records hold facts only (no mediasoup objects).
 */

export type WorkerRecord = {
	pid: number;
	/** ms since the epoch */
	startedAt: number;
};

/** Where a WebRtcServer listens (the port it got, also when asked for port 0). */
export type ListenRecord = { protocol: 'udp' | 'tcp'; ip: string; port: number };

/** A worker's WebRtcServer: the one UDP and TCP port its browser transports share. */
export type WebRtcServerRecord = {
	id: string;
	workerPid: number;
	/** Empty until the worker has answered where it listens (right after creation). */
	listenInfos: ListenRecord[];
	/** WebRTC transports it handles now. */
	transports: number;
	createdAt: number;
};

/** A mediasoup router; a room has one. `roomId` is from the router's appData (null if none). */
export type RouterRecord = {
	id: string;
	workerPid: number;
	roomId: string | null;
	createdAt: number;
};

export type RoomRecord = {
	id: string;
	routerId: string;
	workerPid: number;
	createdAt: number;
	/** The loudest peer per the room's active-speaker observer, or null. */
	activeSpeakerPeerId: string | null;
	activeSpeakerChanges: number;
};

export type PeerRecord = {
	id: string;
	roomId: string;
	displayName: string;
	userAgent: string;
	/** 'browser' for socket.io clients with WebRTC transports, 'synthetic' for PlainTransport peers. */
	clientType: 'browser' | 'synthetic';
	joinedAt: number;
};

export type TupleRecord = {
	localIp: string;
	localPort: number;
	remoteIp: string;
	remotePort: number;
	protocol: 'udp' | 'tcp';
};

export type TransportRecord = {
	id: string;
	type: 'webrtc' | 'plain' | 'pipe' | 'direct';
	routerId: string;
	roomId: string | null;
	peerId: string | null;
	direction: 'send' | 'recv' | null;
	/** WebRTC only; null for other transport types. */
	iceState: 'new' | 'connected' | 'completed' | 'disconnected' | 'closed' | null;
	dtlsState: 'new' | 'connecting' | 'connected' | 'failed' | 'closed' | null;
	/** WebRTC: the selected ICE tuple; plain: its tuple once known; null until then. */
	tuple: TupleRecord | null;
	createdAt: number;
};

export type ProducerScoreRecord = { ssrc: number; rid?: string; score: number };

export type ProducerRecord = {
	id: string;
	transportId: string;
	routerId: string;
	roomId: string | null;
	peerId: string | null;
	kind: 'audio' | 'video';
	type: 'simple' | 'simulcast' | 'svc';
	/** e.g. 'video/VP8' */
	mimeType: string;
	/** Of that codec, in Hz (RTP timestamp units per second; 0 if unknown). */
	clockRate: number;
	paused: boolean;
	/** One entry per encoding (simulcast has several, told apart by rid or ssrc). */
	score: ProducerScoreRecord[];
	createdAt: number;
};

export type ConsumerRecord = {
	id: string;
	transportId: string;
	routerId: string;
	roomId: string | null;
	peerId: string | null;
	producerId: string;
	kind: 'audio' | 'video';
	type: 'simple' | 'simulcast' | 'svc' | 'pipe';
	mimeType: string;
	clockRate: number;
	paused: boolean;
	producerPaused: boolean;
	/** mediasoup ConsumerScore: score of the forwarded stream and of its producer's. */
	score: { score: number; producerScore: number; producerScores: number[] };
	preferredLayers: { spatialLayer: number; temporalLayer?: number } | null;
	currentLayers: { spatialLayer: number; temporalLayer?: number } | null;
	createdAt: number;
};

export type EntityKinds = {
	worker: WorkerRecord;
	webRtcServer: WebRtcServerRecord;
	router: RouterRecord;
	room: RoomRecord;
	peer: PeerRecord;
	transport: TransportRecord;
	producer: ProducerRecord;
	consumer: ConsumerRecord;
};

export type EntityKind = keyof EntityKinds;

/** The whole state; maps keyed by id (workers by pid, as a string). */
export type ObservedState = { [K in EntityKind as `${K}s`]: Record<string, EntityKinds[K]> };

export const ENTITY_KINDS = [
	'worker',
	'webRtcServer',
	'router',
	'room',
	'peer',
	'transport',
	'producer',
	'consumer'
] as const satisfies readonly EntityKind[];

export function emptyState(): ObservedState {
	return { workers: {}, webRtcServers: {}, routers: {}, rooms: {}, peers: {}, transports: {}, producers: {}, consumers: {} };
}

/** One change to the state. `add` and `update` carry the whole new record; `remove` only the id. */
export type StateChange = {
	[K in EntityKind]: { op: 'add' | 'update'; entity: K; id: string; record: EntityKinds[K] } | { op: 'remove'; entity: K; id: string };
}[EntityKind];

/** The key of an entity kind's map in ObservedState ('consumer' → 'consumers'). */
export function collectionOf<K extends EntityKind>(entity: K): `${K}s` {
	return `${entity}s`;
}

/**
 * Applies one change in place. Records are treated as immutable values: an update replaces the
 * record object, so a record handed out earlier never changes under its holder.
 */
export function applyStateChange(state: ObservedState, change: StateChange): void {
	const records = state[collectionOf(change.entity)] as Record<string, unknown>;
	if (change.op === 'remove') delete records[change.id];
	else records[change.id] = change.record;
}

/** A copy whose maps can be changed without touching the original (records are shared, being immutable). */
export function copyState(state: ObservedState): ObservedState {
	const copy = emptyState();
	for (const kind of ENTITY_KINDS) {
		Object.assign(copy[collectionOf(kind)], state[collectionOf(kind)]);
	}
	return copy;
}
