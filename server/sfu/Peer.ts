import { randomUUID } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { Config } from '../../config/configSchema.js';
import type {
	ConsumerLayers,
	DtlsParameters,
	IceParameters,
	MediaKind,
	NotificationMessage,
	Notifications,
	PlainTransportOptions,
	RtpCapabilities,
	RtpParameters,
	TransportOptions
} from '../contract/signalling.js';
import { InvalidMediaError, NotPermittedError, PeerClosedError, UnknownIdError } from '../base/errors.js';
import { Logger } from '../base/Logger.js';
import { TypedEmitter } from '../base/TypedEmitter.js';
import type { MeetingCounters } from './MeetingCounters.js';

const logger = new Logger('Peer');

/** Bounds on what one client can make the worker allocate. */
const MAX_TRANSPORTS_PER_PEER = 8;
const MAX_PRODUCERS_PER_PEER = 16;
/** Plain transports listen here only: synthetic peers run on this machine. */
const PLAIN_LISTEN_IP = '127.0.0.1';
const MAX_USER_AGENT_LENGTH = 256;

export type ClientType = 'browser' | 'synthetic';
export type Direction = 'send' | 'recv';

/** For the Room (its parent): internal bookkeeping, hence `@`. */
export type PeerEvents = {
	'@close': [];
	'@newproducer': [ms.Producer];
	/** A recv transport exists and its creation has been answered: consumers may now go on it. */
	'@recvtransportready': [];
};

export type PeerObserverEvents = {
	close: [];
	clienttypechange: [ClientType];
};

/**
 * `connected`, `mids` and `ssrcs` mirror what the worker would refuse (a second connect, a MID or
 * SSRC taken on the transport), so those are the client's InvalidMediaError, not a server failure.
 */
type TransportEntry = (
	| { type: 'webrtc'; direction: Direction; transport: ms.WebRtcTransport }
	| { type: 'plain'; direction: Direction; transport: ms.PlainTransport }
) & { connected: boolean; mids: Set<string>; ssrcs: Set<number> };

export type PeerOptions = {
	roomId: string;
	displayName: string;
	userAgent: string;
	rtpCapabilities: RtpCapabilities;
	router: ms.Router;
	/** Where WebRTC transports listen; undefined: each on its own port at webRtcTransportSettings.listenIps. */
	webRtcServer: ms.WebRtcServer | undefined;
	webRtcTransportSettings: Config['mediasoup']['webRtcTransport'];
	counters: MeetingCounters;
	notify: (message: NotificationMessage) => void;
};

/**
 * One participant of a room: its transports, producers and consumers. A Peer knows its router but
 * not its Room: what concerns other peers (consuming a new producer, the active speaker) it reports
 * as `@` events that the Room answers.
 */
export class Peer extends TypedEmitter<PeerEvents> {
	readonly id = randomUUID();
	readonly roomId: string;
	readonly displayName: string;
	readonly userAgent: string;
	readonly joinedAt = Date.now();
	readonly rtpCapabilities: RtpCapabilities;
	readonly observer = new TypedEmitter<PeerObserverEvents>();
	readonly #router: ms.Router;
	readonly #webRtcServer: ms.WebRtcServer | undefined;
	readonly #settings: PeerOptions['webRtcTransportSettings'];
	readonly #counters: MeetingCounters;
	readonly #notify: PeerOptions['notify'];
	readonly #transports = new Map<string, TransportEntry>();
	readonly #producers = new Map<string, ms.Producer>();
	readonly #consumers = new Map<string, ms.Consumer>();
	/** Producers consumed or being consumed, so no producer is consumed twice. */
	readonly #consumedProducerIds = new Set<string>();
	#clientType: ClientType = 'browser';
	#closed = false;

	/** Synchronous: the Room checks its peer limit and adds the peer in one step. */
	static create(options: PeerOptions): Peer {
		return new Peer(options);
	}

	private constructor({
		roomId,
		displayName,
		userAgent,
		rtpCapabilities,
		router,
		webRtcServer,
		webRtcTransportSettings,
		counters,
		notify
	}: PeerOptions) {
		super();
		this.roomId = roomId;
		this.displayName = displayName;
		this.userAgent = userAgent.slice(0, MAX_USER_AGENT_LENGTH);
		this.rtpCapabilities = rtpCapabilities;
		this.#router = router;
		this.#webRtcServer = webRtcServer;
		this.#settings = webRtcTransportSettings;
		this.#counters = counters;
		this.#notify = notify;
	}

	get clientType(): ClientType {
		return this.#clientType;
	}

	get closed(): boolean {
		return this.#closed;
	}

	get producers(): ReadonlyMap<string, ms.Producer> {
		return this.#producers;
	}

	get consumers(): ReadonlyMap<string, ms.Consumer> {
		return this.#consumers;
	}

	notify<N extends keyof Notifications>(method: N, data: Notifications[N]): void {
		if (this.#closed && method !== 'roomClosed') return;
		this.#notify({ method, data } as NotificationMessage);
	}

	async createWebRtcTransport({ direction, forceTcp = false }: { direction: Direction; forceTcp?: boolean }): Promise<TransportOptions> {
		this.#assertCanAddTransport();
		const s = this.#settings;
		if (forceTcp && !s.enableTcp) throw new NotPermittedError('data.forceTcp: TCP is disabled on this server');
		const transport = await this.#router.createWebRtcTransport({
			...(this.#webRtcServer
				? { webRtcServer: this.#webRtcServer }
				: { listenIps: s.listenIps.map(({ ip, announcedIp }) => (announcedIp ? { ip, announcedIp } : { ip })) }),
			enableUdp: forceTcp ? false : s.enableUdp,
			enableTcp: s.enableTcp,
			preferUdp: s.preferUdp,
			initialAvailableOutgoingBitrate: s.initialAvailableOutgoingBitrate,
			appData: { peerId: this.id, roomId: this.roomId, direction }
		});
		this.#addTransport({ type: 'webrtc', direction, transport, ...freshTransportState() });
		this.#assertOpen();
		// The cap limits what the client sends, so it only means something on send transports.
		if (s.maxIncomingBitrate !== null && direction === 'send') {
			try {
				await transport.setMaxIncomingBitrate(s.maxIncomingBitrate);
			} catch (error) {
				if (!transport.closed) logger.warn('setMaxIncomingBitrate() failed: %s', (error as Error).message);
			}
		}
		return {
			id: transport.id,
			iceParameters: transport.iceParameters,
			iceCandidates: transport.iceCandidates,
			dtlsParameters: transport.dtlsParameters,
			...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters } : {})
		};
	}

	async connectWebRtcTransport({ transportId, dtlsParameters }: { transportId: string; dtlsParameters: DtlsParameters }): Promise<void> {
		const entry = this.#transport(transportId);
		if (entry.type !== 'webrtc') throw new InvalidMediaError('data.transportId: not a WebRTC transport');
		await connectOnce(entry, () => entry.transport.connect({ dtlsParameters }));
	}

	async restartIce({ transportId }: { transportId: string }): Promise<IceParameters> {
		return this.#webRtcTransport(transportId).restartIce();
	}

	/** Send: comedia (the server learns the sender's address from its first packet). Recv: connect() says where to send. */
	async createPlainTransport({ direction }: { direction: Direction }): Promise<PlainTransportOptions> {
		this.#assertCanAddTransport();
		const transport = await this.#router.createPlainTransport({
			listenIp: { ip: PLAIN_LISTEN_IP },
			rtcpMux: true,
			comedia: direction === 'send',
			appData: { peerId: this.id, roomId: this.roomId, direction }
		});
		this.#addTransport({ type: 'plain', direction, transport, ...freshTransportState() });
		this.#assertOpen();
		if (this.#clientType !== 'synthetic') {
			this.#clientType = 'synthetic';
			this.observer.emit('clienttypechange', 'synthetic');
		}
		return { id: transport.id, ip: transport.tuple.localIp, port: transport.tuple.localPort };
	}

	async connectPlainTransport({
		transportId,
		ip,
		port,
		rtcpPort
	}: {
		transportId: string;
		ip: string;
		port: number;
		rtcpPort?: number;
	}): Promise<void> {
		const entry = this.#transport(transportId);
		if (entry.type !== 'plain') throw new InvalidMediaError('data.transportId: not a plain transport');
		if (entry.direction !== 'recv')
			throw new InvalidMediaError('data.transportId: a send plain transport learns its remote address itself (comedia)');
		// All plain transports here multiplex RTCP with RTP; the worker would refuse a separate port.
		if (rtcpPort !== undefined && rtcpPort !== port)
			throw new InvalidMediaError('data.rtcpPort: plain transports use rtcp-mux; leave rtcpPort out');
		const { transport } = entry;
		await connectOnce(entry, () => transport.connect({ ip, port }));
	}

	/** Called once the client has the recv transport's parameters: now consumers may be announced. */
	announceRecvTransport(transportId: string): void {
		if (this.#closed || this.#transports.get(transportId)?.direction !== 'recv') return;
		this.emit('@recvtransportready');
	}

	async produce({
		transportId,
		kind,
		rtpParameters,
		paused = false
	}: {
		transportId: string;
		kind: MediaKind;
		rtpParameters: RtpParameters;
		paused?: boolean;
	}): Promise<string> {
		const entry = this.#transport(transportId);
		if (entry.direction !== 'send') throw new InvalidMediaError('data.transportId: not a send transport');
		if (this.#producers.size >= MAX_PRODUCERS_PER_PEER)
			throw new NotPermittedError(`at most ${MAX_PRODUCERS_PER_PEER} producers per peer`);
		assertCodecsOfKind(kind, rtpParameters);
		const { mids, ssrcs } = streamIdsOf(rtpParameters);
		if (mids.some((mid) => entry.mids.has(mid)))
			throw new InvalidMediaError('data.rtpParameters.mid: already used by another producer on this transport');
		if (ssrcs.some((ssrc) => entry.ssrcs.has(ssrc)))
			throw new InvalidMediaError('data.rtpParameters.encodings: an SSRC already used by another producer on this transport');
		this.#counters.produce(kind, 'attempt');
		let producer: ms.Producer;
		try {
			producer = await entry.transport.produce({ kind, rtpParameters, paused, appData: { peerId: this.id, roomId: this.roomId } });
		} catch (error) {
			this.#counters.produce(kind, 'failure');
			throw error;
		}
		this.#counters.produce(kind, 'success');
		for (const mid of mids) entry.mids.add(mid);
		for (const ssrc of ssrcs) entry.ssrcs.add(ssrc);
		producer.observer.once('close', () => {
			for (const mid of mids) entry.mids.delete(mid);
			for (const ssrc of ssrcs) entry.ssrcs.delete(ssrc);
		});
		if (this.#closed) {
			// The transport closed under the request; the producer must not linger in mediasoup's maps.
			producer.close();
			this.#assertOpen();
		}
		this.#producers.set(producer.id, producer);
		producer.on('transportclose', () => this.#producers.delete(producer.id));
		producer.on('score', (score: ms.ProducerScore[]) => {
			this.notify('producerScore', {
				producerId: producer.id,
				score: score.map(({ ssrc, rid, score: s }) => ({ ssrc, ...(rid !== undefined ? { rid } : {}), score: s }))
			});
		});
		this.emit('@newproducer', producer);
		return producer.id;
	}

	async pauseProducer(producerId: string): Promise<void> {
		const producer = this.#producer(producerId);
		await whileOpen(producer, 'data.producerId', () => producer.pause());
	}

	async resumeProducer(producerId: string): Promise<void> {
		const producer = this.#producer(producerId);
		await whileOpen(producer, 'data.producerId', () => producer.resume());
	}

	closeProducer(producerId: string): void {
		this.#producer(producerId).close();
		this.#producers.delete(producerId);
	}

	/**
	 * Consumes another peer's producer on this peer's newest recv transport, paused until the client
	 * says `resumeConsumer`. Never throws: a producer this peer cannot receive is skipped.
	 */
	async consume(producer: ms.Producer, producerPeerId: string): Promise<void> {
		if (this.#closed || producer.closed || this.#consumedProducerIds.has(producer.id)) return;
		const entry = [...this.#transports.values()].reverse().find((t) => t.direction === 'recv');
		if (!entry) return;
		if (!this.#router.canConsume({ producerId: producer.id, rtpCapabilities: this.rtpCapabilities })) return;
		const kind = producer.kind;
		this.#consumedProducerIds.add(producer.id);
		this.#counters.consume(kind, 'attempt');
		let consumer: ms.Consumer;
		try {
			consumer = await entry.transport.consume({
				producerId: producer.id,
				rtpCapabilities: this.rtpCapabilities,
				paused: true,
				appData: { peerId: this.id, roomId: this.roomId }
			});
		} catch (error) {
			this.#consumedProducerIds.delete(producer.id);
			this.#counters.consume(kind, 'failure');
			// The producer or transport closing meanwhile is routine; anything else is worth a warning.
			if (!producer.closed && !entry.transport.closed && !this.#closed) logger.warn('consume() failed: %s', (error as Error).message);
			return;
		}
		this.#counters.consume(kind, 'success');
		if (this.#closed) {
			consumer.close();
			return;
		}
		this.#addConsumer(consumer, producer.id);
		this.notify('newConsumer', {
			consumerId: consumer.id,
			producerId: producer.id,
			peerId: producerPeerId,
			kind: consumer.kind,
			rtpParameters: consumer.rtpParameters,
			type: consumer.type,
			producerPaused: consumer.producerPaused,
			transportId: entry.transport.id
		});
	}

	async resumeConsumer(consumerId: string): Promise<void> {
		const consumer = this.#consumer(consumerId);
		await whileOpen(consumer, 'data.consumerId', () => consumer.resume());
	}

	async pauseConsumer(consumerId: string): Promise<void> {
		const consumer = this.#consumer(consumerId);
		await whileOpen(consumer, 'data.consumerId', () => consumer.pause());
	}

	async setConsumerPreferredLayers(consumerId: string, layers: ConsumerLayers): Promise<void> {
		const consumer = this.#consumer(consumerId);
		await whileOpen(consumer, 'data.consumerId', () => consumer.setPreferredLayers(layers));
	}

	/** Leaves: closing the transports closes this peer's producers and consumers too. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		logger.debug('close() [peerId:%s]', this.id);
		for (const { transport } of this.#transports.values()) transport.close();
		this.#transports.clear();
		this.#producers.clear();
		this.#consumers.clear();
		this.#consumedProducerIds.clear();
		this.emit('@close');
		this.observer.emit('close');
	}

	#addTransport(entry: TransportEntry): void {
		const { transport } = entry;
		if (this.#closed) {
			transport.close();
			return;
		}
		this.#transports.set(transport.id, entry);
		// Both transport types emit it; the union of their typed emitters takes no common listener.
		(transport as ms.Transport).on('routerclose', () => this.#transports.delete(transport.id));
	}

	#addConsumer(consumer: ms.Consumer, producerId: string): void {
		const consumerId = consumer.id;
		this.#consumers.set(consumerId, consumer);
		const closed = (): void => {
			this.#consumers.delete(consumerId);
			this.#consumedProducerIds.delete(producerId);
			this.notify('consumerClosed', { consumerId });
		};
		consumer.on('transportclose', closed);
		consumer.on('producerclose', closed);
		consumer.on('producerpause', () => this.notify('consumerPaused', { consumerId }));
		consumer.on('producerresume', () => this.notify('consumerResumed', { consumerId }));
		consumer.on('score', ({ score, producerScore }: ms.ConsumerScore) =>
			this.notify('consumerScore', { consumerId, score, producerScore })
		);
		consumer.on('layerschange', (layers?: ms.ConsumerLayers) => {
			this.notify('consumerLayersChanged', {
				consumerId,
				spatialLayer: layers?.spatialLayer ?? null,
				temporalLayer: layers?.temporalLayer ?? null
			});
		});
	}

	#assertOpen(): void {
		if (this.#closed) throw new PeerClosedError('the peer left while the request was running');
	}

	#assertCanAddTransport(): void {
		this.#assertOpen();
		if (this.#transports.size >= MAX_TRANSPORTS_PER_PEER)
			throw new NotPermittedError(`at most ${MAX_TRANSPORTS_PER_PEER} transports per peer`);
	}

	#transport(transportId: string): TransportEntry {
		const entry = this.#transports.get(transportId);
		if (!entry) throw new UnknownIdError('data.transportId: no such transport of this peer');
		return entry;
	}

	#webRtcTransport(transportId: string): ms.WebRtcTransport {
		const entry = this.#transport(transportId);
		if (entry.type !== 'webrtc') throw new InvalidMediaError('data.transportId: not a WebRTC transport');
		return entry.transport;
	}

	#producer(producerId: string): ms.Producer {
		const producer = this.#producers.get(producerId);
		if (!producer) throw new UnknownIdError('data.producerId: no such producer of this peer');
		return producer;
	}

	#consumer(consumerId: string): ms.Consumer {
		const consumer = this.#consumers.get(consumerId);
		if (!consumer) throw new UnknownIdError('data.consumerId: no such consumer of this peer');
		return consumer;
	}
}

function freshTransportState(): { connected: boolean; mids: Set<string>; ssrcs: Set<number> } {
	return { connected: false, mids: new Set(), ssrcs: new Set() };
}

/** The worker refuses a second connect with an error that names no cause: say it here. */
async function connectOnce(entry: TransportEntry, connect: () => Promise<void>): Promise<void> {
	if (entry.connected) throw new InvalidMediaError('data.transportId: already connected');
	entry.connected = true;
	try {
		await connect();
	} catch (error) {
		entry.connected = false;
		throw error;
	}
}

/**
 * The object closed while the worker had the request (its producer left, its transport closed):
 * the worker's refusal then means "no such object", the client's NotFoundError, not a server failure.
 */
async function whileOpen<T>(object: { closed: boolean }, field: string, run: () => Promise<T>): Promise<T> {
	try {
		return await run();
	} catch (error) {
		// mediasoup emits the worker's notifications (e.g. `producerclose`) on setImmediate but
		// settles responses at once: let a close the worker announced before its refusal land first.
		if (!object.closed) await new Promise((resolve) => setImmediate(resolve));
		if (object.closed) throw new UnknownIdError(`${field}: closed meanwhile`);
		throw error;
	}
}

/** MIDs and SSRCs (media and RTX) a producer would take on its transport; malformed values are mediasoup's to refuse. */
function streamIdsOf(rtpParameters: RtpParameters): { mids: string[]; ssrcs: number[] } {
	const mids = typeof rtpParameters.mid === 'string' && rtpParameters.mid !== '' ? [rtpParameters.mid] : [];
	const ssrcs = new Set<number>();
	for (const encoding of Array.isArray(rtpParameters.encodings) ? (rtpParameters.encodings as unknown[]) : []) {
		const e = encoding as { ssrc?: unknown; rtx?: { ssrc?: unknown } } | null;
		if (typeof e?.ssrc === 'number') ssrcs.add(e.ssrc);
		if (typeof e?.rtx?.ssrc === 'number') ssrcs.add(e.rtx.ssrc);
	}
	return { mids, ssrcs: [...ssrcs] };
}

/** mediasoup does not check that the codecs match `kind` (it would accept VP8 as audio). */
function assertCodecsOfKind(kind: MediaKind, rtpParameters: RtpParameters): void {
	if (!Array.isArray(rtpParameters.codecs)) return; // mediasoup's own validation names the problem
	rtpParameters.codecs.forEach((codec: unknown, i) => {
		const mimeType = (codec as { mimeType?: unknown } | null)?.mimeType;
		if (typeof mimeType === 'string' && !mimeType.toLowerCase().startsWith(`${kind}/`)) {
			throw new InvalidMediaError(`data.rtpParameters.codecs[${i}].mimeType: not an ${kind} codec`);
		}
	});
}
