/**
 * The observer stream protocol: newline-delimited JSON over a Unix domain socket.
 *
 * On connect the server sends `hello` then `snapshot` (the whole ObservedState), then one `event`
 * per change, in order (`seq` increases by one per event; a snapshot carries the seq it is current
 * to). A client sends `request`s and gets one `response` each (matched by `id`), interleaved with
 * events. A malformed or oversized line gets an `error` reply and the connection stays open; a
 * client that lets its unsent backlog pass the server's bound is disconnected.
 */
import type { EntityKind, EntityKinds, ObservedState } from '../observer/ObservedState.js';

export const PROTOCOL_VERSION = 2;
/** Longest line a client may send, in bytes. */
export const MAX_CLIENT_LINE_BYTES = 64 * 1024;

export type Hello = {
	type: 'hello';
	protocol: 'meter-sfu-observer';
	version: typeof PROTOCOL_VERSION;
	server: { pid: number; version: string; startedAt: number; mediasoupVersion: string };
};

export type Snapshot = { type: 'snapshot'; seq: number; state: ObservedState };

/** One change. `add` and `update` carry the whole new record; `remove` only the id. */
export type StateEvent = {
	[K in EntityKind]:
		| { type: 'event'; seq: number; op: 'add' | 'update'; entity: K; id: string; record: EntityKinds[K] }
		| { type: 'event'; seq: number; op: 'remove'; entity: K; id: string };
}[EntityKind];

export type ProtocolError = { name: string; message: string };

export type ResponseMessage =
	| { type: 'response'; id: string | number; ok: true; result: unknown }
	| { type: 'response'; id: string | number; ok: false; error: ProtocolError };

/** Sent for a line that is not a valid request (no id to answer to). */
export type ErrorMessage = { type: 'error'; error: ProtocolError };

export type ServerMessage = Hello | Snapshot | StateEvent | ResponseMessage | ErrorMessage;

export type { ServerCounters } from '../sfu/MeetingCounters.js';
import type { ServerCounters } from '../sfu/MeetingCounters.js';

export type Requests = {
	/**
	 * getStats() of the given transports, producers and consumers, concurrently, with a deadline.
	 * `concurrency` lowers the server's bound on getStats() in flight for this request (a client
	 * splitting one sweep over several requests splits the bound too); `fields` keeps only those
	 * keys (and `type`) of every entry; `ownEntriesOnly` leaves out the copy of its producer's
	 * `inbound-rtp` entry that ends a consumer's stats; `rows` (with `fields`) sends each entry as
	 * the array of its values of `fields`, in that order, null where it has none (`type` only if
	 * asked for). The last three only make answers smaller and cheaper.
	 */
	getStats: {
		params: { ids: string[]; timeoutMs?: number; concurrency?: number; fields?: string[]; ownEntriesOnly?: boolean; rows?: boolean };
		result: { stats: Record<string, unknown[]>; errors: Record<string, string>; timedOut: string[] };
	};
	/** dump() of one object. */
	dump: {
		params: { entity: 'worker' | 'webRtcServer' | 'router' | 'transport' | 'producer' | 'consumer'; id: string };
		result: unknown;
	};
	/** CPU and memory of the server process and each worker. */
	usage: {
		params: Record<string, never>;
		result: {
			server: { pid: number; cpuUserSeconds: number; cpuSystemSeconds: number; rssBytes: number; heapUsedBytes: number };
			workers: { pid: number; cpuUserSeconds: number; cpuSystemSeconds: number; maxRssBytes: number }[];
		};
	};
	counters: { params: Record<string, never>; result: ServerCounters };
	/** Sets the `debug` namespaces (e.g. 'meter-sfu*'); answers the namespaces in force. Without `namespaces` it only answers. */
	setLogLevel: { params: { namespaces?: string }; result: { namespaces: string } };
	/** A fresh snapshot (for a client that lost track). */
	snapshot: { params: Record<string, never>; result: Snapshot };
};

export type RequestMethod = keyof Requests;

export type RequestMessage = {
	[M in RequestMethod]: { type: 'request'; id: string | number; method: M; params: Requests[M]['params'] };
}[RequestMethod];
