/**
 * Receive statistics of one RTP stream (one SSRC from one remote port), as RFC 3550 A.3 computes
 * them: expected packets from the extended highest sequence number, lost = expected − received.
 * A consumer's sequence numbers follow its producer's (mediasoup only offsets them, and closes the
 * gaps of packets it drops on purpose, e.g. before the first keyframe), so a gap here is a packet
 * lost anywhere on the way: sender → SFU (the producer's `packetsLost` tells that part) or
 * SFU → this socket (typically a full receive buffer).
 */
export class RtpReceiveStats {
	readonly remotePort: number;
	readonly ssrc: number;
	/** Set when the receiver knows what it is (e.g. from the consumer's rtpParameters). */
	mimeType?: string;
	packets = 0;
	bytes = 0;
	/** Packets with the marker bit (video: frames). */
	markers = 0;
	/** VP8 keyframe starts seen (only counted when mimeType is video/VP8). */
	keyFrames = 0;
	/** Sequence numbers that went backwards (reordered or duplicated). */
	outOfOrder = 0;
	payloadType = -1;
	firstArrivalMs = 0;
	lastArrivalMs = 0;
	#baseSeq = -1;
	/** Extended highest sequence number (cycles << 16 | seq). */
	#maxExtSeq = -1;

	constructor({ remotePort, ssrc, mimeType }: { remotePort: number; ssrc: number; mimeType?: string }) {
		this.remotePort = remotePort;
		this.ssrc = ssrc;
		this.mimeType = mimeType;
	}

	/** Packets the sequence numbers say were sent since the first one received. */
	get expected(): number {
		return this.#maxExtSeq < 0 ? 0 : this.#maxExtSeq - this.#baseSeq + 1;
	}

	/** Never negative: duplicates could otherwise make it so. */
	get lost(): number {
		return Math.max(0, this.expected - this.packets);
	}

	get lossFraction(): number {
		const expected = this.expected;
		return expected === 0 ? 0 : this.lost / expected;
	}

	/**
	 * Takes counts kept by another receiver (the bench's native sink, tools/bench/NativeRtpSink.ts)
	 * in place of record()ing packets here; keyframes and markers are then not counted.
	 */
	overwrite({ packets, bytes, expected }: { packets: number; bytes: number; expected: number }): void {
		this.packets = packets;
		this.bytes = bytes;
		this.#baseSeq = 0;
		this.#maxExtSeq = expected - 1;
	}

	/** Accounts one RTP packet; `packet` is the whole datagram, already known to be RTP. */
	record(packet: Buffer, nowMs: number): void {
		const seq = packet.readUInt16BE(2);
		if (this.packets === 0) {
			this.#baseSeq = seq;
			this.#maxExtSeq = seq;
			this.firstArrivalMs = nowMs;
		} else {
			const highest = this.#maxExtSeq & 0xffff;
			const delta = (seq - highest) & 0xffff;
			// Forward within half the sequence space: newer (possibly after a wrap); else older.
			if (delta !== 0 && delta < 0x8000) this.#maxExtSeq += delta;
			else this.outOfOrder++;
		}
		this.packets++;
		this.bytes += packet.length;
		this.lastArrivalMs = nowMs;
		this.payloadType = packet[1]! & 0x7f;
		if (packet[1]! & 0x80) this.markers++;
		if (this.mimeType === 'video/VP8' && RtpReceiveStats.isVp8KeyFrameStart(packet)) this.keyFrames++;
	}

	/** Whether an RTP packet starts a VP8 keyframe (RFC 7741 descriptor, then the P bit). */
	static isVp8KeyFrameStart(packet: Buffer): boolean {
		const csrcCount = packet[0]! & 0x0f;
		let offset = 12 + 4 * csrcCount;
		if (packet[0]! & 0x10) {
			if (packet.length < offset + 4) return false;
			offset += 4 + 4 * packet.readUInt16BE(offset + 2);
		}
		const end = packet[0]! & 0x20 ? packet.length - packet[packet.length - 1]! : packet.length;
		if (end < offset + 1) return false;
		const first = packet[offset]!;
		// S=1 and partition index 0: the start of a frame.
		if (!(first & 0x10) || (first & 0x07) !== 0) return false;
		offset++;
		if (first & 0x80) {
			if (end < offset + 1) return false;
			const x = packet[offset++]!;
			if (x & 0x80) offset += packet[offset]! & 0x80 ? 2 : 1; // I: PictureID, 7 or 15 bits
			if (x & 0x40) offset++; // L: TL0PICIDX
			if (x & 0x30) offset++; // T or K: TID/KEYIDX
		}
		return end > offset && (packet[offset]! & 0x01) === 0;
	}
}
