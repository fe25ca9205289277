import type { RoomPlan } from './BenchTopology.js';

/** What the bench (parent) and its load process (tools/bench/benchLoadChild.ts) say over IPC. */
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

/** `native`: tools/bench/rtp-sink.c in a process of its own; `node`: tools/synthetic/RtpSink in the load process. */
export type SinkKind = 'native' | 'node';

export type ToLoad =
	| { type: 'join'; url: string; rooms: RoomPlan[]; videoKbps: number; joinConcurrency: number; sinkSockets: number; sink: SinkKind }
	| { type: 'totals' }
	| { type: 'close' };

export type FromLoad =
	| { type: 'joined'; peers: number; failures: number; firstError?: string }
	| { type: 'totals'; totals: LoadTotals }
	| { type: 'closed' }
	| { type: 'error'; message: string };
