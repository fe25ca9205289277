import type { Config } from '../../config/configSchema.js';
import type { Peer } from '../sfu/Peer.js';
import type { Room } from '../sfu/Room.js';
import type { NotificationMessage, RequestMethod, Requests } from '../contract/signalling.js';

/** What a handler may know about the socket it serves. */
export interface RequestSession {
	/** The joined peer, if any. */
	readonly peer: Peer | undefined;
	/** From the handshake's User-Agent header (truncated). */
	readonly userAgent: string;
	/** The socket comes from this machine (127.0.0.0/8 or ::1). */
	readonly fromLoopback: boolean;
	attachPeer(peer: Peer): void;
	notify(message: NotificationMessage): void;
}

/** Rooms by id, created on first use. Implemented by MeetingServer. */
export interface RoomDirectory {
	getOrCreateRoom(roomId: string): Promise<Room>;
}

export type RequestContext = {
	readonly session: RequestSession;
	readonly rooms: RoomDirectory;
	readonly config: Config;
	/** The joined peer, or a NotJoinedError. */
	requirePeer(): Peer;
	/** Runs `fn` right after the response is sent (so notifications about it follow the answer). */
	afterResponse(fn: () => void): void;
};

/** `data` has passed RequestValidator, so its fields have the contract's types. */
export type RequestHandler<M extends RequestMethod> = (
	ctx: RequestContext,
	data: Requests[M]['request']
) => Promise<Requests[M]['response']>;

export type RequestHandlers<K extends RequestMethod = RequestMethod> = { [M in K]: RequestHandler<M> };
