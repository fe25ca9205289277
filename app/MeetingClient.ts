import { Device, enhancedEvents, type types as mc } from 'mediasoup-client';
import type {
	NotificationMessage,
	Notifications,
	PeerInfo,
	RtpCapabilities,
	RtpParameters,
	TransportOptions
} from '../server/contract/signalling.js';
import { SignallingChannel, type SignallingState } from './SignallingChannel.js';

export type MeetingState = 'idle' | 'joining' | 'joined' | 'rejoining' | 'left' | 'failed';
export type TransportDirection = 'send' | 'recv';
export type MediaSource = 'mic' | 'webcam';

/** A remote track as the UI needs it. */
export type RemoteMedia = { consumerId: string; peerId: string; kind: mc.MediaKind; track: MediaStreamTrack; paused: boolean };

/** Inbound video of one remote peer, summed over its video consumers. */
export type InboundVideoStats = {
	peerId: string;
	displayName: string;
	framesDecoded: number;
	bytesReceived: number;
	frameWidth: number;
	frameHeight: number;
};

export type MeetingClientEvents = {
	state: [MeetingState];
	signallingState: [SignallingState];
	transportState: [TransportDirection, mc.ConnectionState];
	joined: [{ peerId: string; peers: PeerInfo[] }];
	peerJoined: [PeerInfo];
	peerLeft: [string];
	consumerAdded: [RemoteMedia];
	consumerRemoved: [RemoteMedia];
	consumerPaused: [RemoteMedia];
	activeSpeaker: [string | null];
	sourcePaused: [MediaSource, boolean];
	/** The room went away under us (room closed, signalling dropped); `rejoining` follows. */
	interrupted: [string];
	error: [Error];
};

export class MeetingStateError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'MeetingStateError';
	}
}

type Session = {
	device: Device;
	peerId: string;
	sendTransport: mc.Transport;
	recvTransport: mc.Transport;
	producers: Map<MediaSource, mc.Producer>;
	consumers: Map<string, { consumer: mc.Consumer; media: RemoteMedia }>;
};

const REJOIN_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

/**
 * One participant's meeting: signalling, the mediasoup-client Device, a send and a receive
 * transport, a producer per local source and a consumer per remote track. The UI listens to its
 * events and never touches mediasoup-client objects.
 *
 * When the room closes or signalling drops, the client tears its transports down and joins again
 * with the same local tracks (the server forgets a peer whose socket dropped).
 */
export class MeetingClient extends enhancedEvents.EnhancedEventEmitter<MeetingClientEvents> {
	readonly #signalling: SignallingChannel;
	#state: MeetingState = 'idle';
	#roomId = '';
	#displayName = '';
	#stream?: MediaStream;
	#session?: Session;
	/** The server holds a peer for us (join answered, no leave/roomClosed/disconnect since). */
	#joinedOnServer = false;
	/** Notifications that arrive before the session exists (e.g. newConsumer right after join). */
	#pending: Notifications['newConsumer'][] = [];
	readonly #peers = new Map<string, PeerInfo>();
	readonly #sourcePaused: Record<MediaSource, boolean> = { mic: false, webcam: false };
	readonly #simulcast: boolean;
	#rejoinTimer?: ReturnType<typeof setTimeout>;
	#rejoinAttempt = 0;
	#closed = false;

	constructor({ simulcast = false, url }: { simulcast?: boolean; url?: string } = {}) {
		super();
		this.#simulcast = simulcast;
		this.#signalling = new SignallingChannel({ url });
		this.#signalling.on('state', (state) => this.#onSignallingState(state));
		this.#signalling.on('notification', (message) => this.#onNotification(message));
	}

	get state(): MeetingState {
		return this.#state;
	}
	get signallingState(): SignallingState {
		return this.#signalling.state;
	}
	get peerId(): string | undefined {
		return this.#session?.peerId;
	}
	get roomId(): string {
		return this.#roomId;
	}
	get peers(): PeerInfo[] {
		return [...this.#peers.values()];
	}
	isSourcePaused(source: MediaSource): boolean {
		return this.#sourcePaused[source];
	}

	transportState(direction: TransportDirection): mc.ConnectionState {
		const transport = direction === 'send' ? this.#session?.sendTransport : this.#session?.recvTransport;
		return transport?.connectionState ?? 'new';
	}

	/** Joins `roomId` and sends the tracks of `stream` (one audio, one video at most). */
	async join({ roomId, displayName, stream }: { roomId: string; displayName: string; stream: MediaStream }): Promise<void> {
		if (this.#closed) throw new MeetingStateError('client closed');
		if (this.#state === 'joining' || this.#state === 'joined' || this.#state === 'rejoining') {
			throw new MeetingStateError(`cannot join while ${this.#state}`);
		}
		this.#roomId = roomId;
		this.#displayName = displayName;
		this.#stream = stream;
		this.#setState('joining');
		try {
			await this.#connectSession();
			this.#rejoinAttempt = 0;
			this.#setState('joined');
		} catch (error) {
			await this.#abandonSession();
			// leave() meanwhile set 'left': keep that.
			if (this.state === 'joining') this.#setState('failed');
			throw error;
		}
	}

	/** Leaves the room and stops the local tracks. */
	async leave(): Promise<void> {
		clearTimeout(this.#rejoinTimer);
		this.#rejoinTimer = undefined;
		this.#stopLocalTracks();
		this.#setState('left');
		await this.#abandonSession();
	}

	/** Pauses or resumes a local source; the choice survives a rejoin. */
	async setSourcePaused(source: MediaSource, paused: boolean): Promise<void> {
		this.#sourcePaused[source] = paused;
		this.emit('sourcePaused', source, paused);
		const producer = this.#session?.producers.get(source);
		if (!producer || producer.paused === paused) return;
		if (paused) {
			producer.pause();
			await this.#signalling.request('pauseProducer', { producerId: producer.id });
		} else {
			producer.resume();
			await this.#signalling.request('resumeProducer', { producerId: producer.id });
		}
	}

	/** Inbound video per remote peer, from the browser's RTCStatsReports. */
	async getInboundVideoStats(): Promise<InboundVideoStats[]> {
		const byPeer = new Map<string, InboundVideoStats>();
		const consumers = [...(this.#session?.consumers.values() ?? [])].filter(({ media }) => media.kind === 'video');
		await Promise.all(
			consumers.map(async ({ consumer, media }) => {
				const report = await consumer.getStats();
				const entry = byPeer.get(media.peerId) ?? {
					peerId: media.peerId,
					displayName: this.#peers.get(media.peerId)?.displayName ?? '',
					framesDecoded: 0,
					bytesReceived: 0,
					frameWidth: 0,
					frameHeight: 0
				};
				report.forEach((stat: Record<string, unknown>) => {
					if (stat.type !== 'inbound-rtp' || stat.kind !== 'video') return;
					entry.framesDecoded += Number(stat.framesDecoded ?? 0);
					entry.bytesReceived += Number(stat.bytesReceived ?? 0);
					entry.frameWidth = Math.max(entry.frameWidth, Number(stat.frameWidth ?? 0));
					entry.frameHeight = Math.max(entry.frameHeight, Number(stat.frameHeight ?? 0));
				});
				byPeer.set(media.peerId, entry);
			})
		);
		return [...byPeer.values()];
	}

	override close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearTimeout(this.#rejoinTimer);
		this.#teardown();
		this.#stopLocalTracks();
		this.#signalling.close();
		this.#setState('left');
		super.close();
	}

	async #connectSession(): Promise<void> {
		await this.#signalling.waitConnected();
		const { routerRtpCapabilities } = await this.#signalling.request('getRouterRtpCapabilities', { roomId: this.#roomId });
		// A fresh Device per session: after a worker died the room may live on another router.
		const device = await Device.factory();
		await device.load({ routerRtpCapabilities: routerRtpCapabilities as mc.RtpCapabilities });
		const joined = await this.#signalling.request('join', {
			roomId: this.#roomId,
			displayName: this.#displayName,
			// mediasoup-client's and mediasoup's types describe the same JSON; the server validates it.
			rtpCapabilities: device.rtpCapabilities as RtpCapabilities
		});
		this.#joinedOnServer = true;
		this.#assertJoining();
		this.#peers.clear();
		for (const peer of joined.peers) this.#peers.set(peer.id, peer);
		this.emit('joined', { peerId: joined.peerId, peers: joined.peers });

		const sendTransport = device.createSendTransport(await this.#createTransport('send'));
		const recvTransport = device.createRecvTransport(await this.#createTransport('recv'));
		this.#assertJoining(() => {
			sendTransport.close();
			recvTransport.close();
		});
		const session: Session = {
			device,
			peerId: joined.peerId,
			sendTransport,
			recvTransport,
			producers: new Map(),
			consumers: new Map()
		};
		this.#session = session;
		this.#wireTransport(sendTransport, 'send');
		this.#wireTransport(recvTransport, 'recv');
		sendTransport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
			this.#signalling
				.request('produce', {
					transportId: sendTransport.id,
					kind,
					rtpParameters: rtpParameters as RtpParameters,
					paused: appData.paused === true,
					appData: { source: appData.source as MediaSource }
				})
				.then(({ producerId }) => callback({ id: producerId }), errback);
		});
		for (const notification of this.#pending.splice(0)) void this.#consume(session, notification);

		for (const track of this.#stream?.getTracks() ?? []) {
			const source: MediaSource = track.kind === 'audio' ? 'mic' : 'webcam';
			if (session.producers.has(source) || !device.canProduce(track.kind as mc.MediaKind)) continue;
			await this.#produce(session, source, track);
			this.#assertJoining();
		}
	}

	/** leave() or close() while a (re)join is under way ends that join. */
	#assertJoining(cleanUp?: () => void): void {
		if (this.#state === 'joining' || this.#state === 'rejoining') return;
		cleanUp?.();
		throw new MeetingStateError(`${this.#state} while joining`);
	}

	async #createTransport(direction: TransportDirection): Promise<mc.TransportOptions> {
		const options: TransportOptions = await this.#signalling.request('createWebRtcTransport', { direction });
		return options as mc.TransportOptions;
	}

	#wireTransport(transport: mc.Transport, direction: TransportDirection): void {
		transport.on('connect', ({ dtlsParameters }, callback, errback) => {
			this.#signalling
				.request('connectWebRtcTransport', { transportId: transport.id, dtlsParameters })
				.then(() => callback(), errback);
		});
		transport.on('connectionstatechange', (state) => {
			this.emit('transportState', direction, state);
			if (state === 'failed') this.#emitError(new Error(`${direction} transport failed (no media path to the server)`));
		});
		this.emit('transportState', direction, transport.connectionState);
	}

	async #produce(session: Session, source: MediaSource, track: MediaStreamTrack): Promise<void> {
		const paused = this.#sourcePaused[source];
		const appData = { source, paused };
		// stopTracks: false keeps the local tracks alive across a rejoin; leave() stops them.
		const producer =
			source === 'webcam'
				? await session.sendTransport.produce({
						track,
						appData,
						stopTracks: false,
						encodings: this.#simulcast
							? [
									{ scaleResolutionDownBy: 4, maxBitrate: 150_000 },
									{ scaleResolutionDownBy: 2, maxBitrate: 400_000 },
									{ maxBitrate: 900_000 }
								]
							: [{ maxBitrate: 600_000 }],
						codecOptions: { videoGoogleStartBitrate: 500 }
					})
				: await session.sendTransport.produce({
						track,
						appData,
						stopTracks: false,
						codecOptions: { opusDtx: true, opusFec: true }
					});
		if (paused) producer.pause();
		session.producers.set(source, producer);
		producer.on('transportclose', () => session.producers.delete(source));
	}

	async #consume(session: Session, notification: Notifications['newConsumer']): Promise<void> {
		const { consumerId, producerId, peerId, kind, rtpParameters, producerPaused } = notification;
		try {
			const consumer = await session.recvTransport.consume({
				id: consumerId,
				producerId,
				kind,
				rtpParameters: rtpParameters as mc.RtpParameters
			});
			if (this.#session !== session) {
				consumer.close();
				return;
			}
			const media: RemoteMedia = { consumerId, peerId, kind, track: consumer.track, paused: producerPaused };
			session.consumers.set(consumerId, { consumer, media });
			consumer.on('transportclose', () => session.consumers.delete(consumerId));
			this.emit('consumerAdded', media);
			await this.#signalling.request('resumeConsumer', { consumerId });
		} catch (error) {
			this.#emitError(error);
		}
	}

	#removeConsumer(consumerId: string): void {
		const entry = this.#session?.consumers.get(consumerId);
		if (!entry) return;
		this.#session!.consumers.delete(consumerId);
		entry.consumer.close();
		this.emit('consumerRemoved', entry.media);
	}

	#setConsumerPaused(consumerId: string, paused: boolean): void {
		const entry = this.#session?.consumers.get(consumerId);
		if (!entry) return;
		entry.media.paused = paused;
		this.emit('consumerPaused', entry.media);
	}

	#onNotification(message: NotificationMessage): void {
		switch (message.method) {
			case 'newConsumer':
				if (this.#session) void this.#consume(this.#session, message.data);
				else this.#pending.push(message.data);
				break;
			case 'consumerClosed':
				this.#removeConsumer(message.data.consumerId);
				break;
			case 'consumerPaused':
				this.#setConsumerPaused(message.data.consumerId, true);
				break;
			case 'consumerResumed':
				this.#setConsumerPaused(message.data.consumerId, false);
				break;
			case 'peerJoined':
				this.#peers.set(message.data.id, message.data);
				this.emit('peerJoined', message.data);
				break;
			case 'peerLeft':
				this.#onPeerLeft(message.data.peerId);
				break;
			case 'activeSpeaker':
				this.emit('activeSpeaker', message.data.peerId);
				break;
			case 'roomClosed':
				this.#interrupt(`the room was closed (${message.data.reason})`);
				break;
			// Scores and layer changes are not shown in this app.
			case 'consumerLayersChanged':
			case 'consumerScore':
			case 'producerScore':
				break;
		}
	}

	#onPeerLeft(peerId: string): void {
		for (const [consumerId, { media }] of this.#session?.consumers ?? []) {
			if (media.peerId === peerId) this.#removeConsumer(consumerId);
		}
		if (this.#peers.delete(peerId)) this.emit('peerLeft', peerId);
	}

	#onSignallingState(state: SignallingState): void {
		this.emit('signallingState', state);
		if (state !== 'connected' && this.#state === 'joined') {
			this.#interrupt('lost the connection to the server');
		} else if (state === 'connected' && this.#state === 'rejoining' && this.#rejoinTimer === undefined) {
			this.#scheduleRejoin();
		}
	}

	/** The server-side peer is gone: drop everything remote and join again with the same tracks. */
	#interrupt(reason: string): void {
		if (this.#state !== 'joined') return;
		// The server has dropped our peer already: nothing to leave.
		this.#joinedOnServer = false;
		this.#teardown();
		this.#setState('rejoining');
		this.emit('interrupted', reason);
		if (this.#signalling.state === 'connected') this.#scheduleRejoin();
	}

	#scheduleRejoin(): void {
		const delay = REJOIN_DELAYS_MS[this.#rejoinAttempt];
		if (delay === undefined) {
			this.#stopLocalTracks();
			this.#setState('failed');
			this.#emitError(new Error(`could not rejoin room "${this.#roomId}" after ${REJOIN_DELAYS_MS.length} attempts`));
			return;
		}
		this.#rejoinAttempt++;
		this.#rejoinTimer = setTimeout(() => {
			this.#rejoinTimer = undefined;
			if (this.#state !== 'rejoining' || this.#signalling.state !== 'connected') return;
			this.#connectSession().then(
				() => {
					this.#rejoinAttempt = 0;
					this.#setState('joined');
				},
				async (error: unknown) => {
					await this.#abandonSession();
					if (this.#state !== 'rejoining') return;
					// Retries are expected (e.g. while a replacement worker starts): a notice, not an error.
					this.emit('interrupted', `could not rejoin yet (${error instanceof Error ? error.message : String(error)})`);
					if (this.#signalling.state === 'connected') this.#scheduleRejoin();
				}
			);
		}, delay);
	}

	/** Tears the session down and, if the server still holds our peer, leaves so a later join is clean. */
	async #abandonSession(): Promise<void> {
		const joinedOnServer = this.#joinedOnServer;
		this.#joinedOnServer = false;
		this.#teardown();
		if (joinedOnServer && this.#signalling.state === 'connected') {
			await this.#signalling.request('leave', {}).catch((error: unknown) => this.#emitError(error));
		}
	}

	#stopLocalTracks(): void {
		for (const track of this.#stream?.getTracks() ?? []) track.stop();
		this.#stream = undefined;
	}

	/** Closes transports (which closes producers and consumers) and tells the UI what went away. */
	#teardown(): void {
		const session = this.#session;
		this.#session = undefined;
		this.#pending = [];
		if (session) {
			for (const { media } of session.consumers.values()) this.emit('consumerRemoved', media);
			session.consumers.clear();
			session.producers.clear();
			session.sendTransport.close();
			session.recvTransport.close();
			this.emit('transportState', 'send', 'closed');
			this.emit('transportState', 'recv', 'closed');
		}
		for (const peerId of [...this.#peers.keys()]) {
			this.#peers.delete(peerId);
			this.emit('peerLeft', peerId);
		}
		this.emit('activeSpeaker', null);
	}

	#setState(state: MeetingState): void {
		if (state === this.#state) return;
		this.#state = state;
		this.emit('state', state);
	}

	#emitError(error: unknown): void {
		this.emit('error', error instanceof Error ? error : new Error(String(error)));
	}
}
