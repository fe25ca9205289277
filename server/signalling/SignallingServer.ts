import type http from 'node:http';
import { Server as SocketIoServer } from 'socket.io';
import type { Config } from '../../config/configSchema.js';
import { Logger } from '../base/Logger.js';
import type { MeetingCounters } from '../sfu/MeetingCounters.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../contract/signalling.js';
import type { RoomDirectory } from './RequestHandler.js';
import { RequestValidator } from './RequestValidator.js';
import { SignallingSession } from './SignallingSession.js';

const logger = new Logger('SignallingServer');

/**
 * socket.io on the app's HTTP server: one SignallingSession per socket, answering requests with
 * the rooms of `rooms`. `close()` disconnects every socket (the HTTP server stays: AppHttpServer owns it).
 */
export class SignallingServer {
	readonly #io: SocketIoServer<ClientToServerEvents, ServerToClientEvents>;
	readonly #sessions = new Set<SignallingSession>();
	#closed = false;

	static create(options: { httpServer: http.Server; config: Config; rooms: RoomDirectory; counters: MeetingCounters }): SignallingServer {
		return new SignallingServer(options);
	}

	private constructor({
		httpServer,
		config,
		rooms,
		counters
	}: {
		httpServer: http.Server;
		config: Config;
		rooms: RoomDirectory;
		counters: MeetingCounters;
	}) {
		const validator = new RequestValidator(config.room);
		this.#io = new SocketIoServer<ClientToServerEvents, ServerToClientEvents>(httpServer, {
			maxHttpBufferSize: config.signalling.maxMessageBytes,
			// Browsers send Origin; refuse pages of other sites driving a visitor's browser here.
			allowRequest: (req, callback) => callback(null, sameOrigin(req))
		});
		this.#io.on('connection', (socket) => {
			if (this.#closed) {
				socket.disconnect(true);
				return;
			}
			const session = new SignallingSession({ socket, validator, counters, rooms, config });
			this.#sessions.add(session);
			counters.socketConnected();
			socket.once('disconnect', () => {
				this.#sessions.delete(session);
				counters.socketDisconnected();
			});
		});
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		logger.debug('close()');
		// Not io.close(): it would also close the HTTP server, which AppHttpServer owns.
		this.#io.disconnectSockets(true);
		this.#io.engine.close();
		for (const session of this.#sessions) session.close();
		this.#sessions.clear();
	}
}

/** No Origin header (non-browser clients) or an Origin whose host is the Host the request went to. */
function sameOrigin(req: http.IncomingMessage): boolean {
	const origin = req.headers.origin;
	if (origin === undefined) return true;
	try {
		return new URL(origin).host === req.headers.host;
	} catch {
		return false;
	}
}
