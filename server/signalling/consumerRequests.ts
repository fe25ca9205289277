import type { RequestHandlers } from './RequestHandler.js';

export const consumerRequests: RequestHandlers<'resumeConsumer' | 'pauseConsumer' | 'setConsumerPreferredLayers'> = {
	async resumeConsumer(ctx, { consumerId }) {
		await ctx.requirePeer().resumeConsumer(consumerId);
		return {};
	},

	async pauseConsumer(ctx, { consumerId }) {
		await ctx.requirePeer().pauseConsumer(consumerId);
		return {};
	},

	async setConsumerPreferredLayers(ctx, { consumerId, spatialLayer, temporalLayer }) {
		await ctx
			.requirePeer()
			.setConsumerPreferredLayers(consumerId, { spatialLayer, ...(temporalLayer !== undefined ? { temporalLayer } : {}) });
		return {};
	}
};
