import '../server/workerBinary.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { SignallingClient } from './support/signallingClient.js';
import { handshakeRefused } from './support/handshakeRefusal.js';
import { startTestServer, type TestServer } from './support/signallingServer.js';
import { scrape } from './support/exposition.js';
import { promtoolCheckMetrics } from './support/prometheus.js';
import { OpusStream } from '../tools/synthetic/OpusStream.js';
import { syntheticRtpCapabilities } from '../tools/synthetic/syntheticRtpCapabilities.js';
import { MAX_CLIENT_LINE_BYTES } from '../server/stream/protocol.js';
import { until } from './support/until.js';

// Hostile text in display names and user agents: quotes, backslashes, newlines, control
// characters, lone surrogates, bidi overrides, huge values. Each is refused, or cleaned, cut and
// escaped on its way into the metrics (with personal labels on) and the operator console. And the
// observer socket's input side: a line that never ends, and bytes that are not UTF-8.

const MAX_DISPLAY_NAME = 1024;
const LABEL_CHARS = 128;
/** What no line of the exposition or the console may carry: C0 (but \n), DEL, C1, lone surrogates. */
const RAW_CONTROL = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type Hostile = { displayName: string; userAgent: string; expectedName: string };

const LONG = `Zoë ${'x'.repeat(1000)}`;
const HOSTILE: Hostile[] = [
	{
		displayName: 'Quote "double" \'single\' `back`',
		userAgent: 'UA "quoted" \'single\'',
		expectedName: 'Quote "double" \'single\' `back`'
	},
	{ displayName: 'Back\\slash \\" \\n \\\\', userAgent: 'UA \\back\\slash \\"', expectedName: 'Back\\slash \\" \\n \\\\' },
	{ displayName: 'Line1\nLine2\r\nLine3\u2028Line4', userAgent: 'UA newline-free', expectedName: 'Line1Line2Line3Line4' },
	{
		displayName: 'Ctrl\u0000\u0007\u001b[2J\u007f\u0085\u009bend',
		userAgent: 'UA C1 \u0085\u009b latin1 \u00ff',
		expectedName: 'Ctrl[2Jend'
	},
	{ displayName: 'Lone \uD800 high \uDC00 low 😀 pair', userAgent: 'UA emoji-free', expectedName: 'Lone \uFFFD high \uFFFD low 😀 pair' },
	{ displayName: 'abc\u202Eevil\u2066x', userAgent: 'UA bidi-free', expectedName: 'abcevilx' },
	{ displayName: LONG, userAgent: `UA ${'y'.repeat(10_000)}`, expectedName: LONG }
];

let server: TestServer;
let rtp: dgram.Socket;
const clients: SignallingClient[] = [];
const peerIds = new Map<string, Hostile>();

function runConnect(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn(path.resolve('scripts/connect'), ['--socket', server.server.observerSocketPath, ...args], {
			env: { ...process.env, DEBUG: '' },
			stdio: ['ignore', 'pipe', 'pipe']
		});
		let stdout = '';
		let stderr = '';
		child.stdout.setEncoding('utf8').on('data', (d: string) => {
			stdout += d;
		});
		child.stderr.setEncoding('utf8').on('data', (d: string) => {
			stderr += d;
		});
		const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
		child.once('error', reject);
		child.once('close', (code) => {
			clearTimeout(timer);
			resolve({ code, stdout, stderr });
		});
	});
}

/** A raw HTTP request to the app server (what a client library would refuse to send). */
function rawHttp(request: string | Buffer): Promise<string> {
	const { port } = new URL(server.url);
	return new Promise((resolve, reject) => {
		const socket = net.connect(Number(port), '127.0.0.1');
		let answer = '';
		socket.setEncoding('latin1');
		socket.on('data', (d: string) => {
			answer += d;
		});
		socket.on('end', () => resolve(answer));
		socket.on('close', () => resolve(answer));
		socket.on('error', (error: NodeJS.ErrnoException) =>
			error.code === 'ECONNRESET' || error.code === 'EPIPE' ? resolve(answer) : reject(error)
		);
		socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
		socket.end(request);
	});
}

/** A full GC (without --expose-gc on the command line), so memory figures count what is retained. */
function retainedBytes(): number {
	v8.setFlagsFromString('--expose-gc');
	const gc = vm.runInNewContext('gc') as () => void;
	gc();
	gc();
	const { heapUsed, arrayBuffers } = process.memoryUsage();
	return heapUsed + arrayBuffers;
}

/** The value as the exporter must show it: cut at 128 code points, never inside a pair. */
const cut = (value: string): string => Array.from(value).slice(0, LABEL_CHARS).join('');

before(async () => {
	server = await startTestServer({
		room: { maxDisplayNameLength: MAX_DISPLAY_NAME },
		syntheticPeers: { enabled: true },
		prometheus: { personalLabels: true, numeric: true }
	});
	rtp = dgram.createSocket('udp4');
	await new Promise<void>((resolve) => rtp.bind(0, '127.0.0.1', resolve));
	// Each hostile peer sends a little real audio, so its producer has stream series with its labels.
	for (const hostile of HOSTILE) {
		const client = await SignallingClient.connect(server.url, { extraHeaders: { 'user-agent': hostile.userAgent } });
		clients.push(client);
		const { routerRtpCapabilities } = await client.requestOk('getRouterRtpCapabilities', { roomId: 'hostile' });
		const { peerId } = await client.requestOk('join', {
			roomId: 'hostile',
			displayName: hostile.displayName,
			rtpCapabilities: syntheticRtpCapabilities(routerRtpCapabilities)
		});
		peerIds.set(peerId, hostile);
		const send = await client.requestOk('createPlainTransport', { direction: 'send' });
		const audio = new OpusStream();
		await client.requestOk('produce', { transportId: send.id, kind: 'audio', rtpParameters: audio.rtpParameters() });
		for (let i = 0; i < 5; i++) for (const packet of audio.nextFrame()) rtp.send(packet, send.port, send.ip);
	}
});

after(async () => {
	for (const client of clients) client.close();
	rtp.close();
	await server.close();
});

test('display names: controls, bidi marks and line breaks removed, lone surrogates replaced; too long or too big refused', async () => {
	const peers = server.server.sfuObserver.state.peers;
	for (const [peerId, hostile] of peerIds)
		assert.equal(peers[peerId]!.displayName, hostile.expectedName, JSON.stringify(hostile.displayName.slice(0, 40)));

	const client = await SignallingClient.connect(server.url);
	clients.push(client);
	const { routerRtpCapabilities: caps } = await client.requestOk('getRouterRtpCapabilities', { roomId: 'hostile' });
	const tooLong = await client.request('join', {
		roomId: 'hostile',
		displayName: 'n'.repeat(MAX_DISPLAY_NAME * 4 + 1),
		rtpCapabilities: caps
	});
	assert.ok(
		!tooLong.ok && tooLong.error.name === 'BadRequestError' && /^data\.displayName/.test(tooLong.error.message),
		JSON.stringify(tooLong).slice(0, 200)
	);
	const onlyControls = await client.request('join', { roomId: 'hostile', displayName: '\u0000\n\u202E\t ', rtpCapabilities: caps });
	assert.ok(!onlyControls.ok && /empty/.test(onlyControls.error.message));
	// 100 KB is over signalling.maxMessageBytes: the connection is closed, no answer, no peer.
	const peersBefore = Object.keys(server.server.sfuObserver.state.peers).length;
	const huge = await client
		.rawRequest({ method: 'join', data: { roomId: 'hostile', displayName: '\u0007"\\'.repeat(34_000), rtpCapabilities: caps } }, 5000)
		.catch((e: Error) => e);
	assert.ok(huge instanceof Error);
	assert.equal(client.connected, false);
	assert.equal(Object.keys(server.server.sfuObserver.state.peers).length, peersBefore);
});

test('user agents: a line break or a 100 KB header is refused by the HTTP parser; others are cut and kept as sent', async () => {
	const peers = server.server.sfuObserver.state.peers;
	for (const [peerId, hostile] of peerIds) assert.equal(peers[peerId]!.userAgent, hostile.userAgent.slice(0, 256));
	const socketsBefore = server.server.meetingServer.counters.snapshot().connectedSockets;
	const handshake = (userAgent: string): string =>
		`GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ${userAgent}\r\nConnection: close\r\n\r\n`;
	assert.match(await rawHttp(handshake('evil\rX-Injected: 1')), /^HTTP\/1\.1 400 /);
	assert.match(await rawHttp(handshake('nul\u0000byte')), /^HTTP\/1\.1 400 /);
	assert.match(await rawHttp(handshake('x'.repeat(100_000))), /^HTTP\/1\.1 431 /);
	// The same handshake with a harmless agent is accepted: the refusals are about the header.
	assert.match(await rawHttp(handshake('curious "agent" \\ ok')), /^HTTP\/1\.1 200 /);
	await assert.rejects(
		SignallingClient.connect(server.url, { extraHeaders: { 'user-agent': 'z'.repeat(100_000) } }),
		handshakeRefused(431)
	);
	await until(
		'the refused handshakes to leave no socket',
		() => server.server.meetingServer.counters.snapshot().connectedSockets <= socketsBefore
	);
});

test('the exposition with personal labels: promtool-clean, one line per sample, labels cleaned, cut at 128 and escaped', async () => {
	await until("every hostile peer's producer in the exposition", async () => {
		const { exposition } = await scrape(server.server.metricsUrl!);
		return [...peerIds.keys()].every(
			(peerId) => exposition.find('mediasoup_producer_byte_count_bytes', { peer_id: peerId }).length === 1
		);
	});
	const { body, exposition } = await scrape(server.server.metricsUrl!);
	const lint = promtoolCheckMetrics(body);
	assert.equal(lint.status, 0, lint.output);
	body.split('\n').forEach((line, i) =>
		assert.doesNotMatch(line, RAW_CONTROL, `line ${i + 1} carries a raw control character or lone surrogate`)
	);
	for (const [peerId, hostile] of peerIds) {
		const [sample] = exposition.find('mediasoup_producer_byte_count_bytes', { peer_id: peerId });
		// The exporter also turns C1 controls of the user agent (latin1 header bytes) into U+FFFD.
		assert.equal(sample!.labels.display_name, cut(hostile.expectedName));
		assert.equal(sample!.labels.user_agent, cut(hostile.userAgent.slice(0, 256).replace(/[\u0080-\u009F]/g, '\uFFFD')));
	}
	// Escaping: a quote and a backslash appear escaped in the text, never raw inside a label.
	const quoted = [...peerIds].find(([, h]) => h.displayName.startsWith('Quote'))![0];
	const line = body.split('\n').find((l) => l.startsWith('mediasoup_producer_byte_count_bytes{') && l.includes(quoted))!;
	assert.ok(line.includes('display_name="Quote \\"double\\" \'single\' `back`"'), line);
	assert.ok(line.includes('user_agent="UA \\"quoted\\" \'single\'"'), line);
});

test('the console prints each hostile peer on one line, escaped; --json is well-formed', async () => {
	const table = await runConnect(['peers', 'hostile']);
	assert.equal(table.code, 0, table.stderr);
	const lines = table.stdout.trimEnd().split('\n');
	assert.equal(lines.length, 1 + peerIds.size, `one line per peer plus the header:\n${table.stdout}`);
	for (const peerId of peerIds.keys()) assert.equal(lines.filter((l) => l.startsWith(peerId)).length, 1);
	lines.forEach((l, i) => assert.doesNotMatch(l, RAW_CONTROL, `console line ${i + 1}`));
	assert.ok(!table.stdout.includes(LONG), 'the long name is cut in the table');

	const rooms = await runConnect(['rooms']);
	assert.equal(rooms.code, 0, rooms.stderr);
	rooms.stdout.split('\n').forEach((l, i) => assert.doesNotMatch(l, RAW_CONTROL, `rooms line ${i + 1}`));

	const json = await runConnect(['--json', 'peers', 'hostile']);
	assert.equal(json.code, 0, json.stderr);
	// Lone surrogates would come out as \ud800 escapes, which strict UTF-8 consumers reject.
	assert.doesNotMatch(json.stdout, /\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i);
	const names = (JSON.parse(json.stdout) as { id: string; displayName: string }[]).map((p) => [p.id, p.displayName]).sort();
	assert.deepEqual(names, [...peerIds].map(([id, h]) => [id, h.expectedName]).sort());
});

test('observer socket: a line that never ends costs bounded memory; bytes that are not UTF-8 get an error, the connection goes on', async () => {
	const socket = net.connect(server.server.observerSocketPath);
	let received = '';
	socket.setEncoding('utf8').on('data', (d: string) => {
		received += d;
	});
	try {
		await until('the snapshot', () => received.includes('"type":"snapshot"'));
		const chunk = Buffer.alloc(256 * 1024, 'x');
		const before = retainedBytes();
		let peak = 0;
		// 64 MB without a newline, written as fast as the server takes it; every 8 MB, what the
		// server process (this one) retains after a GC is measured.
		for (let sent = 0; sent < 64 * 1024 * 1024; sent += chunk.length) {
			if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
			if (sent % (8 * 1024 * 1024) === 0) peak = Math.max(peak, retainedBytes() - before);
		}
		socket.write('\n');
		assert.ok(peak < 4 * 1024 * 1024, `retained memory grew by ${(peak / 1024 / 1024).toFixed(1)} MB while 64 MB streamed in`);
		await until('the error reply', () => received.includes('PayloadTooLargeError'));
		assert.equal(received.split('PayloadTooLargeError').length - 1, 1, 'one error for the one oversized line');
		assert.ok(MAX_CLIENT_LINE_BYTES < chunk.length);

		// Invalid UTF-8 (a lone continuation byte, a truncated sequence, an overlong NUL) in a request id.
		socket.write(
			Buffer.concat([
				Buffer.from('{"type":"request","id":"'),
				Buffer.from([0x80, 0xe2, 0x82, 0xc0, 0x80]),
				Buffer.from('","method":"counters","params":{}}\n')
			])
		);
		socket.write(Buffer.from([0xff, 0xfe, 0x0a]));
		socket.write('{"type":"request","id":"after","method":"counters","params":{}}\n');
		await until('the answer after the bad bytes', () => received.includes('"id":"after"'));
		assert.ok(received.includes('not JSON'), 'the bytes that are not JSON got an error');
		assert.equal(server.server.observerStreamServer.clientCount >= 2, true, "the exporter's connection and this one are both up");
	} finally {
		socket.destroy();
	}
});
