import type { RoomPlan } from './BenchTopology.js';

/** What the bench (parent) and its load process (scripts/bench/benchLoadChild.ts) say over IPC. */
export type LoadTotals = {
	peers: number;
	consumers: number;
	/** Consumers whose RTP has reached the sink. */
	receiving: number;
	sentPackets: number;
	recvPackets: number;
	/** RFC 3550 expected / lost at the sink, summed over every consumer's stream. */
	expected: number;
	lost: number;
	/** CPU time so far of the load process and its sink (ms). */
	cpuMs: number;
};

export type ToLoad =
	| { type: 'join'; url: string; rooms: RoomPlan[]; videoKbps: number; joinConcurrency: number; sinkSockets: number }
	| { type: 'totals' }
	| { type: 'close' };

export type FromLoad =
	| { type: 'joined'; peers: number; failures: number; firstError?: string }
	| { type: 'totals'; totals: LoadTotals }
	| { type: 'closed' }
	| { type: 'error'; message: string };
