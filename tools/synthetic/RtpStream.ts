import crypto from 'node:crypto';
import type { types as ms } from 'mediasoup';

/** RTP version 2, no padding, no extension, no CSRCs: the only header synthetic streams write. */
const RTP_HEADER_SIZE = 12;
/** Seconds between 1900-01-01 (NTP epoch) and 1970-01-01 (Unix epoch). */
const NTP_UNIX_OFFSET_SECONDS = 2_208_988_800;

export type RtpStreamCounters = { packets: number; bytes: number; frames: number; senderReports: number };

/**
 * One synthetic RTP stream (one SSRC): sequence numbers, timestamps and sender reports. Subclasses
 * decide what a frame is (`nextFrame()`); the stream does no I/O, so it can be tested on its own and
 * driven by any clock (RtpStreamSender paces it in real time).
 */
export abstract class RtpStream {
	readonly kind: ms.MediaKind;
	readonly ssrc: number;
	readonly payloadType: number;
	readonly clockRate: number;
	/** Media time per frame in ms (20 for opus, 1000/fps for video). */
	readonly frameIntervalMs: number;
	#sequenceNumber: number;
	readonly #timestampBase: number;
	#frameIndex = 0;
	readonly #counters: RtpStreamCounters = { packets: 0, bytes: 0, frames: 0, senderReports: 0 };

	protected constructor({
		kind,
		ssrc,
		payloadType,
		clockRate,
		frameIntervalMs
	}: {
		kind: ms.MediaKind;
		ssrc?: number;
		payloadType: number;
		clockRate: number;
		frameIntervalMs: number;
	}) {
		if (!Number.isInteger(payloadType) || payloadType < 96 || payloadType > 127)
			throw new TypeError('payloadType must be a dynamic payload type (96-127)');
		if (ssrc !== undefined && (!Number.isInteger(ssrc) || ssrc < 1 || ssrc > 0xffffffff))
			throw new TypeError('ssrc must be a 32-bit unsigned integer > 0');
		if (!(frameIntervalMs > 0)) throw new TypeError('frameIntervalMs must be positive');
		this.kind = kind;
		// Random SSRC, sequence number and timestamp origin, as RFC 3550 asks: several synthetic
		// peers on one router must not collide.
		this.ssrc = ssrc ?? crypto.randomInt(1, 0xffffffff);
		this.payloadType = payloadType;
		this.clockRate = clockRate;
		this.frameIntervalMs = frameIntervalMs;
		this.#sequenceNumber = crypto.randomInt(0, 0x10000);
		this.#timestampBase = crypto.randomInt(0, 0x100000000);
	}

	/** The rtpParameters for `produce` that describe exactly what this stream sends. */
	abstract rtpParameters(): ms.RtpParameters;

	/** The RTP packets of the next frame, in order. */
	abstract nextFrame(): Buffer[];

	get counters(): RtpStreamCounters {
		return { ...this.#counters };
	}

	/** Index of the frame the next `nextFrame()` call produces. */
	get frameIndex(): number {
		return this.#frameIndex;
	}

	/** RTP timestamp of the current frame; frames advance it by exactly one interval. */
	protected get frameTimestamp(): number {
		return (this.#timestampBase + Math.round((this.#frameIndex * this.frameIntervalMs * this.clockRate) / 1000)) >>> 0;
	}

	/**
	 * Advances media time without sending, after the sender fell behind: timestamps keep matching
	 * the wall clock and sequence numbers stay contiguous (the SFU sees a pause, not loss).
	 */
	skipFrames(count: number): void {
		if (!Number.isInteger(count) || count < 0) throw new TypeError('count must be a non-negative integer');
		this.#frameIndex += count;
	}

	/** Called by subclasses once a frame's packets are built. */
	protected frameDone(): void {
		this.#frameIndex++;
		this.#counters.frames++;
	}

	/** Builds one RTP packet: a 12-byte header followed by `payloadParts` (copied once). */
	protected packet({ payloadParts, marker }: { payloadParts: Buffer[]; marker: boolean }): Buffer {
		let payloadSize = 0;
		for (const part of payloadParts) payloadSize += part.length;
		const packet = Buffer.allocUnsafe(RTP_HEADER_SIZE + payloadSize);
		packet[0] = 0x80;
		packet[1] = (marker ? 0x80 : 0) | this.payloadType;
		packet.writeUInt16BE(this.#sequenceNumber, 2);
		packet.writeUInt32BE(this.frameTimestamp, 4);
		packet.writeUInt32BE(this.ssrc, 8);
		let offset = RTP_HEADER_SIZE;
		for (const part of payloadParts) offset += part.copy(packet, offset);
		this.#sequenceNumber = (this.#sequenceNumber + 1) & 0xffff;
		this.#counters.packets++;
		this.#counters.bytes += packet.length;
		return packet;
	}

	/**
	 * An RTCP sender report (RFC 3550 6.4.1) for wall-clock time `nowMs`, where `startMs` is the
	 * wall-clock time of frame 0. Lets the SFU map RTP time to NTP time like a real sender.
	 */
	senderReport({ nowMs, startMs }: { nowMs: number; startMs: number }): Buffer {
		const report = Buffer.alloc(28);
		report[0] = 0x80; // V=2, P=0, RC=0
		report[1] = 200; // SR
		report.writeUInt16BE(6, 2); // length in 32-bit words minus one
		report.writeUInt32BE(this.ssrc, 4);
		const seconds = Math.floor(nowMs / 1000);
		report.writeUInt32BE((seconds + NTP_UNIX_OFFSET_SECONDS) >>> 0, 8);
		report.writeUInt32BE(Math.floor(((nowMs % 1000) / 1000) * 0x100000000) >>> 0, 12);
		const rtpTime = (this.#timestampBase + Math.round(((nowMs - startMs) * this.clockRate) / 1000)) >>> 0;
		report.writeUInt32BE(rtpTime, 16);
		report.writeUInt32BE(this.#counters.packets >>> 0, 20);
		// The octet count excludes RTP headers.
		report.writeUInt32BE((this.#counters.bytes - this.#counters.packets * RTP_HEADER_SIZE) >>> 0, 24);
		this.#counters.senderReports++;
		return report;
	}
}
