import type dgram from 'node:dgram';
import { type SignallingClient } from '../../tools/synthetic/SignallingClient.js';
import type { NotificationMessage, Notifications } from '../../server/contract/signalling.js';
import { withUdpPeer } from './udpPeer.js';

const RTCP_SR = 200;
const RTCP_RR = 201;
/** Our own SSRC in the receiver reports (any value other peers do not use). */
const REPORTER_SSRC = 0x5eed0001;

type Received = { highestSeq: number; cycles: number };

/**
 * A receive-only meeting peer for tests that answers the SFU's RTCP sender reports with receiver
 * reports (RFC 3550 6.4.2), as a browser does, so mediasoup measures its consumers' round-trip
 * time. Synthetic peers' sinks send no RTCP, so without this a server under test has no RTT at
 * all. Loopback has no delay worth measuring (mediasoup computes in ms and drops zero), so the
 * reports claim `simulatedRttMs` less of holding time than they really took: mediasoup then sees
 * that much round trip. It consumes every producer of the room over a plain transport.
 */
export class ReportingReceiver {
	readonly peerId: string;
	readonly #signalling: SignallingClient;
	readonly #socket: dgram.Socket;
	readonly #simulatedRttMs: number;
	readonly #received = new Map<number, Received>();
	readonly #timers = new Set<NodeJS.Timeout>();
	#reportsSent = 0;
	#closed = false;

	static async create({
		url,
		roomId,
		simulatedRttMs = 20
	}: {
		url: string;
		roomId: string;
		simulatedRttMs?: number;
	}): Promise<ReportingReceiver> {
		return withUdpPeer({ url, roomId, displayName: 'rtcp reporter' }, async ({ signalling, socket, peerId }) => {
			const receiver = new ReportingReceiver({ signalling, socket, peerId, simulatedRttMs });
			// newConsumer for the producers already there follows the transport's answer at once.
			const transport = await signalling.request('createPlainTransport', { direction: 'recv' });
			await signalling.request('connectPlainTransport', { transportId: transport.id, ip: '127.0.0.1', port: socket.address().port });
			return receiver;
		});
	}

	private constructor({
		signalling,
		socket,
		peerId,
		simulatedRttMs
	}: {
		signalling: SignallingClient;
		socket: dgram.Socket;
		peerId: string;
		simulatedRttMs: number;
	}) {
		this.#signalling = signalling;
		this.#socket = socket;
		this.peerId = peerId;
		this.#simulatedRttMs = simulatedRttMs;
		signalling.on('notification', (message) => this.#onNotification(message));
		socket.on('message', (message, from) => this.#onPacket(message, from.port));
	}

	/** Receiver reports sent so far. */
	get reportsSent(): number {
		return this.#reportsSent;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const timer of this.#timers) clearTimeout(timer);
		this.#timers.clear();
		this.#signalling.close();
		this.#socket.close();
	}

	#onNotification(message: NotificationMessage): void {
		if (this.#closed || message.method !== 'newConsumer') return;
		const { consumerId } = message.data as Notifications['newConsumer'];
		this.#signalling.request('resumeConsumer', { consumerId }).catch(() => {
			// The consumer closed meanwhile (its producer left): nothing to resume.
		});
	}

	#onPacket(packet: Buffer, fromPort: number): void {
		if (packet.length < 8 || packet[0]! >> 6 !== 2) return;
		const secondByte = packet[1]!;
		// With rtcp-mux, RTCP packet types 192-223 occupy what would be RTP payload types 64-95.
		if (secondByte >= 192 && secondByte <= 223) this.#onRtcp(packet, fromPort);
		else if (packet.length >= 12) this.#onRtp(packet);
	}

	/** Tracks the extended highest sequence number per SSRC (RFC 3550 A.1, without probation). */
	#onRtp(packet: Buffer): void {
		const seq = packet.readUInt16BE(2);
		const ssrc = packet.readUInt32BE(8);
		const state = this.#received.get(ssrc);
		if (!state) {
			this.#received.set(ssrc, { highestSeq: seq, cycles: 0 });
			return;
		}
		const delta = (seq - state.highestSeq + 0x10000) % 0x10000;
		if (delta > 0 && delta < 0x8000) {
			if (seq < state.highestSeq) state.cycles += 0x10000;
			state.highestSeq = seq;
		}
	}

	/** Answers each sender report in a compound packet with a receiver report about that sender, to where it came from. */
	#onRtcp(compound: Buffer, fromPort: number): void {
		const receivedAt = performance.now();
		for (let offset = 0; offset + 4 <= compound.length;) {
			const length = (compound.readUInt16BE(offset + 2) + 1) * 4;
			if (compound[offset + 1] === RTCP_SR && offset + 16 <= compound.length) {
				const ssrc = compound.readUInt32BE(offset + 4);
				// LSR: the middle 32 bits of the report's 64-bit NTP timestamp.
				const lastSr = (((compound.readUInt32BE(offset + 8) & 0xffff) << 16) | (compound.readUInt32BE(offset + 12) >>> 16)) >>> 0;
				const timer = setTimeout(() => {
					this.#timers.delete(timer);
					this.#sendReport({ ssrc, lastSr, heldMs: performance.now() - receivedAt, port: fromPort });
				}, this.#simulatedRttMs + 5);
				this.#timers.add(timer);
			}
			offset += length;
		}
	}

	#sendReport({ ssrc, lastSr, heldMs, port }: { ssrc: number; lastSr: number; heldMs: number; port: number }): void {
		if (this.#closed) return;
		const received = this.#received.get(ssrc);
		const report = Buffer.alloc(32);
		report[0] = 0x81; // V=2, P=0, RC=1
		report[1] = RTCP_RR;
		report.writeUInt16BE(7, 2); // length in 32-bit words minus one
		report.writeUInt32BE(REPORTER_SSRC, 4);
		report.writeUInt32BE(ssrc, 8);
		// Fraction lost and cumulative lost stay 0: the reporter claims a clean path.
		report.writeUInt32BE(received ? (received.cycles + received.highestSeq) >>> 0 : 0, 16);
		// DLSR in 1/65536 s; mediasoup ignores a report whose DLSR is 0.
		const dlsr = Math.max(1, Math.round(((heldMs - this.#simulatedRttMs) / 1000) * 65536));
		report.writeUInt32BE(lastSr, 24);
		report.writeUInt32BE(dlsr, 28);
		this.#socket.send(report, port, '127.0.0.1');
		this.#reportsSent++;
	}
}
