// mediasoup validates rtpCapabilities only when it consumes; checking them at join turns a broken
// client into a BadRequestError up front instead of a peer that silently receives nothing.
import { validateRtpCapabilities } from 'mediasoup/lib/ortc.js';
import type { RtpCapabilities } from './contract.js';
import { normalizeDisplayName } from './displayName.js';
import { AlreadyJoinedError, BadRequestError } from './RequestError.js';
import type { RequestHandlers } from './RequestHandler.js';

export const roomRequests: RequestHandlers<'join' | 'getRouterRtpCapabilities' | 'leave'> = {
	async join(ctx, { roomId, displayName, rtpCapabilities }) {
		if (ctx.session.peer) throw new AlreadyJoinedError();
		const name = normalizeDisplayName(displayName, ctx.config.room.maxDisplayNameLength);
		const capabilities = checkedRtpCapabilities(rtpCapabilities);
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

function checkedRtpCapabilities(rtpCapabilities: RtpCapabilities): RtpCapabilities {
	// validateRtpCapabilities fills defaults in place: work on a copy the peer then owns.
	const copy = structuredClone(rtpCapabilities);
	try {
		validateRtpCapabilities(copy);
	} catch (error) {
		throw new BadRequestError(`data.rtpCapabilities: ${(error as Error).message}`);
	}
	return copy;
}
