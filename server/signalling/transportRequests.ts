import { isLoopbackAddress } from './loopbackAddress.js';
import { NotAllowedError } from '../base/errors.js';
import type { RequestContext, RequestHandlers } from './RequestHandler.js';

type TransportMethods =
	'createWebRtcTransport' | 'connectWebRtcTransport' | 'restartIce' | 'createPlainTransport' | 'connectPlainTransport';

export const transportRequests: RequestHandlers<TransportMethods> = {
	async createWebRtcTransport(ctx, { direction, forceTcp }) {
		const peer = ctx.requirePeer();
		const options = await peer.createWebRtcTransport({ direction, forceTcp });
		// Consumers are announced once the client knows the transport they arrive on.
		if (direction === 'recv') ctx.afterResponse(() => peer.announceRecvTransport(options.id));
		return options;
	},

	async connectWebRtcTransport(ctx, { transportId, dtlsParameters }) {
		await ctx.requirePeer().connectWebRtcTransport({ transportId, dtlsParameters });
		return {};
	},

	async restartIce(ctx, { transportId }) {
		return { iceParameters: await ctx.requirePeer().restartIce({ transportId }) };
	},

	async createPlainTransport(ctx, { direction }) {
		assertSyntheticPeerAllowed(ctx);
		const peer = ctx.requirePeer();
		const options = await peer.createPlainTransport({ direction });
		if (direction === 'recv') ctx.afterResponse(() => peer.announceRecvTransport(options.id));
		return options;
	},

	async connectPlainTransport(ctx, { transportId, ip, port, rtcpPort }) {
		assertSyntheticPeerAllowed(ctx);
		// Sending media to an address a client names would make the server a UDP reflector.
		if (!isLoopbackAddress(ip)) throw new NotAllowedError('data.ip: plain transports send to loopback addresses only');
		await ctx.requirePeer().connectPlainTransport({ transportId, ip, port, ...(rtcpPort !== undefined ? { rtcpPort } : {}) });
		return {};
	}
};

function assertSyntheticPeerAllowed(ctx: RequestContext): void {
	if (!ctx.config.syntheticPeers.enabled) throw new NotAllowedError('synthetic peers are disabled (config syntheticPeers.enabled)');
	if (!ctx.session.fromLoopback) throw new NotAllowedError('plain transports are for clients on this machine only');
}
