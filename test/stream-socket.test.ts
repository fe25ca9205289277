import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { ObserverStreamServer } from '../server/stream/ObserverStreamServer.js';
import { ObserverStreamClient } from '../server/stream/ObserverStreamClient.js';
import { ObserverRequestHandler } from '../server/stream/ObserverRequestHandler.js';
import { SfuObserver } from '../server/observer/SfuObserver.js';
import { WorkerPool } from '../server/sfu/WorkerPool.js';
import { tempDir, workerSettings } from './support/observerFixtures.js';

/** One worker for the whole file: these tests are about the socket file, not the SFU. */
const pool = await WorkerPool.create({ numWorkers: 1, settings: workerSettings });
const sfuObserver = new SfuObserver({ workerPool: pool });
const requestHandler = new ObserverRequestHandler({ sfuObserver });
test.after(() => {
	sfuObserver.close();
	pool.close();
});

function start(socketPath: string): Promise<ObserverStreamServer> {
	return ObserverStreamServer.create({ socketPath, sfuObserver, requestHandler });
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
	const dir = tempDir('msfu-sock-');
	try {
		await fn(dir);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

test('the socket has mode 0600, answers, and is removed on close', () =>
	withDir(async (dir) => {
		const socketPath = path.join(dir, 'observer.sock');
		const stream = await start(socketPath);
		try {
			const stat = fs.lstatSync(socketPath);
			assert.ok(stat.isSocket());
			assert.equal(stat.mode & 0o777, 0o600);
			assert.equal(stream.socketPath, socketPath);
			const client = new ObserverStreamClient({ socketPath });
			await client.connect();
			assert.ok(client.state.workers[String(pool.workers[0]!.pid)]);
			client.close();
		} finally {
			await stream.close();
		}
		assert.equal(fs.existsSync(socketPath), false);
		await stream.close(); // idempotent
	}));

test('a missing parent directory is created with mode 0700', () =>
	withDir(async (dir) => {
		const socketPath = path.join(dir, 'a', 'b', 'observer.sock');
		const stream = await start(socketPath);
		try {
			assert.equal(fs.statSync(path.join(dir, 'a', 'b')).mode & 0o777, 0o700);
			assert.equal(fs.statSync(path.join(dir, 'a')).mode & 0o777, 0o700);
		} finally {
			await stream.close();
		}
	}));

test('a parent directory writable by group or others is refused', () =>
	withDir(async (dir) => {
		const open = path.join(dir, 'open');
		fs.mkdirSync(open);
		fs.chmodSync(open, 0o775);
		await assert.rejects(start(path.join(open, 'observer.sock')), {
			name: 'UnsafeSocketPathError',
			message: /writable by group or others/
		});
		fs.chmodSync(open, 0o1777);
		await assert.rejects(start(path.join(open, 'observer.sock')), { name: 'UnsafeSocketPathError' });
		assert.equal(fs.existsSync(path.join(open, 'observer.sock')), false);
	}));

test('a symlinked parent directory is refused', () =>
	withDir(async (dir) => {
		fs.mkdirSync(path.join(dir, 'real'), { mode: 0o700 });
		fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
		await assert.rejects(start(path.join(dir, 'link', 'observer.sock')), { name: 'UnsafeSocketPathError', message: /symlink/ });
	}));

test('a symlink at the socket path is refused and left alone (never followed)', () =>
	withDir(async (dir) => {
		const target = path.join(dir, 'precious.txt');
		fs.writeFileSync(target, 'keep me');
		const socketPath = path.join(dir, 'observer.sock');
		fs.symlinkSync(target, socketPath);
		await assert.rejects(start(socketPath), { name: 'UnsafeSocketPathError', message: /symlink/ });
		assert.ok(fs.lstatSync(socketPath).isSymbolicLink());
		assert.equal(fs.readFileSync(target, 'utf8'), 'keep me');
		// A dangling symlink too.
		fs.unlinkSync(socketPath);
		fs.symlinkSync(path.join(dir, 'nowhere'), socketPath);
		await assert.rejects(start(socketPath), { name: 'UnsafeSocketPathError', message: /symlink/ });
		assert.equal(fs.existsSync(path.join(dir, 'nowhere')), false);
	}));

test('a regular file or a directory at the socket path is refused and left alone', () =>
	withDir(async (dir) => {
		const socketPath = path.join(dir, 'observer.sock');
		fs.writeFileSync(socketPath, 'data');
		await assert.rejects(start(socketPath), { name: 'UnsafeSocketPathError', message: /regular file/ });
		assert.equal(fs.readFileSync(socketPath, 'utf8'), 'data');
		fs.unlinkSync(socketPath);
		fs.mkdirSync(socketPath);
		await assert.rejects(start(socketPath), { name: 'UnsafeSocketPathError', message: /directory/ });
		assert.ok(fs.statSync(socketPath).isDirectory());
	}));

/** A process listening on socketPath, SIGKILLed: it leaves its socket file behind, as a crash does. */
async function leaveStaleSocket(socketPath: string): Promise<void> {
	const child = spawn(
		process.execPath,
		['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`],
		{ stdio: ['ignore', 'pipe', 'inherit'] }
	);
	await once(child.stdout!, 'data');
	const exited = once(child, 'exit');
	child.kill('SIGKILL');
	await exited;
	assert.ok(fs.lstatSync(socketPath).isSocket(), 'the killed process left its socket file');
}

test('a stale socket left by a crash is replaced; a live one is refused', () =>
	withDir(async (dir) => {
		const socketPath = path.join(dir, 'observer.sock');
		await leaveStaleSocket(socketPath);
		const refused = await new Promise<string | undefined>((resolve) => {
			net.connect(socketPath)
				.once('connect', () => resolve(undefined))
				.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
		});
		assert.equal(refused, 'ECONNREFUSED', 'nobody listens on the stale socket');
		const stream = await start(socketPath);
		try {
			// (The inode number may be reused by the new socket, so liveness is the test.)
			assert.equal(fs.lstatSync(socketPath).mode & 0o777, 0o600);
			const client = new ObserverStreamClient({ socketPath });
			await client.connect();
			client.close();
			// A second server on the same path must not take over the live socket.
			await assert.rejects(start(socketPath), { name: 'SocketInUseError' });
			assert.ok(fs.lstatSync(socketPath).isSocket());
			const again = new ObserverStreamClient({ socketPath });
			await again.connect();
			again.close();
		} finally {
			await stream.close();
		}
	}));

test('a parent directory owned by another user is refused', () =>
	withDir(async (dir) => {
		// As root: a directory handed to nobody (65534); as anyone else: a root-owned directory.
		let parent = '/usr';
		if (process.getuid!() === 0) {
			parent = path.join(dir, 'theirs');
			fs.mkdirSync(parent, { mode: 0o700 });
			fs.chownSync(parent, 65534, 65534);
		}
		await assert.rejects(start(path.join(parent, 'observer.sock')), { name: 'UnsafeSocketPathError', message: /owned by uid/ });
		assert.equal(fs.existsSync(path.join(parent, 'observer.sock')), false);
	}));
