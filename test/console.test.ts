import '../server/workerBinary.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import debug from 'debug';
import { SignallingClient } from './support/signallingClient.js';
import { startTestServer, opusParameters, vp8Parameters, type TestServer } from './support/signallingServer.js';
import { tempDir } from './support/observerFixtures.js';
import { ConsoleTable } from '../tools/console/ConsoleTable.js';
import { until } from './support/until.js';

// scripts/connect against a live server: every command, one-shot (table and --json) and at the prompt.

type Run = { code: number | null; stdout: string; stderr: string };

function connect(args: string[], { input, env }: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
	return new Promise((resolve, reject) => {
		const child = spawn(path.resolve('scripts/connect'), args, {
			env: { ...process.env, DEBUG: '', ...env },
			stdio: ['pipe', 'pipe', 'pipe']
		});
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d: Buffer) => {
			stdout += d.toString();
		});
		child.stderr.on('data', (d: Buffer) => {
			stderr += d.toString();
		});
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`scripts/connect ${args.join(' ')} hung:\n${stdout}\n${stderr}`));
		}, 30_000);
		child.on('error', reject);
		child.on('exit', (code) => {
			clearTimeout(timer);
			resolve({ code, stdout, stderr });
		});
		child.stdin.end(input ?? '');
	});
}

let server: TestServer;
let socketPath: string;
const peers: SignallingClient[] = [];
const ids = { worker: '', router: '', transport: '', producer: '', consumer: '', roomId: 'main', alice: '', bob: '' };
const longName = `Bartholomew ${'Q'.repeat(40)} the Long`;
const namespacesBefore = debug.disable();
debug.enable(namespacesBefore);

before(async () => {
	server = await startTestServer();
	socketPath = server.server.observerSocketPath;
	const join = async (displayName: string): Promise<{ client: SignallingClient; peerId: string }> => {
		const client = await SignallingClient.connect(server.url);
		peers.push(client);
		const { routerRtpCapabilities } = await client.requestOk('getRouterRtpCapabilities', { roomId: ids.roomId });
		const { peerId } = await client.requestOk('join', { roomId: ids.roomId, displayName, rtpCapabilities: routerRtpCapabilities });
		return { client, peerId };
	};
	const alice = await join('Alice');
	const bob = await join(longName);
	ids.alice = alice.peerId;
	ids.bob = bob.peerId;
	await bob.client.requestOk('createWebRtcTransport', { direction: 'recv' });
	const send = await alice.client.requestOk('createWebRtcTransport', { direction: 'send' });
	ids.transport = send.id;
	ids.producer = (
		await alice.client.requestOk('produce', { transportId: send.id, kind: 'audio', rtpParameters: opusParameters() })
	).producerId;
	await alice.client.requestOk('produce', { transportId: send.id, kind: 'video', rtpParameters: vp8Parameters() });
	await until('two consumers for Bob', () => bob.client.received('newConsumer').length === 2);
	ids.consumer = bob.client.received('newConsumer')[0]!.consumerId;
	const room = server.server.meetingServer.rooms.get(ids.roomId)!;
	ids.router = room.router.id;
	ids.worker = String(room.workerPid);
});

after(async () => {
	debug.enable(namespacesBefore);
	for (const client of peers) client.close();
	await server.close();
});

test('stats: totals and per worker, as a table and as JSON', async () => {
	const table = await connect(['--socket', socketPath, 'stats']);
	assert.equal(table.code, 0, table.stderr);
	const lines = table.stdout.trim().split('\n');
	assert.match(lines[0]!, /^WORKER\s+ROUTERS\s+ROOMS\s+PEERS\s+TRANSPORTS\s+PRODUCERS\s+CONSUMERS\s+MEDIA PORTS$/);
	assert.match(
		lines.find((l) => l.startsWith(ids.worker))!,
		new RegExp(`^${ids.worker}\\s+1\\s+1\\s+2\\s+2\\s+2\\s+2\\s+udp:\\d+ tcp:\\d+$`)
	);
	assert.match(lines.at(-1)!, /^total\s+1\s+1\s+2\s+2\s+2\s+2$/);

	const json = await connect(['--socket', socketPath, '--json', 'stats']);
	assert.equal(json.code, 0, json.stderr);
	const doc = JSON.parse(json.stdout) as {
		total: Record<string, number>;
		workers: { pid: number; peers: number; mediaPorts: string[] }[];
	};
	assert.deepEqual(doc.total, { workers: 1, routers: 1, rooms: 1, peers: 2, transports: 2, producers: 2, consumers: 2 });
	assert.deepEqual(
		doc.workers.map((w) => [w.pid, w.peers]),
		[[Number(ids.worker), 2]]
	);
	const [webRtcServer] = Object.values(server.server.sfuObserver.state.webRtcServers);
	assert.deepEqual(
		doc.workers[0]!.mediaPorts,
		webRtcServer!.listenInfos.map((l) => `${l.protocol}:${l.port}`)
	);
});

test('rooms and peers: aligned tables with escaped, cut display names; JSON keeps them whole', async () => {
	const rooms = await connect(['--socket', socketPath, 'rooms']);
	assert.equal(rooms.code, 0, rooms.stderr);
	assert.match(rooms.stdout, /^ROOM\s+WORKER\s+PEERS\s+TRANSPORTS\s+PRODUCERS\s+CONSUMERS\s+AGE\s+SPEAKER\n/);
	assert.match(rooms.stdout, new RegExp(`\\nmain\\s+${ids.worker}\\s+2\\s+2\\s+2\\s+2\\s+\\d+s\\s+(Alice|-)\\n`));
	const roomsJson = JSON.parse((await connect(['--socket', socketPath, '--json', 'rooms'])).stdout) as {
		id: string;
		routerId: string;
		peers: number;
	}[];
	assert.deepEqual(
		roomsJson.map((r) => [r.id, r.routerId, r.peers]),
		[['main', ids.router, 2]]
	);

	for (const args of [['peers'], ['peers', 'main']]) {
		const run = await connect(['--socket', socketPath, ...args]);
		assert.equal(run.code, 0, run.stderr);
		const lines = run.stdout.trim().split('\n');
		assert.equal(lines.length, 3);
		const column = lines[0]!.indexOf('NAME');
		assert.ok(
			lines.every((l) => l.length >= column),
			'columns align'
		);
		assert.match(
			lines.find((l) => l.startsWith(ids.alice))!,
			/\sAlice\s+browser\s+1\s+2\s+0\s+\d+s$/
		);
		const bob = lines.find((l) => l.startsWith(ids.bob))!;
		assert.ok(bob.includes(`${longName.slice(0, 23)}…`), `cut name in ${bob}`);
		assert.ok(!bob.includes(longName));
	}
	const json = JSON.parse((await connect(['--socket', socketPath, '--json', 'peers', 'main'])).stdout) as {
		id: string;
		displayName: string;
		consumers: number;
	}[];
	assert.deepEqual(json.map((p) => [p.displayName, p.consumers]).sort(), [
		['Alice', 0],
		[longName, 2]
	]);

	const missing = await connect(['--socket', socketPath, 'peers', 'nowhere']);
	assert.equal(missing.code, 1);
	assert.match(missing.stderr, /no room "nowhere"/);
});

test('display names cannot carry terminal control or bidi characters into a table', () => {
	assert.equal(ConsoleTable.cell('Eve\u001b[2J\u0007'), 'Eve\\x1b[2J\\x07');
	assert.equal(ConsoleTable.cell('abc\u202Eevil'), 'abc\\u{202e}evil');
	assert.equal(ConsoleTable.cell('x'.repeat(50), 10), `${'x'.repeat(9)}…`);
	// Wide characters count two columns, so tables stay aligned.
	assert.equal(ConsoleTable.cell('🎉'.repeat(5), 5), '🎉🎉…');
	assert.equal(ConsoleTable.cell('名前'), '名前');
	const wide = new ConsoleTable([{ header: 'NAME' }, { header: 'N' }]).add(['名前', 1]).add(['abcd', 2]).toString();
	assert.equal(wide, 'NAME  N\n名前  1\nabcd  2');
	const table = new ConsoleTable([{ header: 'A' }, { header: 'N', align: 'right' }]).add(['a\nb', 7]).add(['long', 12345]).toString();
	assert.equal(table, 'A           N\na\\x0ab      7\nlong    12345');
});

test('dump of each kind of object; unknown ids fail with exit code 1', async () => {
	for (const entity of ['worker', 'router', 'transport', 'producer', 'consumer'] as const) {
		const run = await connect(['--socket', socketPath, '--json', 'dump', entity, ids[entity]]);
		assert.equal(run.code, 0, `${entity}: ${run.stderr}`);
		const dump = JSON.parse(run.stdout) as { id?: string; routerIds?: string[] };
		if (entity === 'worker') assert.deepEqual(dump.routerIds, [ids.router]);
		else assert.equal(dump.id, ids[entity]);
	}
	const text = await connect(['--socket', socketPath, 'dump', 'producer', ids.producer]);
	assert.equal(text.code, 0);
	assert.equal((JSON.parse(text.stdout) as { id: string }).id, ids.producer);

	const unknown = await connect(['--socket', socketPath, 'dump', 'producer', 'no-such-id']);
	assert.equal(unknown.code, 1);
	assert.match(unknown.stderr, /^error: no producer with id "no-such-id"/);
	const unknownJson = await connect(['--socket', socketPath, '--json', 'dump', 'consumer', ids.producer]);
	assert.equal(unknownJson.code, 1);
	assert.equal((JSON.parse(unknownJson.stdout) as { error: { name: string } }).error.name, 'NotFoundError');
});

test('stats of one transport, producer and consumer; unknown ids fail', async () => {
	for (const [entity, type] of [
		['transport', 'webrtc-transport'],
		['producer', undefined],
		['consumer', 'outbound-rtp']
	] as const) {
		const json = await connect(['--socket', socketPath, '--json', 'stats', entity, ids[entity]]);
		assert.equal(json.code, 0, json.stderr);
		const doc = JSON.parse(json.stdout) as { entity: string; id: string; stats: { type: string }[] };
		assert.equal(doc.id, ids[entity]);
		if (type) assert.equal(doc.stats[0]!.type, type);
		const table = await connect(['--socket', socketPath, 'stats', entity, ids[entity]]);
		assert.equal(table.code, 0, table.stderr);
		if (type) assert.match(table.stdout, new RegExp(`^STAT.*VALUE\\n(.*\\n)*type\\s+${type}\\n`));
	}
	const transportTable = await connect(['--socket', socketPath, 'stats', 'transport', ids.transport]);
	assert.match(transportTable.stdout, /\niceState\s+new\n/);
	const unknown = await connect(['--socket', socketPath, 'stats', 'consumer', 'nope']);
	assert.equal(unknown.code, 1);
	assert.match(unknown.stderr, /no consumer with id "nope"/);
});

test('usage: the server process and its worker', async () => {
	const table = await connect(['--socket', socketPath, 'usage']);
	assert.equal(table.code, 0, table.stderr);
	assert.match(table.stdout, /^PROCESS\s+PID\s+CPU USER\s+CPU SYSTEM\s+MEMORY\s+HEAP USED\n/);
	assert.match(table.stdout, new RegExp(`\\nserver\\s+${process.pid}\\s+[\\d.]+ s\\s+[\\d.]+ s\\s+[\\d.]+ MiB\\s+[\\d.]+ MiB\\n`));
	assert.match(table.stdout, new RegExp(`\\nworker\\s+${ids.worker}\\s+[\\d.]+ s\\s+[\\d.]+ s\\s+[\\d.]+ MiB \\(max\\)\\s+-\\n?$`));
	const json = JSON.parse((await connect(['--socket', socketPath, '--json', 'usage'])).stdout) as {
		server: { pid: number };
		workers: { pid: number }[];
	};
	assert.equal(json.server.pid, process.pid);
	assert.deepEqual(
		json.workers.map((w) => String(w.pid)),
		[ids.worker]
	);
});

test("loglevel sets and shows the server's debug namespaces", async () => {
	const set = await connect(['--socket', socketPath, 'loglevel', 'meter-sfu:Nothing*']);
	assert.equal(set.code, 0, set.stderr);
	assert.equal(set.stdout, 'log namespaces: meter-sfu:Nothing*\n');
	assert.equal(debug.enabled('meter-sfu:NothingAtAll'), true, 'the server process changed');
	const show = await connect(['--socket', socketPath, '--json', 'loglevel']);
	assert.deepEqual(JSON.parse(show.stdout), { namespaces: 'meter-sfu:Nothing*' });
	const bad = await connect(['--socket', socketPath, 'loglevel', 'x;y']);
	assert.equal(bad.code, 1);
	assert.match(bad.stderr, /namespaces: expected debug namespaces/);
	debug.enable(namespacesBefore);
});

test('help, unknown commands and bad arguments', async () => {
	const help = await connect(['--socket', socketPath, 'help']);
	assert.equal(help.code, 0);
	for (const command of ['stats', 'rooms', 'peers', 'dump', 'usage', 'loglevel', 'help', 'quit'])
		assert.match(help.stdout, new RegExp(`\\n${command}\\b`));
	const unknown = await connect(['--socket', socketPath, 'frobnicate']);
	assert.equal(unknown.code, 2);
	assert.match(unknown.stderr, /unknown command "frobnicate"; try "help"/);
	const badArgs = await connect(['--socket', socketPath, 'dump', 'room', 'x']);
	assert.equal(badArgs.code, 2);
	assert.match(badArgs.stderr, /usage: dump worker\|webRtcServer\|router\|transport\|producer\|consumer ID/);
	const quit = await connect(['--socket', socketPath, 'quit']);
	assert.equal(quit.code, 0);
	const noServer = await connect(['--socket', path.join(tempDir(), 'none.sock'), 'stats']);
	assert.equal(noServer.code, 1);
	assert.match(noServer.stderr, /cannot reach the server at .*none\.sock/);
	const badOption = await connect(['--frob']);
	assert.equal(badOption.code, 2);
});

test('the interactive prompt runs commands until quit, reporting errors without leaving', async () => {
	const run = await connect(['--socket', socketPath], { input: 'stats\n\nrooms\nbogus\ndump producer nope\npeers main\nquit\nstats\n' });
	assert.equal(run.code, 0, run.stderr);
	assert.match(run.stdout, /^connected to .* \(server pid \d+\); "help" lists the commands\n/);
	assert.equal(run.stdout.match(/meter-sfu> /g)?.length, 7, 'one prompt per line up to quit');
	assert.equal(run.stdout.match(/^total\s/gm)?.length, 1, 'nothing after quit');
	assert.match(run.stdout, /\nmain\s+\d+\s+2\s/);
	assert.match(run.stderr, /error: unknown command "bogus"/);
	assert.match(run.stderr, /error: no producer with id "nope"/);
	assert.ok(run.stdout.includes(ids.alice));
});

test('without --socket the console finds the socket in the config the server uses', async () => {
	const dir = tempDir();
	try {
		const file = path.join(dir, 'config.js');
		const example = path.resolve('config/config.example.js');
		fs.writeFileSync(
			file,
			`import base from ${JSON.stringify(example)};
export default { ...base, observer: { ...base.observer, socketPath: ${JSON.stringify(socketPath)} } };
`
		);
		const run = await connect(['--json', 'stats'], { env: { CONFIG: file } });
		assert.equal(run.code, 0, run.stderr);
		assert.equal((JSON.parse(run.stdout) as { total: { peers: number } }).total.peers, 2);
		fs.writeFileSync(file, 'export default { nonsense: true };\n');
		const invalid = await connect(['stats'], { env: { CONFIG: file } });
		assert.equal(invalid.code, 2);
		assert.match(invalid.stderr, /invalid configuration/);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});
