import { normalizeDisplayName } from './displayName.js';
import { AlreadyJoinedError } from './RequestError.js';
import { checkRtpCapabilities } from './rtpCapabilitiesCheck.js';
import type { RequestHandlers } from './RequestHandler.js';

export const roomRequests: RequestHandlers<'join' | 'getRouterRtpCapabilities' | 'leave'> = {
	async join(ctx, { roomId, displayName, rtpCapabilities }) {
		if (ctx.session.peer) throw new AlreadyJoinedError();
		const name = normalizeDisplayName(displayName, ctx.config.room.maxDisplayNameLength);
		const capabilities = checkRtpCapabilities(rtpCapabilities, 'data.rtpCapabilities');
		const room = await ctx.rooms.getOrCreateRoom(roomId);
		const peer = room.join({
			displayName: name, rtpCapabilities: capabilities, userAgent: ctx.session.userAgent,
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
