import type dgram from 'node:dgram';
import { once } from 'node:events';
import { type SignallingClient } from '../../tools/synthetic/SignallingClient.js';
import { Vp8Stream } from '../../tools/synthetic/Vp8Stream.js';
import { withUdpPeer } from './udpPeer.js';

const RTCP_XR = 207;
/** XR block types (RFC 3611): receiver reference time (4.4) and DLRR (4.5). */
const XR_RRT = 4;
const XR_DLRR = 5;

/**
 * A send-only meeting peer for tests that answers the SFU's RTCP as a sender must for mediasoup to
 * measure its producer's round-trip time. mediasoup 3.12 measures a producer's RTT from extended
 * reports, not from sender reports: with its receiver reports for the producer it sends a receiver
 * reference time block (Producer::GetRtcp), and when a DLRR block naming the producer's SSRC comes
 * back it computes the RTT (RtpStreamRecv::ReceiveRtcpXrDelaySinceLastRr). Synthetic peers' senders
 * answer nothing, so without this a server under test has no producer RTT. It sends VP8 (whose RTCP
 * goes out about every second; opus's every 4 to 5 s) into a plain send transport; as with
 * ReportingReceiver, its answers claim `simulatedRttMs` less of holding time than they really took.
 */
export class ReportingSender {
	readonly peerId: string;
	readonly producerId: string;
	readonly #signalling: SignallingClient;
	readonly #socket: dgram.Socket;
	readonly #stream: Vp8Stream;
	readonly #simulatedRttMs: number;
	readonly #timers = new Set<NodeJS.Timeout>();
	readonly #frameTimer: NodeJS.Timeout;
	#answersSent = 0;
	#closed = false;

	static async create({
		url,
		roomId,
		simulatedRttMs = 20
	}: {
		url: string;
		roomId: string;
		simulatedRttMs?: number;
	}): Promise<ReportingSender> {
		return withUdpPeer({ url, roomId, displayName: 'rtcp sender' }, async ({ signalling, socket, peerId }) => {
			const transport = await signalling.request('createPlainTransport', { direction: 'send' });
			// comedia: the transport learns this socket's address from its first packet and sends its RTCP here.
			socket.connect(transport.port, transport.ip);
			await once(socket, 'connect');
			const stream = new Vp8Stream({ bitrate: 100_000 });
			const { producerId } = await signalling.request('produce', {
				transportId: transport.id,
				kind: 'video',
				rtpParameters: stream.rtpParameters(),
				appData: { source: 'synthetic' }
			});
			return new ReportingSender({ signalling, socket, stream, peerId, producerId, simulatedRttMs });
		});
	}

	private constructor({
		signalling,
		socket,
		stream,
		peerId,
		producerId,
		simulatedRttMs
	}: {
		signalling: SignallingClient;
		socket: dgram.Socket;
		stream: Vp8Stream;
		peerId: string;
		producerId: string;
		simulatedRttMs: number;
	}) {
		this.#signalling = signalling;
		this.#socket = socket;
		this.#stream = stream;
		this.peerId = peerId;
		this.producerId = producerId;
		this.#simulatedRttMs = simulatedRttMs;
		socket.on('message', (message) => this.#onRtcp(message));
		// Unpaced frames are fine here: only that RTP flows matters, not its timing.
		this.#frameTimer = setInterval(() => {
			for (const packet of this.#stream.nextFrame()) this.#socket.send(packet);
		}, stream.frameIntervalMs);
	}

	get ssrc(): number {
		return this.#stream.ssrc;
	}

	/** DLRR answers sent so far. */
	get answersSent(): number {
		return this.#answersSent;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#frameTimer);
		for (const timer of this.#timers) clearTimeout(timer);
		this.#timers.clear();
		this.#signalling.close();
		this.#socket.close();
	}

	/** Answers each receiver reference time block in a compound packet with a DLRR block. */
	#onRtcp(compound: Buffer): void {
		const receivedAt = performance.now();
		for (let offset = 0; offset + 4 <= compound.length;) {
			const end = offset + (compound.readUInt16BE(offset + 2) + 1) * 4;
			if (compound[offset]! >> 6 !== 2 || end > compound.length) return;
			if (compound[offset + 1] === RTCP_XR) {
				// Report blocks follow the packet's header and SSRC: type, reserved, length in words, body.
				for (let block = offset + 8; block + 4 <= end;) {
					const blockEnd = block + 4 + compound.readUInt16BE(block + 2) * 4;
					if (compound[block] === XR_RRT && blockEnd === block + 12) {
						// LRR: the middle 32 bits of the block's 64-bit NTP timestamp.
						const lastRr =
							(((compound.readUInt32BE(block + 4) & 0xffff) << 16) | (compound.readUInt32BE(block + 8) >>> 16)) >>> 0;
						const timer = setTimeout(() => {
							this.#timers.delete(timer);
							this.#answer({ lastRr, heldMs: performance.now() - receivedAt });
						}, this.#simulatedRttMs + 5);
						this.#timers.add(timer);
					}
					block = blockEnd;
				}
			}
			offset = end;
		}
	}

	#answer({ lastRr, heldMs }: { lastRr: number; heldMs: number }): void {
		if (this.#closed) return;
		const report = Buffer.alloc(24);
		report[0] = 0x80; // V=2, P=0, reserved
		report[1] = RTCP_XR;
		report.writeUInt16BE(5, 2); // length in 32-bit words minus one
		report.writeUInt32BE(this.ssrc, 4);
		report[8] = XR_DLRR;
		report.writeUInt16BE(3, 10); // one sub-block of three words
		// mediasoup finds the producer by the sub-block's SSRC: the stream's own.
		report.writeUInt32BE(this.ssrc, 12);
		report.writeUInt32BE(lastRr, 16);
		// DLRR in 1/65536 s; mediasoup ignores a block whose DLRR is 0.
		report.writeUInt32BE(Math.max(1, Math.round(((heldMs - this.#simulatedRttMs) / 1000) * 65536)), 20);
		this.#socket.send(report);
		this.#answersSent++;
	}
}
