import type { RequestHandlers } from './RequestHandler.js';

export const producerRequests: RequestHandlers<'produce' | 'pauseProducer' | 'resumeProducer' | 'closeProducer'> = {
	async produce(ctx, { transportId, kind, rtpParameters, paused }) {
		// appData.source is validated but not kept: mediasoup objects carry only { peerId, roomId }.
		const producerId = await ctx
			.requirePeer()
			.produce({ transportId, kind, rtpParameters, ...(paused !== undefined ? { paused } : {}) });
		return { producerId };
	},

	async pauseProducer(ctx, { producerId }) {
		await ctx.requirePeer().pauseProducer(producerId);
		return {};
	},

	async resumeProducer(ctx, { producerId }) {
		await ctx.requirePeer().resumeProducer(producerId);
		return {};
	},

	async closeProducer(ctx, { producerId }) {
		ctx.requirePeer().closeProducer(producerId);
		return {};
	}
};
