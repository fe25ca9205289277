/**
 * One participant in the grid: video, name, and badges for a muted mic, a camera that is off and
 * the active speaker. Audio plays through its own element so that a blocked autoplay of sound
 * never stops the picture.
 */
export class VideoTile {
	readonly element: HTMLElement;
	readonly #video: HTMLVideoElement;
	readonly #audio?: HTMLAudioElement;
	readonly #name: HTMLElement;
	readonly #videoStream = new MediaStream();
	readonly #audioStream = new MediaStream();
	#hasVideo = false;

	constructor({ peerId, displayName, local = false }: { peerId: string; displayName: string; local?: boolean }) {
		this.element = document.createElement('figure');
		this.element.className = local ? 'tile local' : 'tile';
		this.element.dataset.peerId = peerId;
		this.#video = document.createElement('video');
		this.#video.autoplay = true;
		this.#video.playsInline = true;
		// Video elements carry no sound here; muted also lets autoplay start without a gesture.
		this.#video.muted = true;
		this.#video.srcObject = this.#videoStream;
		const placeholder = document.createElement('div');
		placeholder.className = 'placeholder';
		placeholder.textContent = initials(displayName);
		this.#name = document.createElement('figcaption');
		this.#name.className = 'name';
		this.#name.textContent = local ? `${displayName} (you)` : displayName;
		const badges = document.createElement('div');
		badges.className = 'badges';
		badges.innerHTML =
			'<span class="badge mic-off" title="microphone off">mic off</span>' +
			'<span class="badge cam-off" title="camera off">camera off</span>';
		this.element.append(this.#video, placeholder, this.#name, badges);
		if (!local) {
			this.#audio = document.createElement('audio');
			this.#audio.autoplay = true;
			this.#audio.srcObject = this.#audioStream;
			this.element.append(this.#audio);
		}
		this.#update();
	}

	/** Shows `track` (replacing any track of the same kind) or clears that kind with null. */
	setTrack(kind: 'audio' | 'video', track: MediaStreamTrack | null): void {
		const stream = kind === 'video' ? this.#videoStream : this.#audioStream;
		for (const old of stream.getTracks()) stream.removeTrack(old);
		if (track) stream.addTrack(track);
		if (kind === 'video') {
			this.#hasVideo = track !== null;
			// Re-assigning srcObject makes the element pick up the changed track list.
			this.#video.srcObject = this.#videoStream;
		} else if (this.#audio && track) {
			this.#audio.srcObject = this.#audioStream;
			this.#playAudio();
		}
		this.#update();
	}

	setPaused(kind: 'audio' | 'video', paused: boolean): void {
		this.element.classList.toggle(kind === 'audio' ? 'mic-paused' : 'cam-paused', paused);
		this.#update();
	}

	setSpeaking(speaking: boolean): void {
		this.element.classList.toggle('speaking', speaking);
	}

	/** Retries audio playback after a user gesture unblocked autoplay. */
	resumeAudio(): void {
		if (this.#audio?.paused && this.#audioStream.getTracks().length > 0) this.#playAudio();
	}

	#playAudio(): void {
		// Browsers refuse sound before a user gesture (e.g. after an autojoin link): tell the page.
		this.#audio?.play().catch(() => this.element.dispatchEvent(new CustomEvent('autoplayblocked', { bubbles: true })));
	}

	remove(): void {
		this.#video.srcObject = null;
		if (this.#audio) this.#audio.srcObject = null;
		this.element.remove();
	}

	#update(): void {
		this.element.classList.toggle('no-video', !this.#hasVideo || this.element.classList.contains('cam-paused'));
	}
}

function initials(name: string): string {
	return (
		name
			.split(/\s+/)
			.filter(Boolean)
			.slice(0, 2)
			.map((word) => [...word][0]!.toUpperCase())
			.join('') || '?'
	);
}
