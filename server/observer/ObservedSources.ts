/**
 * What the observer needs from the meeting server, its rooms and peers: only their public,
 * read-only facts and their `observer` emitters. Kept structural so the observer does not import
 * the SFU classes (and can be tested against anything with these shapes).
 */
import type { types as ms } from 'mediasoup';
import type { TypedEmitter } from '../base/TypedEmitter.js';
import type { ServerCounters } from '../sfu/MeetingCounters.js';

export type ClientType = 'browser' | 'synthetic';

export interface ObservedPeer {
	readonly id: string;
	readonly roomId: string;
	readonly displayName: string;
	readonly userAgent: string;
	readonly clientType: ClientType;
	/** ms since the epoch */
	readonly joinedAt: number;
	readonly observer: TypedEmitter<{ close: []; clienttypechange: [ClientType] }>;
}

export type ActiveSpeaker = { peerId: string | null; producerId: string | null };

export interface ObservedRoom {
	readonly id: string;
	readonly router: ms.Router;
	readonly workerPid: number;
	/** ms since the epoch */
	readonly createdAt: number;
	readonly peers: ReadonlyMap<string, ObservedPeer>;
	readonly observer: TypedEmitter<{ newpeer: [ObservedPeer]; activespeaker: [ActiveSpeaker]; close: [] }>;
}

export interface ObservedMeetingServer {
	readonly rooms: ReadonlyMap<string, ObservedRoom>;
	readonly observer: TypedEmitter<{ newroom: [ObservedRoom] }>;
	readonly counters: { snapshot(): ServerCounters };
}

/** The worker pool's monitoring side (server/sfu/WorkerPool.ts). */
export interface ObservedWorkerPool {
	readonly workers: ms.Worker[];
	readonly observer: TypedEmitter<{ newworker: [ms.Worker] }>;
	webRtcServerOf(worker: ms.Worker): ms.WebRtcServer | undefined;
}
