/**
 * The whole signalling contract between the server and its clients (the browser app and synthetic
 * peers), as socket.io typed events. Imported by server/ and app/; keep it free of runtime imports
 * other than types so the browser bundle stays small.
 *
 * Requests are socket.io emits with an acknowledgement:
 *   socket.emit('request', { method: 'join', data: {...} }, (response) => ...)
 * The response is `{ ok: true, data }` or `{ ok: false, error: { name, message } }`, never a thrown
 * Error (it serialises to `{}`). Notifications flow server → client on the 'notification' event.
 * What each request takes is inferred from its schema (signallingSchemas.ts), which the server
 * checks it against.
 */
import type { types as ms } from 'mediasoup';
import type { z } from 'zod';
import type { RequestSchemas } from './signallingSchemas.js';

// mediasoup-client and mediasoup share these shapes; the server's types are the reference.
export type RtpCapabilities = ms.RtpCapabilities;
export type RtpParameters = ms.RtpParameters;
export type DtlsParameters = ms.DtlsParameters;
export type IceParameters = ms.IceParameters;
export type IceCandidate = ms.IceCandidate;
export type SctpParameters = ms.SctpParameters;
export type MediaKind = 'audio' | 'video';

/** Error names a client can rely on. */
export type SignallingErrorName =
	| 'BadRequestError' // malformed message: wrong type, missing field, too long
	| 'UnknownMethodError'
	| 'NotJoinedError' // request needs a joined peer
	| 'AlreadyJoinedError'
	| 'RoomFullError'
	| 'NotFoundError' // unknown transport / producer / consumer id (of this peer)
	| 'NotAllowedError' // e.g. synthetic peers disabled, or not from loopback
	| 'RateLimitError'
	| 'PayloadTooLargeError'
	| 'ServerError'; // mediasoup refused; message says why

export type SignallingError = { name: SignallingErrorName; message: string };

export type Response<T> = { ok: true; data: T } | { ok: false; error: SignallingError };

export type PeerInfo = { id: string; displayName: string };

export type TransportOptions = {
	id: string;
	iceParameters: IceParameters;
	iceCandidates: IceCandidate[];
	dtlsParameters: DtlsParameters;
	sctpParameters?: SctpParameters;
};

/** A plain (RTP over UDP, comedia) transport for synthetic peers. */
export type PlainTransportOptions = { id: string; ip: string; port: number; rtcpPort?: number };

export type ConsumerLayers = { spatialLayer: number; temporalLayer?: number };

/** What a request method takes: what its schema accepts. */
type RequestData<M extends keyof RequestSchemas> = z.input<RequestSchemas[M]>;

/** Each request method: what it takes and what it answers. */
export type Requests = {
	/** Joins a room (created on first join). Answers the router's capabilities and the peers present. */
	join: {
		request: RequestData<'join'>;
		response: { peerId: string; routerRtpCapabilities: RtpCapabilities; peers: PeerInfo[] };
	};
	/** The router's capabilities, before join (mediasoup-client's device.load needs them first). */
	getRouterRtpCapabilities: {
		request: RequestData<'getRouterRtpCapabilities'>;
		response: { routerRtpCapabilities: RtpCapabilities };
	};
	/**
	 * `forceTcp`: ICE over TCP only. Right after answering a 'recv' transport, the server announces a
	 * `newConsumer` for every producer already in the room (on that transport); later producers are
	 * announced as they appear, always on the peer's newest recv transport. The same holds for a
	 * 'recv' plain transport.
	 */
	createWebRtcTransport: {
		request: RequestData<'createWebRtcTransport'>;
		response: TransportOptions;
	};
	connectWebRtcTransport: {
		request: RequestData<'connectWebRtcTransport'>;
		response: Record<string, never>;
	};
	restartIce: {
		request: RequestData<'restartIce'>;
		response: { iceParameters: IceParameters };
	};
	/** Synthetic peers only (config.syntheticPeers.enabled, loopback clients). */
	createPlainTransport: {
		request: RequestData<'createPlainTransport'>;
		response: PlainTransportOptions;
	};
	/** Synthetic peers only: where consumers' RTP goes (a recv plain transport is not comedia). */
	connectPlainTransport: {
		request: RequestData<'connectPlainTransport'>;
		response: Record<string, never>;
	};
	produce: {
		request: RequestData<'produce'>;
		response: { producerId: string };
	};
	pauseProducer: { request: RequestData<'pauseProducer'>; response: Record<string, never> };
	resumeProducer: { request: RequestData<'resumeProducer'>; response: Record<string, never> };
	closeProducer: { request: RequestData<'closeProducer'>; response: Record<string, never> };
	/** The client has set up a consumer the server announced in `newConsumer`: resume it. */
	resumeConsumer: { request: RequestData<'resumeConsumer'>; response: Record<string, never> };
	pauseConsumer: { request: RequestData<'pauseConsumer'>; response: Record<string, never> };
	setConsumerPreferredLayers: {
		request: RequestData<'setConsumerPreferredLayers'>;
		response: Record<string, never>;
	};
	leave: { request: RequestData<'leave'>; response: Record<string, never> };
};

export type RequestMethod = keyof Requests;

export type RequestMessage = { [M in RequestMethod]: { method: M; data: Requests[M]['request'] } }[RequestMethod];

/** Notifications: server → client. */
export type Notifications = {
	peerJoined: PeerInfo;
	peerLeft: { peerId: string };
	/** A consumer of another peer's producer, created paused: set it up, then `resumeConsumer`. */
	newConsumer: {
		consumerId: string;
		producerId: string;
		peerId: string;
		kind: MediaKind;
		rtpParameters: RtpParameters;
		type: 'simple' | 'simulcast' | 'svc' | 'pipe';
		producerPaused: boolean;
		transportId: string;
	};
	consumerClosed: { consumerId: string };
	consumerPaused: { consumerId: string };
	consumerResumed: { consumerId: string };
	consumerLayersChanged: { consumerId: string; spatialLayer: number | null; temporalLayer: number | null };
	consumerScore: { consumerId: string; score: number; producerScore: number };
	producerScore: { producerId: string; score: { ssrc: number; rid?: string; score: number }[] };
	/** The loudest peer, or null when the room falls silent. */
	activeSpeaker: { peerId: string | null; producerId: string | null };
	/** The server closed the room (e.g. its worker died); the client may join again. */
	roomClosed: { reason: string };
};

export type NotificationMessage = { [N in keyof Notifications]: { method: N; data: Notifications[N] } }[keyof Notifications];

/** socket.io event maps: `Server<ClientToServerEvents, ServerToClientEvents>`. */
export interface ClientToServerEvents {
	request: (message: RequestMessage, ack: (response: Response<unknown>) => void) => void;
}

export interface ServerToClientEvents {
	notification: (message: NotificationMessage) => void;
}

/** Typed response for a given method, for clients. */
export type ResponseOf<M extends RequestMethod> = Response<Requests[M]['response']>;
