import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Logger } from '../base/Logger.js';
import { SocketInUseError, UnsafeSocketPathError } from '../base/errors.js';

const logger = new Logger('UnixSocketPath');

/** How long to wait for an existing socket to answer before calling it stale. */
const PROBE_TIMEOUT_MS = 1_000;

/**
 * Makes a Unix socket path safe to listen on. The socket carries the SFU's full state (display
 * names, addresses) and accepts commands, so only this user may reach it:
 * - the parent directory is created with mode 0700 when missing; an existing one must be a real
 *   directory (not a symlink) owned by this user and not writable by group or others;
 * - a socket file nobody listens on (left by a crash) is removed; one that answers is in use;
 * - anything else at the path (regular file, directory, symlink) is an error: it is never
 *   followed or removed.
 */
export class UnixSocketPath {
	readonly path: string;

	constructor(socketPath: string) {
		if (typeof socketPath !== 'string' || socketPath.length === 0) throw new TypeError('socket path must be a non-empty string');
		this.path = path.resolve(socketPath);
	}

	get directory(): string {
		return path.dirname(this.path);
	}

	async prepare(): Promise<void> {
		await this.#prepareDirectory();
		await this.#clearStaleSocket();
	}

	async #prepareDirectory(): Promise<void> {
		const dir = this.directory;
		let stat = await lstatOrNull(dir);
		if (!stat) {
			await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
			stat = await fs.promises.lstat(dir);
			logger.debug('created %s', dir);
		}
		if (stat.isSymbolicLink()) throw new UnsafeSocketPathError(`${dir}: the socket's directory is a symlink; use a real directory`);
		if (!stat.isDirectory()) throw new UnsafeSocketPathError(`${dir}: not a directory`);
		const uid = process.getuid?.();
		if (uid !== undefined && stat.uid !== uid) {
			throw new UnsafeSocketPathError(`${dir}: owned by uid ${stat.uid}, not by this user (uid ${uid})`);
		}
		if ((stat.mode & 0o022) !== 0) {
			throw new UnsafeSocketPathError(`${dir}: writable by group or others (mode ${(stat.mode & 0o777).toString(8)}); use chmod 700`);
		}
	}

	async #clearStaleSocket(): Promise<void> {
		const stat = await lstatOrNull(this.path);
		if (!stat) return;
		if (!stat.isSocket()) {
			const what = stat.isSymbolicLink()
				? 'a symlink'
				: stat.isDirectory()
					? 'a directory'
					: stat.isFile()
						? 'a regular file'
						: 'not a socket';
			throw new UnsafeSocketPathError(`${this.path}: exists and is ${what}; remove it or choose another observer.socketPath`);
		}
		if (await answers(this.path)) {
			throw new SocketInUseError(`${this.path}: another process is listening on it (is another server running?)`);
		}
		logger.warn('removing stale socket %s', this.path);
		await fs.promises.unlink(this.path);
	}

	/** Removes the socket file if it is still the one with this inode (never another process's). */
	removeIfOwn(inode: number | undefined): void {
		try {
			const stat = fs.lstatSync(this.path);
			if (stat.isSocket() && (inode === undefined || stat.ino === inode)) fs.unlinkSync(this.path);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
				logger.warn('could not remove %s: %s', this.path, (error as Error).message);
		}
	}
}

async function lstatOrNull(p: string): Promise<fs.Stats | null> {
	try {
		return await fs.promises.lstat(p);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
		throw error;
	}
}

/** True when something accepts a connection on the socket. */
function answers(socketPath: string): Promise<boolean> {
	return new Promise((resolve, reject) => {
		const socket = net.connect(socketPath);
		const done = (result: boolean | Error): void => {
			clearTimeout(timer);
			socket.destroy();
			if (result instanceof Error) reject(result);
			else resolve(result);
		};
		// A listener that does not accept within the timeout is treated as alive: never remove a
		// socket that might belong to a running server.
		const timer = setTimeout(() => done(true), PROBE_TIMEOUT_MS);
		socket.once('connect', () => done(true));
		socket.once('error', (error: NodeJS.ErrnoException) => {
			done(error.code === 'ECONNREFUSED' || error.code === 'ENOENT' ? false : error);
		});
	});
}
