import crypto from 'node:crypto';
import type { types as ms } from 'mediasoup';
import { RtpStream } from './RtpStream.js';

/** RTP header (12) + VP8 payload descriptor with a 15-bit PictureID (4). */
const OVERHEAD = 12 + 4;
/** Shared filler for frame bodies: random bytes look like entropy-coded data and are never parsed. */
const FILLER = crypto.randomBytes(256 * 1024);

export type Vp8StreamOptions = {
	payloadType?: number;
	ssrc?: number;
	/** Target bitrate of the RTP payload, bits per second. */
	bitrate?: number;
	fps?: number;
	/** Senders ignore PLI, so a keyframe comes this often instead. */
	keyFrameIntervalMs?: number;
	width?: number;
	height?: number;
	/** Largest RTP packet, header included. */
	maxPacketSize?: number;
};

/**
 * Synthetic VP8 video (RFC 7741 packetization). The frame bodies are filler, not decodable video,
 * but everything the SFU inspects is real: the payload descriptor carries a 15-bit PictureID (the
 * worker drops VP8 without one), keyframes have a valid frame tag and start code (the worker's
 * keyframe detection reads the P bit; consumers wait for a keyframe before forwarding), the marker
 * bit ends each frame and timestamps run at 90 kHz.
 */
export class Vp8Stream extends RtpStream {
	readonly bitrate: number;
	readonly fps: number;
	readonly width: number;
	readonly height: number;
	readonly keyFrameInterval: number;
	readonly #maxPayloadPerPacket: number;
	readonly #keyFrameSize: number;
	readonly #interFrameSize: number;
	#pictureId = crypto.randomInt(0, 0x8000);
	#keyFrames = 0;

	constructor({
		payloadType = 101,
		ssrc,
		bitrate = 400_000,
		fps = 30,
		keyFrameIntervalMs = 1000,
		width = 640,
		height = 360,
		maxPacketSize = 1200
	}: Vp8StreamOptions = {}) {
		if (!(fps > 0 && fps <= 120)) throw new TypeError('fps must be in (0, 120]');
		if (!(bitrate >= 10_000 && bitrate <= 20_000_000)) throw new TypeError('bitrate must be 10 kbps to 20 Mbps');
		// A keyframe (3 average frames) must fit in the filler with room to vary its offset.
		if ((3 * bitrate) / 8 / fps > FILLER.length / 2) throw new TypeError('bitrate too high for this frame rate');
		if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0x3fff || height > 0x3fff) {
			throw new TypeError('width and height must be integers from 1 to 16383');
		}
		if (!Number.isInteger(maxPacketSize) || maxPacketSize < OVERHEAD + 16 || maxPacketSize > 1500)
			throw new TypeError('maxPacketSize must be an integer from 32 to 1500');
		super({ kind: 'video', ssrc, payloadType, clockRate: 90_000, frameIntervalMs: 1000 / fps });
		this.bitrate = bitrate;
		this.fps = fps;
		this.width = width;
		this.height = height;
		this.keyFrameInterval = Math.max(1, Math.round((keyFrameIntervalMs / 1000) * fps));
		this.#maxPayloadPerPacket = maxPacketSize - OVERHEAD;
		// A keyframe is three average frames, as with a real encoder; inter frames shrink so the
		// average over a keyframe interval stays at the target bitrate.
		const average = Math.max(16, Math.round(bitrate / 8 / fps));
		this.#keyFrameSize = this.keyFrameInterval === 1 ? average : 3 * average;
		this.#interFrameSize =
			this.keyFrameInterval === 1
				? average
				: Math.max(16, Math.round((this.keyFrameInterval * average - this.#keyFrameSize) / (this.keyFrameInterval - 1)));
	}

	get keyFrames(): number {
		return this.#keyFrames;
	}

	rtpParameters(): ms.RtpParameters {
		return {
			codecs: [
				{
					mimeType: 'video/VP8',
					payloadType: this.payloadType,
					clockRate: this.clockRate,
					rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }]
				}
			],
			encodings: [{ ssrc: this.ssrc }]
		};
	}

	nextFrame(): Buffer[] {
		const keyFrame = this.frameIndex % this.keyFrameInterval === 0;
		const size = keyFrame ? this.#keyFrameSize : this.#interFrameSize;
		const frame = this.#frame(keyFrame, size);
		const packets: Buffer[] = [];
		for (let offset = 0; offset < frame.length; offset += this.#maxPayloadPerPacket) {
			const chunk = frame.subarray(offset, offset + this.#maxPayloadPerPacket);
			const last = offset + this.#maxPayloadPerPacket >= frame.length;
			packets.push(this.packet({ payloadParts: [this.#descriptor(offset === 0), chunk], marker: last }));
		}
		this.#pictureId = (this.#pictureId + 1) & 0x7fff;
		if (keyFrame) this.#keyFrames++;
		this.frameDone();
		return packets;
	}

	/** VP8 payload descriptor: X=1, S on a frame's first packet, PID=0; I=1; M=1 with the 15-bit PictureID. */
	#descriptor(start: boolean): Buffer {
		return Buffer.from([0x80 | (start ? 0x10 : 0), 0x80, 0x80 | (this.#pictureId >> 8), this.#pictureId & 0xff]);
	}

	/** A VP8 frame (RFC 6386 9.1): 3-byte frame tag, keyframes add start code and dimensions. */
	#frame(keyFrame: boolean, size: number): Buffer {
		const headerSize = keyFrame ? 10 : 3;
		const frame = Buffer.allocUnsafe(Math.max(size, headerSize + 1));
		const offset = (this.frameIndex * 131) % (FILLER.length - frame.length);
		FILLER.copy(frame, headerSize, offset, offset + frame.length - headerSize);
		// Frame tag, little-endian: bit 0 P (0 = keyframe), bits 1-3 version 0, bit 4 show_frame,
		// bits 5-23 first partition size (claimed as the whole body; never decoded).
		const firstPartitionSize = Math.min(frame.length - headerSize, 0x7ffff);
		const tag = (keyFrame ? 0 : 1) | (1 << 4) | (firstPartitionSize << 5);
		frame[0] = tag & 0xff;
		frame[1] = (tag >> 8) & 0xff;
		frame[2] = (tag >> 16) & 0xff;
		if (keyFrame) {
			frame[3] = 0x9d;
			frame[4] = 0x01;
			frame[5] = 0x2a;
			frame.writeUInt16LE(this.width & 0x3fff, 6); // upper 2 bits: horizontal scale 0
			frame.writeUInt16LE(this.height & 0x3fff, 8);
		}
		return frame;
	}
}
