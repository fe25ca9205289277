import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { Logger } from '../../server/base/Logger.js';
import { TypedEmitter } from '../../server/base/TypedEmitter.js';
import type { RtpStream } from './RtpStream.js';
import { NamedError } from '../../server/base/errors.js';

const logger = new Logger('RtpStreamSender');

/** Pacing tick; frames due since the last tick go out together (≤ 1 tick of jitter). */
const TICK_MS = 10;
/** After a stall (event loop blocked), frames older than this are skipped, not burst out. */
const MAX_CATCH_UP_MS = 200;
const SENDER_REPORT_INTERVAL_MS = 1000;

export type RtcpFeedbackCounters = { rtcpPackets: number; receiverReports: number; pli: number; fir: number; nack: number };

export type RtpStreamSenderEvents = { close: [] };

export class SenderClosedError extends NamedError {
	constructor() {
		super('RtpStreamSender closed');
	}
}

/**
 * Sends RTP streams from one UDP socket into one mediasoup PlainTransport (comedia, rtcpMux). The
 * transport learns its remote address from the first packet and then accepts only that source, so
 * every stream of one transport shares this socket. Streams are paced in real time from their own
 * frame interval; RTCP sender reports go out about once a second. Incoming RTCP (PLI, NACK, RR) is
 * counted and otherwise ignored: synthetic senders do not encode, so keyframes are periodic instead.
 */
export class RtpStreamSender extends TypedEmitter<RtpStreamSenderEvents> {
	readonly streams: readonly RtpStream[];
	readonly #socket: dgram.Socket;
	readonly #feedback: RtcpFeedbackCounters = { rtcpPackets: 0, receiverReports: 0, pli: 0, fir: 0, nack: 0 };
	#timer?: NodeJS.Timeout;
	#startMs = 0;
	#nextReportMs = 0;
	#framesSkipped = 0;
	#sendErrors = 0;
	#closed = false;

	/** Binds a socket on `localIp` (an ephemeral port) and points it at the transport's `ip`:`port`. */
	static async create({
		ip,
		port,
		streams,
		localIp
	}: {
		ip: string;
		port: number;
		streams: RtpStream[];
		localIp?: string;
	}): Promise<RtpStreamSender> {
		if (!net.isIP(ip)) throw new TypeError('ip must be an IP address');
		if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError('port must be 1-65535');
		if (streams.length === 0) throw new TypeError('streams must not be empty');
		const family = net.isIPv6(ip) ? 'udp6' : 'udp4';
		const socket = dgram.createSocket({ type: family });
		try {
			socket.bind(0, localIp ?? (family === 'udp6' ? '::1' : '127.0.0.1'));
			await once(socket, 'listening');
			socket.connect(port, ip);
			await once(socket, 'connect');
		} catch (error) {
			socket.close();
			throw error;
		}
		return new RtpStreamSender(socket, streams);
	}

	private constructor(socket: dgram.Socket, streams: RtpStream[]) {
		super();
		this.#socket = socket;
		this.streams = [...streams];
		socket.on('message', (message) => this.#onRtcp(message));
		// A connected UDP socket reports ICMP port-unreachable (the transport closed) as an error;
		// count it rather than crash: the peer's signalling decides when to stop.
		socket.on('error', (error) => {
			if (this.#sendErrors++ === 0) logger.warn('send error: %s', error.message);
		});
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** Local address the transport sees as its remote tuple. */
	get localAddress(): { ip: string; port: number } {
		const { address, port } = this.#socket.address();
		return { ip: address, port };
	}

	get feedback(): RtcpFeedbackCounters {
		return { ...this.#feedback };
	}

	get framesSkipped(): number {
		return this.#framesSkipped;
	}

	get sendErrors(): number {
		return this.#sendErrors;
	}

	/** Packets and bytes sent, summed over the streams (RTP only). */
	get totals(): { packets: number; bytes: number } {
		let packets = 0;
		let bytes = 0;
		for (const stream of this.streams) {
			const c = stream.counters;
			packets += c.packets;
			bytes += c.bytes;
		}
		return { packets, bytes };
	}

	start(): void {
		if (this.#closed) throw new SenderClosedError();
		if (this.#timer) return;
		this.#startMs = Date.now();
		this.#nextReportMs = this.#startMs + SENDER_REPORT_INTERVAL_MS / 2;
		this.#tick();
		this.#timer = setInterval(() => this.#tick(), TICK_MS);
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		logger.debug('close()');
		clearInterval(this.#timer);
		this.#timer = undefined;
		this.#socket.close();
		this.emit('close');
	}

	#tick(): void {
		const now = Date.now();
		const elapsed = now - this.#startMs;
		for (const stream of this.streams) {
			const due = Math.floor(elapsed / stream.frameIntervalMs) + 1;
			const maxBehind = Math.max(1, Math.ceil(MAX_CATCH_UP_MS / stream.frameIntervalMs));
			if (due - stream.frameIndex > maxBehind) {
				const skip = due - stream.frameIndex - maxBehind;
				stream.skipFrames(skip);
				this.#framesSkipped += skip;
			}
			while (stream.frameIndex < due) {
				for (const packet of stream.nextFrame()) this.#socket.send(packet);
			}
		}
		if (now >= this.#nextReportMs) {
			this.#nextReportMs = now + SENDER_REPORT_INTERVAL_MS;
			for (const stream of this.streams) this.#socket.send(stream.senderReport({ nowMs: now, startMs: this.#startMs }));
		}
	}

	/** Counts RTCP feedback in a compound packet (RFC 3550 / 4585 headers only). */
	#onRtcp(message: Buffer): void {
		let offset = 0;
		while (offset + 4 <= message.length) {
			const fmt = message[offset]! & 0x1f;
			const type = message[offset + 1]!;
			if (message[offset]! >> 6 !== 2 || type < 192 || type > 223) return;
			this.#feedback.rtcpPackets++;
			if (type === 201) this.#feedback.receiverReports++;
			else if (type === 205 && fmt === 1) this.#feedback.nack++;
			else if (type === 206 && fmt === 1) this.#feedback.pli++;
			else if (type === 206 && fmt === 4) this.#feedback.fir++;
			offset += (message.readUInt16BE(offset + 2) + 1) * 4;
		}
	}
}
