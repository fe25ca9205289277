import { Logger } from '../../server/base/Logger.js';
import { TypedEmitter } from '../../server/base/TypedEmitter.js';
import type { MediaKind, NotificationMessage, Notifications, PeerInfo, PlainTransportOptions } from '../../server/contract/signalling.js';
import { SignallingClient } from './SignallingClient.js';
import { RtpSink, type ConsumerRtpSink } from './RtpSink.js';
import type { RtpReceiveStats } from './RtpReceiveStats.js';
import { RtpStreamSender } from './RtpStreamSender.js';
import type { RtpStream } from './RtpStream.js';
import { OpusStream } from './OpusStream.js';
import { Vp8Stream } from './Vp8Stream.js';
import { syntheticRtpCapabilities } from './syntheticRtpCapabilities.js';

const logger = new Logger('SyntheticPeer');

/** `leave` on close gets this long; a dead server must not hold up a load generator's exit. */
const LEAVE_TIMEOUT_MS = 2000;

export type SyntheticPeerOptions = {
	/** The server's signalling URL, e.g. http://127.0.0.1:3000. */
	url: string;
	roomId: string;
	displayName?: string;
	audio?: boolean;
	video?: boolean;
	/** VP8 bitrate in bits per second. */
	videoBitrate?: number;
	/** Shared sink for consumers' RTP; by default the peer makes (and closes) its own. */
	sink?: ConsumerRtpSink;
	requestTimeoutMs?: number;
};

export type SyntheticConsumer = {
	consumerId: string;
	producerId: string;
	peerId: string;
	kind: MediaKind;
	/** What the sink has received of this consumer's RTP. */
	received: RtpReceiveStats;
};

export type SyntheticPeerStats = {
	sent: Record<MediaKind, { packets: number; bytes: number } | undefined>;
	received: { consumers: number; receiving: number; packets: number; bytes: number; expected: number; lost: number };
};

export type SyntheticPeerEvents = {
	newconsumer: [SyntheticConsumer];
	consumerclosed: [SyntheticConsumer];
	peerjoined: [PeerInfo];
	peerleft: [string];
	/** The peer ended: close() was called, the server closed the room, or signalling dropped. */
	close: [string];
};

/**
 * A meeting participant without a browser: joins a room over socket.io with the shared contract,
 * sends synthetic opus and VP8 RTP into a plain send transport and receives every consumer's RTP
 * on a plain recv transport connected to an RtpSink. Needs a server with syntheticPeers.enabled,
 * reached from loopback.
 */
export class SyntheticPeer extends TypedEmitter<SyntheticPeerEvents> {
	readonly roomId: string;
	readonly peerId: string;
	readonly #signalling: SignallingClient;
	readonly #sink: ConsumerRtpSink;
	readonly #ownSink: boolean;
	readonly #consumers = new Map<string, SyntheticConsumer>();
	readonly #producers = new Map<MediaKind, string>();
	readonly #peers = new Map<string, PeerInfo>();
	/** newConsumer notifications that came before the recv transport was connected. */
	readonly #pending: Notifications['newConsumer'][] = [];
	#recvTransport?: PlainTransportOptions;
	#recvConnected = false;
	#sender?: RtpStreamSender;
	#streams: RtpStream[] = [];
	#closing?: Promise<void>;

	static async create(options: SyntheticPeerOptions): Promise<SyntheticPeer> {
		const { url, roomId, displayName = `synthetic-${roomId}`, audio = true, video = true, videoBitrate, requestTimeoutMs } = options;
		const signalling = await SignallingClient.connect({ url, timeoutMs: requestTimeoutMs });
		let sink = options.sink;
		let peer: SyntheticPeer | undefined;
		try {
			const { routerRtpCapabilities } = await signalling.request('getRouterRtpCapabilities', { roomId });
			const rtpCapabilities = syntheticRtpCapabilities(routerRtpCapabilities);
			sink ??= await RtpSink.create({ sockets: 1 });
			// Notifications may follow the join answer at once: listen before asking.
			const early: NotificationMessage[] = [];
			const buffer = (message: NotificationMessage): void => {
				early.push(message);
			};
			signalling.on('notification', buffer);
			const joined = await signalling.request('join', { roomId, displayName, rtpCapabilities });
			signalling.off('notification', buffer);
			peer = new SyntheticPeer({ signalling, roomId, peerId: joined.peerId, sink, ownSink: !options.sink, peers: joined.peers });
			for (const message of early) peer.#onNotification(message);
			await peer.#setUpReceiving();
			await peer.#setUpSending({ audio, video, videoBitrate });
			return peer;
		} catch (error) {
			if (peer) await peer.close();
			else {
				signalling.close();
				if (!options.sink) sink?.close();
			}
			throw error;
		}
	}

	private constructor({
		signalling,
		roomId,
		peerId,
		sink,
		ownSink,
		peers
	}: {
		signalling: SignallingClient;
		roomId: string;
		peerId: string;
		sink: ConsumerRtpSink;
		ownSink: boolean;
		peers: PeerInfo[];
	}) {
		super();
		this.#signalling = signalling;
		this.roomId = roomId;
		this.peerId = peerId;
		this.#sink = sink;
		this.#ownSink = ownSink;
		for (const peer of peers) this.#peers.set(peer.id, peer);
		signalling.on('notification', (message) => this.#onNotification(message));
		signalling.on('disconnect', (reason) => void this.#close(`signalling disconnected (${reason})`));
	}

	get closed(): boolean {
		return this.#closing !== undefined;
	}

	/** Producer ids by kind. */
	get producers(): ReadonlyMap<MediaKind, string> {
		return this.#producers;
	}

	get consumers(): ReadonlyMap<string, SyntheticConsumer> {
		return this.#consumers;
	}

	/** Other peers in the room, as the server announced them. */
	get peers(): ReadonlyMap<string, PeerInfo> {
		return this.#peers;
	}

	stats(): SyntheticPeerStats {
		const sent: SyntheticPeerStats['sent'] = { audio: undefined, video: undefined };
		for (const stream of this.#streams) {
			const { packets, bytes } = stream.counters;
			sent[stream.kind] = { packets, bytes };
		}
		const received = { consumers: this.#consumers.size, receiving: 0, packets: 0, bytes: 0, expected: 0, lost: 0 };
		for (const { received: r } of this.#consumers.values()) {
			if (r.packets > 0) received.receiving++;
			received.packets += r.packets;
			received.bytes += r.bytes;
			received.expected += r.expected;
			received.lost += r.lost;
		}
		return { sent, received };
	}

	/** Leaves the room and stops sending and receiving. Safe to call twice. */
	close(): Promise<void> {
		return this.#close('closed');
	}

	#close(reason: string): Promise<void> {
		this.#closing ??= (async () => {
			logger.debug('close() [peerId:%s, reason:%s]', this.peerId, reason);
			this.#sender?.close();
			if (this.#signalling.connected) {
				try {
					await this.#signalling.request('leave', {}, LEAVE_TIMEOUT_MS);
				} catch (error) {
					logger.warn('leave failed [peerId:%s]: %s', this.peerId, (error as Error).message);
				}
			}
			this.#signalling.close();
			if (this.#ownSink) this.#sink.close();
			this.#consumers.clear();
			this.#pending.length = 0;
			this.emit('close', reason);
		})();
		return this.#closing;
	}

	async #setUpReceiving(): Promise<void> {
		const transport = await this.#signalling.request('createPlainTransport', { direction: 'recv' });
		this.#recvTransport = transport;
		const { ip, port } = this.#sink.nextAddress();
		await this.#signalling.request('connectPlainTransport', { transportId: transport.id, ip, port });
		this.#recvConnected = true;
		for (const notification of this.#pending.splice(0)) void this.#consume(notification);
	}

	async #setUpSending({ audio, video, videoBitrate }: { audio: boolean; video: boolean; videoBitrate?: number }): Promise<void> {
		const streams: RtpStream[] = [];
		if (audio) streams.push(new OpusStream());
		if (video) streams.push(new Vp8Stream({ bitrate: videoBitrate }));
		if (streams.length === 0) return;
		const transport = await this.#signalling.request('createPlainTransport', { direction: 'send' });
		this.#sender = await RtpStreamSender.create({ ip: transport.ip, port: transport.port, streams });
		this.#streams = streams;
		for (const stream of streams) {
			const { producerId } = await this.#signalling.request('produce', {
				transportId: transport.id,
				kind: stream.kind,
				rtpParameters: stream.rtpParameters(),
				appData: { source: 'synthetic' }
			});
			this.#producers.set(stream.kind, producerId);
		}
		if (this.closed) return;
		this.#sender.start();
	}

	/** Labels the consumer's stream in the sink, then asks the server to start it. */
	async #consume(notification: Notifications['newConsumer']): Promise<void> {
		const { consumerId, producerId, peerId, kind, rtpParameters, transportId } = notification;
		const ssrc = rtpParameters.encodings?.[0]?.ssrc;
		if (!this.#recvTransport || transportId !== this.#recvTransport.id || ssrc === undefined) {
			logger.warn('newConsumer not for our plain recv transport [consumerId:%s]', consumerId);
			return;
		}
		const received = this.#sink.watch({ remotePort: this.#recvTransport.port, ssrc, mimeType: rtpParameters.codecs[0]?.mimeType });
		const consumer: SyntheticConsumer = { consumerId, producerId, peerId, kind, received };
		this.#consumers.set(consumerId, consumer);
		this.emit('newconsumer', consumer);
		try {
			await this.#signalling.request('resumeConsumer', { consumerId });
		} catch (error) {
			// The consumer may have closed meanwhile (its producer left); that is not a failure.
			if (this.#consumers.has(consumerId) && !this.closed)
				logger.warn('resumeConsumer failed [consumerId:%s]: %s', consumerId, (error as Error).message);
		}
	}

	#onNotification(message: NotificationMessage): void {
		if (this.closed) return;
		switch (message.method) {
			case 'newConsumer':
				if (this.#recvConnected) void this.#consume(message.data);
				else this.#pending.push(message.data);
				break;
			case 'consumerClosed':
				this.#removeConsumer(message.data.consumerId);
				break;
			case 'peerJoined':
				this.#peers.set(message.data.id, message.data);
				this.emit('peerjoined', message.data);
				break;
			case 'peerLeft':
				for (const consumer of [...this.#consumers.values()]) {
					if (consumer.peerId === message.data.peerId) this.#removeConsumer(consumer.consumerId);
				}
				this.#peers.delete(message.data.peerId);
				this.emit('peerleft', message.data.peerId);
				break;
			case 'roomClosed':
				void this.#close(`room closed (${message.data.reason})`);
				break;
			// Synthetic peers do not react to pauses, scores, layers or speakers.
			case 'consumerPaused':
			case 'consumerResumed':
			case 'consumerLayersChanged':
			case 'consumerScore':
			case 'producerScore':
			case 'activeSpeaker':
				break;
		}
	}

	#removeConsumer(consumerId: string): void {
		const pendingIndex = this.#pending.findIndex((n) => n.consumerId === consumerId);
		if (pendingIndex >= 0) this.#pending.splice(pendingIndex, 1);
		const consumer = this.#consumers.get(consumerId);
		if (!consumer) return;
		this.#consumers.delete(consumerId);
		this.emit('consumerclosed', consumer);
	}
}
