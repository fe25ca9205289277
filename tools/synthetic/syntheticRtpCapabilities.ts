import type { types as ms } from 'mediasoup';
import { NamedError } from '../../server/base/errors.js';

export class NoSyntheticCodecError extends NamedError {
	constructor() {
		super('the router offers neither audio/opus nor video/VP8');
	}
}

/**
 * The receive capabilities of a synthetic peer: the router's opus and VP8 entries (so payload
 * types match what the server assigns), without RTX (nobody here sends NACKs, so retransmissions
 * would only muddle the loss count) and without header extensions (the sink parses none).
 */
export function syntheticRtpCapabilities(router: ms.RtpCapabilities): ms.RtpCapabilities {
	const codecs: ms.RtpCodecCapability[] = [];
	for (const codec of router.codecs ?? []) {
		const mimeType = codec.mimeType.toLowerCase();
		if (mimeType === 'audio/opus' && !codecs.some((c) => c.kind === 'audio')) {
			codecs.push({
				kind: 'audio',
				mimeType: codec.mimeType,
				clockRate: codec.clockRate,
				channels: codec.channels ?? 2,
				preferredPayloadType: codec.preferredPayloadType,
				parameters: { ...codec.parameters },
				rtcpFeedback: []
			});
		} else if (mimeType === 'video/vp8' && !codecs.some((c) => c.kind === 'video')) {
			codecs.push({
				kind: 'video',
				mimeType: codec.mimeType,
				clockRate: codec.clockRate,
				preferredPayloadType: codec.preferredPayloadType,
				parameters: { ...codec.parameters },
				rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }]
			});
		}
	}
	if (codecs.length === 0) throw new NoSyntheticCodecError();
	return { codecs, headerExtensions: [] };
}
