/**
 * The bench's load: synthetic peers in a process of their own and the RTP sink in another
 * (NativeRtpSink, by default), so the bench's scraping and sweeping (in the server's process)
 * cannot stall the sink and show up as loss, and receiving ~100,000 packets/s does not take a core
 * from the server (`--sink node` puts tools/synthetic/RtpSink in this process instead).
 * Driven over IPC by BenchLoad (tools/bench/BenchLoad.ts).
 */
import '../../server/workerBinary.js';
import { SyntheticPeer } from '../synthetic/SyntheticPeer.js';
import { NativeRtpSink } from './NativeRtpSink.js';
import { RtpSink } from '../synthetic/RtpSink.js';
import type { FromLoad, LoadTotals, ToLoad } from './benchLoadMessages.js';

let sink: NativeRtpSink | RtpSink | undefined;
const peers: SyntheticPeer[] = [];

function send(message: FromLoad): void {
	process.send?.(message);
}

async function join({ url, rooms, videoKbps, joinConcurrency, sinkSockets, sink: kind }: Extract<ToLoad, { type: 'join' }>): Promise<void> {
	sink ??= kind === 'native' ? await NativeRtpSink.create({ sockets: sinkSockets }) : await RtpSink.create({ sockets: sinkSockets });
	const jobs: { roomId: string; name: string; sends: boolean }[] = [];
	for (const room of rooms) {
		for (let i = 1; i <= room.senders; i++) jobs.push({ roomId: room.roomId, name: `${room.roomId}-sender-${i}`, sends: true });
		for (let i = 1; i <= room.receivers; i++) jobs.push({ roomId: room.roomId, name: `${room.roomId}-receiver-${i}`, sends: false });
	}
	let failures = 0;
	let firstError: string | undefined;
	const worker = async (): Promise<void> => {
		for (let job = jobs.shift(); job; job = jobs.shift()) {
			try {
				peers.push(
					await SyntheticPeer.create({
						url,
						roomId: job.roomId,
						displayName: job.name,
						audio: job.sends,
						video: job.sends,
						videoBitrate: videoKbps * 1000,
						sink: sink!
					})
				);
			} catch (error) {
				failures++;
				firstError ??= (error as Error).message;
			}
		}
	};
	await Promise.all(Array.from({ length: joinConcurrency }, worker));
	send({ type: 'joined', peers: peers.length, failures, firstError });
}

async function totals(): Promise<LoadTotals> {
	// The node sink counts in this process (and its CPU is this process's); the native one in its own.
	const native = sink instanceof NativeRtpSink ? sink : undefined;
	await native?.refresh();
	const cpu = process.cpuUsage();
	const cpuMs = (cpu.user + cpu.system) / 1000 + (native?.cpuMs ?? 0);
	const out: LoadTotals = {
		peers: peers.length,
		consumers: 0,
		receiving: 0,
		sentPackets: 0,
		recvPackets: 0,
		expected: 0,
		lost: 0,
		cpuMs
	};
	for (const peer of peers) {
		const { sent, received } = peer.stats();
		out.sentPackets += (sent.audio?.packets ?? 0) + (sent.video?.packets ?? 0);
		out.consumers += received.consumers;
		out.receiving += received.receiving;
		out.recvPackets += received.packets;
		out.expected += received.expected;
		out.lost += received.lost;
	}
	return out;
}

async function close(): Promise<void> {
	await Promise.all(peers.map((peer) => peer.close()));
	sink?.close();
	send({ type: 'closed' });
	process.disconnect?.();
}

process.on('message', (message: ToLoad) => {
	const run = async (): Promise<void> => {
		switch (message.type) {
			case 'join':
				return join(message);
			case 'totals':
				return send({ type: 'totals', totals: await totals() });
			case 'close':
				return close();
		}
	};
	run().catch((error: Error) => send({ type: 'error', message: error.stack ?? error.message }));
});
// The bench died or closed the channel: nothing is left to measure for.
process.on('disconnect', () => {
	void Promise.all(peers.map((peer) => peer.close())).finally(() => process.exit(0));
});
