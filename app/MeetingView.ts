import type { MeetingClient, MediaSource, RemoteMedia, TransportDirection } from './MeetingClient.js';
import type { SignallingState } from './SignallingChannel.js';
import { VideoTile } from './VideoTile.js';

function byId<T extends HTMLElement>(id: string): T {
	const element = document.getElementById(id);
	if (!element) throw new TypeError(`index.html lacks #${id}`);
	return element as T;
}

/**
 * The meeting screen: a tile per participant (yours first), the connection state, the controls
 * and the error and notice banners. It renders what the MeetingClient reports and turns clicks
 * into client calls; it holds no meeting state of its own beyond the tiles.
 */
export class MeetingView {
	readonly #client: MeetingClient;
	readonly #grid = byId<HTMLElement>('grid');
	readonly #meeting = byId<HTMLElement>('meeting');
	readonly #form = byId<HTMLFormElement>('join-form');
	readonly #notice = byId<HTMLElement>('notice');
	readonly #error = byId<HTMLElement>('error');
	readonly #micButton = byId<HTMLButtonElement>('toggle-mic');
	readonly #camButton = byId<HTMLButtonElement>('toggle-cam');
	readonly #tiles = new Map<string, VideoTile>();
	#localTile?: VideoTile;
	#speakerPeerId: string | null = null;

	constructor({ client, onLeave }: { client: MeetingClient; onLeave: () => void }) {
		this.#client = client;
		client.on('signallingState', (state) => this.#setStatus('signalling', state));
		client.on('transportState', (direction, state) => this.#setStatus(direction, state));
		client.on('joined', ({ peers }) => {
			this.hideNotice();
			for (const peer of peers) this.#tile(peer.id);
		});
		client.on('peerJoined', (peer) => this.#tile(peer.id));
		client.on('peerLeft', (peerId) => {
			this.#tiles.get(peerId)?.remove();
			this.#tiles.delete(peerId);
		});
		client.on('consumerAdded', (media) => this.#showMedia(media));
		client.on('consumerPaused', (media) => this.#tile(media.peerId).setPaused(media.kind, media.paused));
		client.on('consumerRemoved', (media) => {
			const tile = this.#tiles.get(media.peerId);
			tile?.setTrack(media.kind, null);
			tile?.setPaused(media.kind, false);
		});
		client.on('activeSpeaker', (peerId) => this.#setSpeaker(peerId));
		client.on('sourcePaused', (source, paused) => this.#showSourcePaused(source, paused));
		client.on('interrupted', (reason) => this.showNotice(`${reason}; rejoining…`));
		// Rejoining gave up (the error says why): back to the form, so the user can try again.
		client.on('state', (state) => {
			if (state === 'failed') this.showJoinForm();
		});
		client.on('error', (error) => this.showError(error.message));
		this.#setStatus('signalling', client.signallingState);

		this.#micButton.addEventListener('click', () => this.#toggle('mic'));
		this.#camButton.addEventListener('click', () => this.#toggle('webcam'));
		byId('leave').addEventListener('click', onLeave);
		byId('error-dismiss').addEventListener('click', () => {
			this.#error.hidden = true;
		});
		// Sound that autoplay refused starts with the next click anywhere.
		document.addEventListener('autoplayblocked', () => this.showNotice('Click anywhere to hear the others.'));
		document.addEventListener('click', () => {
			for (const tile of this.#tiles.values()) tile.resumeAudio();
		});
	}

	/** Switches to the meeting screen with the local preview. */
	showMeeting({ roomId, displayName, stream }: { roomId: string; displayName: string; stream: MediaStream }): void {
		this.#form.hidden = true;
		this.#meeting.hidden = false;
		byId('room-label').textContent = `room ${roomId}`;
		document.title = `${roomId} · meter-sfu`;
		this.#localTile?.remove();
		this.#localTile = new VideoTile({ peerId: 'local', displayName, local: true });
		this.#localTile.setTrack('video', stream.getVideoTracks()[0] ?? null);
		this.#localTile.setPaused('video', stream.getVideoTracks().length === 0);
		this.#localTile.setPaused('audio', stream.getAudioTracks().length === 0);
		this.#grid.prepend(this.#localTile.element);
		this.#micButton.disabled = stream.getAudioTracks().length === 0;
		this.#camButton.disabled = stream.getVideoTracks().length === 0;
		this.#showSourcePaused('mic', this.#client.isSourcePaused('mic'));
		this.#showSourcePaused('webcam', this.#client.isSourcePaused('webcam'));
	}

	/** Back to the join form; all tiles go. */
	showJoinForm(): void {
		this.hideNotice();
		this.#localTile?.remove();
		this.#localTile = undefined;
		for (const tile of this.#tiles.values()) tile.remove();
		this.#tiles.clear();
		this.#meeting.hidden = true;
		this.#form.hidden = false;
		byId('room-label').textContent = '';
	}

	showError(message: string): void {
		byId('error-text').textContent = message;
		this.#error.hidden = false;
	}

	showNotice(message: string): void {
		this.#notice.textContent = message;
		this.#notice.hidden = false;
	}

	hideNotice(): void {
		this.#notice.hidden = true;
	}

	/** The remote tile of `peerId`, created (in join order) on first use. */
	#tile(peerId: string): VideoTile {
		let tile = this.#tiles.get(peerId);
		if (!tile) {
			const displayName = this.#client.peers.find((peer) => peer.id === peerId)?.displayName ?? 'someone';
			tile = new VideoTile({ peerId, displayName });
			tile.setSpeaking(peerId === this.#speakerPeerId);
			this.#tiles.set(peerId, tile);
			this.#grid.append(tile.element);
		}
		return tile;
	}

	#showMedia(media: RemoteMedia): void {
		const tile = this.#tile(media.peerId);
		tile.setTrack(media.kind, media.track);
		tile.setPaused(media.kind, media.paused);
	}

	#setSpeaker(peerId: string | null): void {
		this.#speakerPeerId = peerId;
		for (const [id, tile] of this.#tiles) tile.setSpeaking(id === peerId);
		this.#localTile?.setSpeaking(peerId !== null && peerId === this.#client.peerId);
	}

	#toggle(source: MediaSource): void {
		this.#client
			.setSourcePaused(source, !this.#client.isSourcePaused(source))
			.catch((error: unknown) => this.showError(error instanceof Error ? error.message : String(error)));
	}

	#showSourcePaused(source: MediaSource, paused: boolean): void {
		const button = source === 'mic' ? this.#micButton : this.#camButton;
		button.setAttribute('aria-pressed', String(paused));
		button.textContent = source === 'mic' ? (paused ? 'Unmute mic' : 'Mute mic') : paused ? 'Camera on' : 'Camera off';
		this.#localTile?.setPaused(source === 'mic' ? 'audio' : 'video', paused);
	}

	#setStatus(which: 'signalling' | TransportDirection, state: SignallingState | RTCPeerConnectionState): void {
		const item = byId(`status-${which}`);
		item.dataset.state = state;
		item.querySelector('b')!.textContent = state;
	}
}
