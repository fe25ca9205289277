/**
 * Page wiring: the join form, the URL contract and the test hook.
 *
 * URL contract (operators and tests rely on it):
 *   /?room=ROOM&name=NAME            fills the join form
 *   /?room=ROOM&name=NAME&autojoin=1 joins at once, sending camera and microphone
 *                                    (a NAME past MAX_DISPLAY_NAME_LENGTH characters is cut to it)
 *   &simulcast=1                     sends the camera in three simulcast layers
 *   &video=0 / &audio=0              sends no camera / no microphone
 */
import { MeetingClient } from './MeetingClient.js';
import { MeetingView } from './MeetingView.js';
import { installTestHook } from './MeetingTestHook.js';

/**
 * The server's default limit, config/config.example.js `room.maxDisplayNameLength`: the app cannot
 * read the server's config, so a server configured lower still answers a longer name with its error.
 */
const MAX_DISPLAY_NAME_LENGTH = 64;

const params = new URLSearchParams(location.search);
const client = new MeetingClient({ simulcast: params.get('simulcast') === '1' });
const view = new MeetingView({ client, onLeave: () => void leave() });
installTestHook(client);

const form = document.getElementById('join-form') as HTMLFormElement;
const roomInput = document.getElementById('room') as HTMLInputElement;
const nameInput = document.getElementById('name') as HTMLInputElement;
const videoBox = document.getElementById('send-video') as HTMLInputElement;
const audioBox = document.getElementById('send-audio') as HTMLInputElement;
const joinButton = document.getElementById('join') as HTMLButtonElement;

// Typing stops at the limit. maxlength counts UTF-16 units (an emoji is two), the server code points,
// so a typed name is never too long; a value set from script is not held to maxlength, hence the clamp.
nameInput.maxLength = MAX_DISPLAY_NAME_LENGTH;
roomInput.value = params.get('room') ?? '';
nameInput.value = clampDisplayName(params.get('name') ?? '');
videoBox.checked = params.get('video') !== '0';
audioBox.checked = params.get('audio') !== '0';

form.addEventListener('submit', (event) => {
	event.preventDefault();
	void join();
});

if (params.get('autojoin') === '1') {
	if (!roomInput.value) roomInput.value = 'lobby';
	if (!nameInput.value) nameInput.value = `guest-${Math.random().toString(36).slice(2, 6)}`;
	void join();
}

async function join(): Promise<void> {
	const roomId = roomInput.value.trim();
	const displayName = clampDisplayName(nameInput.value);
	if (!roomId || !displayName) {
		view.showError('Enter a room and your name.');
		return;
	}
	joinButton.disabled = true;
	let stream: MediaStream;
	try {
		stream = await openLocalMedia({ video: videoBox.checked, audio: audioBox.checked });
	} catch (error) {
		joinButton.disabled = false;
		view.showError(`Camera or microphone unavailable: ${describe(error)}`);
		return;
	}
	view.showMeeting({ roomId, displayName, stream });
	try {
		await client.join({ roomId, displayName, stream });
		// Keep the URL shareable (and a reload joins the same room).
		const url = new URL(location.href);
		url.searchParams.set('room', roomId);
		url.searchParams.set('name', displayName);
		history.replaceState(null, '', url);
	} catch (error) {
		for (const track of stream.getTracks()) track.stop();
		view.showJoinForm();
		view.showError(`Could not join: ${describe(error)}`);
	} finally {
		joinButton.disabled = false;
	}
}

async function leave(): Promise<void> {
	await client.leave();
	view.showJoinForm();
	view.showNotice('You left the meeting.');
}

async function openLocalMedia({ video, audio }: { video: boolean; audio: boolean }): Promise<MediaStream> {
	if (!video && !audio) return new MediaStream();
	return navigator.mediaDevices.getUserMedia({
		audio: audio ? { echoCancellation: true, noiseSuppression: true } : false,
		video: video ? { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } } : false
	});
}

/**
 * `name` trimmed and cut to MAX_DISPLAY_NAME_LENGTH code points, which is how the server counts
 * (server/contract/signallingSchemas.ts `displayName`); cutting between code points never splits a
 * surrogate pair.
 */
function clampDisplayName(name: string): string {
	return Array.from(name.trim()).slice(0, MAX_DISPLAY_NAME_LENGTH).join('').trim();
}

function describe(error: unknown): string {
	return error instanceof Error ? error.message || error.name : String(error);
}
