import { RtpReceiveStats } from './RtpReceiveStats.js';

/**
 * Receive statistics by RTP stream, keyed by the sending transport's port and the SSRC (consumer
 * SSRCs are random per consumer, the port tells transports apart): what RtpSink and the bench's
 * NativeRtpSink hand out from watch().
 */
export class RtpReceiveStatsTable {
	/** Key: remotePort * 2^32 + ssrc (fits in a double exactly). */
	readonly #streams = new Map<number, RtpReceiveStats>();

	/** The stream's statistics, made if new; `mimeType` labels it (VP8 keyframe counting). */
	watch({ remotePort, ssrc, mimeType }: { remotePort: number; ssrc: number; mimeType?: string }): RtpReceiveStats {
		const key = remotePort * 0x100000000 + ssrc;
		let stats = this.#streams.get(key);
		if (!stats) {
			stats = new RtpReceiveStats({ remotePort, ssrc, mimeType });
			this.#streams.set(key, stats);
		} else if (mimeType) {
			stats.mimeType = mimeType;
		}
		return stats;
	}

	get size(): number {
		return this.#streams.size;
	}

	values(): IterableIterator<RtpReceiveStats> {
		return this.#streams.values();
	}

	clear(): void {
		this.#streams.clear();
	}
}
