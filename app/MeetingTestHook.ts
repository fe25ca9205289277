import type { InboundVideoStats, MeetingClient, MeetingState } from './MeetingClient.js';
import type { SignallingState } from './SignallingChannel.js';

/** What `window.meeting.getStats()` answers; end-to-end tests read it instead of the DOM. */
export type MeetingTestStats = {
	state: MeetingState;
	peerId: string | null;
	roomId: string;
	signalling: SignallingState;
	sendTransport: RTCPeerConnectionState;
	recvTransport: RTCPeerConnectionState;
	/** Remote peers by name, including those whose video has not arrived yet. */
	peers: { peerId: string; displayName: string }[];
	/** Inbound video per remote peer (frames decoded, bytes received), from RTCStatsReports. */
	inboundVideo: InboundVideoStats[];
};

export type MeetingTestHook = { readonly state: MeetingState; getStats(): Promise<MeetingTestStats> };

declare global {
	interface Window {
		meeting?: MeetingTestHook;
	}
}

/** Exposes a read-only summary of the meeting as `window.meeting`. */
export function installTestHook(client: MeetingClient): void {
	window.meeting = {
		get state() {
			return client.state;
		},
		async getStats() {
			return {
				state: client.state,
				peerId: client.peerId ?? null,
				roomId: client.roomId,
				signalling: client.signallingState,
				sendTransport: client.transportState('send'),
				recvTransport: client.transportState('recv'),
				peers: client.peers.map(({ id, displayName }) => ({ peerId: id, displayName })),
				inboundVideo: await client.getInboundVideoStats()
			};
		}
	};
}
