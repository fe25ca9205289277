import crypto from 'node:crypto';
import type { types as ms } from 'mediasoup';
import { RtpStream } from './RtpStream.js';

const FILLER = crypto.randomBytes(4096);
/** Opus TOC byte (RFC 6716 3.1): config 31 (CELT fullband, 20 ms), stereo, one frame. */
const TOC_CELT_FB_20MS_STEREO = (31 << 3) | 0x04;

export type OpusStreamOptions = {
	payloadType?: number;
	ssrc?: number;
	/** Payload bytes per 20 ms packet (80 bytes ≈ 32 kbps). */
	payloadSize?: number;
};

/**
 * Synthetic Opus audio: one 20 ms packet per frame at 48 kHz (50 packets/s). The payload is a valid
 * TOC byte followed by filler; the SFU forwards Opus without decoding it.
 */
export class OpusStream extends RtpStream {
	readonly payloadSize: number;

	constructor({ payloadType = 100, ssrc, payloadSize = 80 }: OpusStreamOptions = {}) {
		if (!Number.isInteger(payloadSize) || payloadSize < 2 || payloadSize > 1275)
			throw new TypeError('payloadSize must be an integer from 2 to 1275');
		super({ kind: 'audio', ssrc, payloadType, clockRate: 48_000, frameIntervalMs: 20 });
		this.payloadSize = payloadSize;
	}

	rtpParameters(): ms.RtpParameters {
		return {
			codecs: [{ mimeType: 'audio/opus', payloadType: this.payloadType, clockRate: this.clockRate, channels: 2, rtcpFeedback: [] }],
			encodings: [{ ssrc: this.ssrc }]
		};
	}

	nextFrame(): Buffer[] {
		const offset = (this.frameIndex * 37) % (FILLER.length - this.payloadSize);
		const payload = [Buffer.from([TOC_CELT_FB_20MS_STEREO]), FILLER.subarray(offset, offset + this.payloadSize - 1)];
		// The marker bit flags the first packet of a talkspurt (RFC 7587): only the very first here.
		const packet = this.packet({ payloadParts: payload, marker: this.frameIndex === 0 });
		this.frameDone();
		return [packet];
	}
}
