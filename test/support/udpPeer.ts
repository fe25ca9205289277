import dgram from 'node:dgram';
import { once } from 'node:events';
import { SignallingClient } from '../../tools/synthetic/SignallingClient.js';
import { syntheticRtpCapabilities } from '../../tools/synthetic/syntheticRtpCapabilities.js';

export type UdpPeer = { signalling: SignallingClient; socket: dgram.Socket; peerId: string };

/**
 * A peer joined to `roomId` with a UDP socket on 127.0.0.1, for the RTCP test peers: `setUp` makes
 * its transports and media; if joining or `setUp` fails, the socket and the connection are closed.
 */
export async function withUdpPeer<T>(
	{ url, roomId, displayName }: { url: string; roomId: string; displayName: string },
	setUp: (peer: UdpPeer) => Promise<T>
): Promise<T> {
	const signalling = await SignallingClient.connect({ url });
	const socket = dgram.createSocket('udp4');
	try {
		socket.bind(0, '127.0.0.1');
		await once(socket, 'listening');
		const { routerRtpCapabilities } = await signalling.request('getRouterRtpCapabilities', { roomId });
		const { peerId } = await signalling.request('join', {
			roomId,
			displayName,
			rtpCapabilities: syntheticRtpCapabilities(routerRtpCapabilities)
		});
		return await setUp({ signalling, socket, peerId });
	} catch (error) {
		signalling.close();
		socket.close();
		throw error;
	}
}
