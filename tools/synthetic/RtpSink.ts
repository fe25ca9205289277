import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { Logger } from '../../server/base/Logger.js';
import { TypedEmitter } from '../../server/base/TypedEmitter.js';
import type { RtpReceiveStats } from './RtpReceiveStats.js';
import { RtpReceiveStatsTable } from './RtpReceiveStatsTable.js';

const logger = new Logger('RtpSink');

/**
 * Linux caps SO_RCVBUF at net.core.rmem_max (4 MiB on this project's machines) and doubles what
 * it grants; a default-sized socket drops about 30% of a high packet rate.
 */
const DEFAULT_RECV_BUFFER_SIZE = 4 * 1024 * 1024;

/** Where a sink listens: `sockets` UDP sockets on `ip`, each with `recvBufferSize` of kernel buffer. */
export type RtpSinkOptions = { ip?: string; sockets?: number; recvBufferSize?: number };

/** The options with their defaults, checked (this sink and the bench's native one take the same). */
export function checkedSinkOptions({
	ip = '127.0.0.1',
	sockets = 4,
	recvBufferSize = DEFAULT_RECV_BUFFER_SIZE
}: RtpSinkOptions): Required<RtpSinkOptions> {
	if (!net.isIP(ip)) throw new TypeError('ip must be an IP address');
	if (!Number.isInteger(sockets) || sockets < 1 || sockets > 64) throw new TypeError('sockets must be an integer from 1 to 64');
	return { ip, sockets, recvBufferSize };
}

export type RtpSinkTotals = {
	streams: number;
	packets: number;
	bytes: number;
	expected: number;
	lost: number;
	rtcpPackets: number;
};

export type RtpSinkEvents = { close: [] };

/** What a SyntheticPeer needs of a sink (this class, or the bench's NativeRtpSink). */
export type ConsumerRtpSink = Pick<RtpSink, 'nextAddress' | 'watch' | 'close'>;

/**
 * Receives consumers' RTP on loopback UDP. Several sockets share the load (recv transports are
 * connected to them in turn); every datagram is accounted to an RtpReceiveStats keyed by the
 * sending transport's port and the SSRC (consumer SSRCs are random per consumer, the port tells
 * transports apart). RTCP (rtcpMux) is counted and otherwise ignored.
 */
export class RtpSink extends TypedEmitter<RtpSinkEvents> {
	readonly ip: string;
	readonly #sockets: dgram.Socket[];
	readonly #streams = new RtpReceiveStatsTable();
	#next = 0;
	#rtcpPackets = 0;
	#closed = false;

	static async create(options: RtpSinkOptions = {}): Promise<RtpSink> {
		const { ip, sockets, recvBufferSize } = checkedSinkOptions(options);
		const type = net.isIPv6(ip) ? 'udp6' : 'udp4';
		const bound: dgram.Socket[] = [];
		try {
			for (let i = 0; i < sockets; i++) {
				const socket = dgram.createSocket({ type, recvBufferSize });
				bound.push(socket);
				socket.bind(0, ip);
				await once(socket, 'listening');
			}
		} catch (error) {
			for (const socket of bound) socket.close();
			throw error;
		}
		return new RtpSink(ip, bound);
	}

	private constructor(ip: string, sockets: dgram.Socket[]) {
		super();
		this.ip = ip;
		this.#sockets = sockets;
		for (const socket of sockets) {
			socket.on('message', (message, rinfo) => this.#onMessage(message, rinfo.port));
			socket.on('error', (error) => logger.warn('socket error: %s', error.message));
		}
		logger.debug(
			'listening on %s ports %o (receive buffer %d bytes)',
			ip,
			this.addresses.map((a) => a.port),
			sockets[0]!.getRecvBufferSize()
		);
	}

	get closed(): boolean {
		return this.#closed;
	}

	get addresses(): { ip: string; port: number }[] {
		return this.#sockets.map((socket) => ({ ip: this.ip, port: socket.address().port }));
	}

	/** Receive buffer the kernel granted (Linux reports twice what it was asked, up to rmem_max). */
	get recvBufferSize(): number {
		return this.#sockets[0]!.getRecvBufferSize();
	}

	/** The socket address the next recv transport should be connected to (round robin). */
	nextAddress(): { ip: string; port: number } {
		const socket = this.#sockets[this.#next++ % this.#sockets.length]!;
		return { ip: this.ip, port: socket.address().port };
	}

	/**
	 * Statistics of the stream from `remotePort` with `ssrc`, created if new. Call it before the
	 * consumer is resumed to label the stream (`mimeType` enables VP8 keyframe counting).
	 */
	watch(stream: { remotePort: number; ssrc: number; mimeType?: string }): RtpReceiveStats {
		return this.#streams.watch(stream);
	}

	get streams(): RtpReceiveStats[] {
		return [...this.#streams.values()];
	}

	totals(): RtpSinkTotals {
		const totals: RtpSinkTotals = {
			streams: this.#streams.size,
			packets: 0,
			bytes: 0,
			expected: 0,
			lost: 0,
			rtcpPackets: this.#rtcpPackets
		};
		for (const stats of this.#streams.values()) {
			totals.packets += stats.packets;
			totals.bytes += stats.bytes;
			totals.expected += stats.expected;
			totals.lost += stats.lost;
		}
		return totals;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		logger.debug('close()');
		for (const socket of this.#sockets) socket.close();
		this.#streams.clear();
		this.emit('close');
	}

	#onMessage(message: Buffer, remotePort: number): void {
		if (message.length < 12 || message[0]! >> 6 !== 2) return;
		// With rtcpMux, RTCP packet types 192-223 occupy what would be RTP payload types 64-95.
		const secondByte = message[1]!;
		if (secondByte >= 192 && secondByte <= 223) {
			this.#rtcpPackets++;
			return;
		}
		const stats = this.#streams.watch({ remotePort, ssrc: message.readUInt32BE(8) });
		stats.record(message, Date.now());
	}
}
