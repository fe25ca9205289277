import http from 'node:http';
import path from 'node:path';
import fs from 'node:fs';
import express from 'express';
import { Logger } from '../base/Logger.js';
import { listeningUrl, startListening, stopListening } from './HttpListener.js';

const logger = new Logger('AppHttpServer');

/** Where the built app lives: dist/app, found from the project root. */
export function appDistDir(): string {
	let dir = path.dirname(new URL(import.meta.url).pathname);
	while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
	return path.join(dir, 'dist', 'app');
}

/** The HTTP server of the meeting app; socket.io attaches to `httpServer`. */
export class AppHttpServer {
	readonly httpServer: http.Server;
	readonly expressApp: express.Express;
	#closed = false;

	static async create({ ip, port }: { ip: string; port: number }): Promise<AppHttpServer> {
		const server = new AppHttpServer();
		await startListening(server.httpServer, { ip, port });
		logger.debug('listening on %s', server.url);
		return server;
	}

	private constructor() {
		this.expressApp = express();
		this.expressApp.disable('x-powered-by');
		const dist = appDistDir();
		this.expressApp.use(express.static(dist, { index: 'index.html' }));
		this.expressApp.get('/healthz', (_req, res) => {
			res.type('text/plain').send('ok\n');
		});
		this.httpServer = http.createServer(this.expressApp);
	}

	get url(): string {
		return listeningUrl(this.httpServer);
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		await stopListening(this.httpServer);
	}
}
