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
	room: RoomRecord;
	peer: PeerRecord;
	transport: TransportRecord;
	producer: ProducerRecord;
	consumer: ConsumerRecord;
};

export type EntityKind = keyof EntityKinds;

/** The whole state; maps keyed by id (workers by pid, as a string). */
export type ObservedState = { [K in EntityKind as `${K}s`]: Record<string, EntityKinds[K]> };

export function emptyState(): ObservedState {
	return { workers: {}, rooms: {}, peers: {}, transports: {}, producers: {}, consumers: {} };
}
