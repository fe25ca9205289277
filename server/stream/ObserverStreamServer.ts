import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mediasoup from 'mediasoup';
import { Logger } from '../base/Logger.js';
import { TypedEmitter } from '../base/TypedEmitter.js';
import type { SfuObserver } from '../observer/SfuObserver.js';
import type { ObserverRequestHandler } from './ObserverRequestHandler.js';
import type { StateChange } from '../observer/ObservedState.js';
import { UnixSocketPath } from './UnixSocketPath.js';
import { ObserverStreamConnection, type InboundRequest } from './ObserverStreamConnection.js';
import { PROTOCOL_VERSION, type Hello, type Snapshot, type StateEvent } from './protocol.js';

const logger = new Logger('ObserverStreamServer');

export const DEFAULT_MAX_CLIENT_BACKLOG_BYTES = 8 * 1024 * 1024;

export type ObserverStreamServerObserverEvents = {
	clientconnected: [{ id: number }];
	/** A client went away; reason 'backlog' means the server dropped it for not reading. */
	clientclosed: [{ id: number; reason: string; peakBacklogBytes: number }];
	close: [];
};

export type ObserverStreamServerOptions = {
	socketPath: string;
	sfuObserver: SfuObserver;
	requestHandler: ObserverRequestHandler;
	/** A client whose unsent backlog passes this many bytes is disconnected. */
	maxClientBacklogBytes?: number;
};

/**
 * The observer stream (see protocol.ts) on a Unix domain socket with mode 0600: `hello` and a
 * `snapshot` to each new client, then every SfuObserver change as a numbered `event`, and answers
 * to requests. Each event is serialised once and written to every client.
 */
export class ObserverStreamServer {
	readonly socketPath: string;
	readonly observer = new TypedEmitter<ObserverStreamServerObserverEvents>();
	readonly #socketFile: UnixSocketPath;
	readonly #server: net.Server;
	readonly #sfuObserver: SfuObserver;
	readonly #requestHandler: ObserverRequestHandler;
	readonly #maxClientBacklogBytes: number;
	readonly #connections = new Map<number, ObserverStreamConnection>();
	readonly #hello: Hello;
	readonly #onChange = (change: StateChange): void => this.#broadcast(change);
	#inode: number | undefined;
	#seq = 0;
	#nextClientId = 1;
	#closed = false;

	static async create(options: ObserverStreamServerOptions): Promise<ObserverStreamServer> {
		const stream = new ObserverStreamServer(options);
		await stream.#listen();
		return stream;
	}

	private constructor({
		socketPath,
		sfuObserver,
		requestHandler,
		maxClientBacklogBytes = DEFAULT_MAX_CLIENT_BACKLOG_BYTES
	}: ObserverStreamServerOptions) {
		if (!Number.isInteger(maxClientBacklogBytes) || maxClientBacklogBytes < 1)
			throw new TypeError('maxClientBacklogBytes must be a positive integer');
		this.#socketFile = new UnixSocketPath(socketPath);
		this.socketPath = this.#socketFile.path;
		this.#sfuObserver = sfuObserver;
		this.#requestHandler = requestHandler;
		this.#maxClientBacklogBytes = maxClientBacklogBytes;
		this.#hello = {
			type: 'hello',
			protocol: 'meter-sfu-observer',
			version: PROTOCOL_VERSION,
			server: { pid: process.pid, version: packageVersion(), startedAt: Date.now(), mediasoupVersion: mediasoup.version }
		};
		this.#server = net.createServer((socket) => this.#onConnection(socket));
	}

	/** Sequence number of the last event sent. */
	get seq(): number {
		return this.#seq;
	}

	get clientCount(): number {
		return this.#connections.size;
	}

	/** Unsent bytes per connected client, by client id. */
	clientBacklogs(): Map<number, { backlogBytes: number; peakBacklogBytes: number }> {
		return new Map(
			[...this.#connections].map(([id, c]) => [id, { backlogBytes: c.backlogBytes, peakBacklogBytes: c.peakBacklogBytes }])
		);
	}

	snapshot(): Snapshot {
		// Its updates go out as events first, so the snapshot's seq covers them.
		this.#sfuObserver.refresh();
		return { type: 'snapshot', seq: this.#seq, state: this.#sfuObserver.snapshot() };
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		logger.debug('close()');
		this.#sfuObserver.off('change', this.#onChange);
		for (const connection of this.#connections.values()) connection.close('server closed');
		this.#connections.clear();
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
		// libuv unlinks a bound socket on close; this covers a socket it left.
		this.#socketFile.removeIfOwn(this.#inode);
		this.observer.emit('close');
	}

	async #listen(): Promise<void> {
		await this.#socketFile.prepare();
		await new Promise<void>((resolve, reject) => {
			this.#server.once('error', reject);
			// The socket file is created by bind() inside listen(): a umask there gives it mode 0600
			// from the start, with no window in which others could connect.
			const previousUmask = process.umask(0o177);
			try {
				this.#server.listen(this.socketPath, () => {
					this.#server.off('error', reject);
					resolve();
				});
			} finally {
				process.umask(previousUmask);
			}
		});
		fs.chmodSync(this.socketPath, 0o600);
		this.#inode = fs.lstatSync(this.socketPath).ino;
		this.#server.on('error', (error: Error) => logger.error('socket server: %s', error.message));
		this.#sfuObserver.on('change', this.#onChange);
		logger.debug('listening on %s', this.socketPath);
	}

	#onConnection(socket: net.Socket): void {
		if (this.#closed) {
			socket.destroy();
			return;
		}
		// Taken before the client joins the broadcast: updates the snapshot's refresh emits go to the
		// others only, and this client gets hello and snapshot first.
		const snapshot = this.snapshot();
		const connection = new ObserverStreamConnection({ id: this.#nextClientId++, socket, maxBacklogBytes: this.#maxClientBacklogBytes });
		this.#connections.set(connection.id, connection);
		connection.on('request', (request) => this.#onRequest(request));
		connection.on('close', ({ reason }) => {
			this.#connections.delete(connection.id);
			logger.debug('client %d closed (%s)', connection.id, reason);
			this.observer.emit('clientclosed', { id: connection.id, reason, peakBacklogBytes: connection.peakBacklogBytes });
		});
		logger.debug('client %d connected', connection.id);
		this.observer.emit('clientconnected', { id: connection.id });
		connection.send(this.#hello);
		connection.send(snapshot);
	}

	#broadcast(change: StateChange): void {
		this.#seq++;
		const event = { type: 'event', seq: this.#seq, ...change } as StateEvent;
		const line = `${JSON.stringify(event)}\n`;
		for (const connection of this.#connections.values()) connection.sendLine(line);
	}

	#onRequest(request: InboundRequest): void {
		if (request.method === 'snapshot') {
			request.reply({ result: this.snapshot() });
			return;
		}
		this.#requestHandler.handle(request.method, request.params).then(
			(result) => request.reply({ result }),
			(error: Error) => {
				if (!error.name || error.name === 'Error' || error.name === 'TypeError')
					logger.warn('request %s failed: %s', request.method, error.message);
				request.reply({ error: { name: error.name || 'Error', message: error.message } });
			}
		);
	}
}

let cachedVersion: string | undefined;

function packageVersion(): string {
	if (cachedVersion) return cachedVersion;
	// Runs from server/stream (tsx) or dist/server/stream (compiled): walk up to package.json.
	let dir = path.dirname(fileURLToPath(import.meta.url));
	while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
	try {
		cachedVersion = String(
			(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '0.0.0'
		);
	} catch {
		cachedVersion = '0.0.0';
	}
	return cachedVersion;
}
