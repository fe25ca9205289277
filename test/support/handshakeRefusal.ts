import assert from 'node:assert/strict';

/**
 * An assert.rejects() matcher for a socket.io connection whose WebSocket handshake the server
 * refused with HTTP `status`: socket.io-client's TransportError ("websocket error"), whose
 * description names the server's response.
 */
export function handshakeRefused(status: number): (error: unknown) => true {
	return (error) => {
		const { message, type, description } = error as Error & { type?: unknown; description?: { message?: unknown } };
		assert.deepEqual(
			{ message, type, response: description?.message },
			{ message: 'websocket error', type: 'TransportError', response: `Unexpected server response: ${status}` }
		);
		return true;
	};
}
