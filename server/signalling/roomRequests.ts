import { AlreadyJoinedError } from '../base/errors.js';
import type { RequestHandlers } from './RequestHandler.js';

export const roomRequests: RequestHandlers<'join' | 'getRouterRtpCapabilities' | 'leave'> = {
	async join(ctx, { roomId, displayName, rtpCapabilities }) {
		if (ctx.session.peer) throw new AlreadyJoinedError();
		const room = await ctx.rooms.getOrCreateRoom(roomId);
		// The edge's join schema has cleaned the display name and checked the rtpCapabilities by
		// mediasoup's rules; the peer gets its own copy, which mediasoup fills with defaults in place.
		const peer = room.join({
			displayName,
			rtpCapabilities: structuredClone(rtpCapabilities),
			userAgent: ctx.session.userAgent,
			notify: (message) => ctx.session.notify(message)
		});
		ctx.session.attachPeer(peer);
		return {
			peerId: peer.id,
			routerRtpCapabilities: room.router.rtpCapabilities,
			peers: [...room.peers.values()].filter((p) => p !== peer).map((p) => ({ id: p.id, displayName: p.displayName }))
		};
	},

	async getRouterRtpCapabilities(ctx, { roomId }) {
		const room = await ctx.rooms.getOrCreateRoom(roomId);
		return { routerRtpCapabilities: room.router.rtpCapabilities };
	},

	async leave(ctx) {
		ctx.requirePeer().close();
		return {};
	}
};
