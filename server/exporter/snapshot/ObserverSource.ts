import type { ObservedState } from '../../observer/ObservedState.js';
import type { Hello, RequestMethod, Requests } from '../../stream/protocol.js';

/**
 * What the exporter needs from the observer stream: the client's mirror of the state model and its
 * requests. ObserverStreamClient is one (in process or in scripts/exporter); the exporter never
 * touches mediasoup objects itself.
 */
export interface ObserverSource {
	/** The mirror; changes in place as events arrive, so the exporter copies what it keeps. */
	readonly state: Readonly<ObservedState>;
	/**
	 * The protocol `seq` of the last change applied to `state`: while it and the `state` object stay
	 * the same, no record in `state` has been added, replaced or removed.
	 */
	readonly seq: number;
	/** Connected and holding a snapshot: `state` is the server's. */
	readonly connected: boolean;
	readonly hello?: Hello;
	request<M extends RequestMethod>(
		method: M,
		params: Requests[M]['params'],
		options?: { timeoutMs?: number }
	): Promise<Requests[M]['result']>;
}
