import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { validateConfig, ConfigError } from '../config/configSchema.js';
import { loadConfig, resolveConfigPath } from '../server/config/loadConfig.js';

/** A config as a user's file holds it, edited freely by these tests. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any key path may be set or broken
type RawConfig = Record<string, any>;

const minimal = () => ({
	listen: { ip: '127.0.0.1', port: 0 },
	mediasoup: {
		router: { mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] },
		webRtcTransport: { listenIps: [{ ip: '127.0.0.1' }] }
	},
	prometheus: { listen: '127.0.0.1' }
});

function problemsOf(raw: unknown): string[] {
	try {
		validateConfig(raw);
	} catch (error) {
		assert.ok(error instanceof ConfigError);
		return error.problems;
	}
	assert.fail('expected a ConfigError');
}

test('the example config validates and fills defaults', async () => {
	const { config, file } = await loadConfig(path.resolve('config/config.example.js'));
	assert.equal(path.basename(file), 'config.example.js');
	assert.equal(config.listen.port, 3000);
	assert.equal(config.prometheus.port, 8889);
	assert.equal(config.prometheus.listen, '127.0.0.1');
	assert.equal(config.mediasoup.numWorkers, os.availableParallelism());
	assert.match(config.observer.socketPath, /observer\.sock$/);
});

test('a minimal config gets every default', () => {
	const config = validateConfig(minimal());
	assert.equal(config.mediasoup.worker.rtcMinPort, 41000);
	assert.equal(config.room.maxPeers, 50);
	assert.equal(config.prometheus.enabled, true);
	assert.equal(config.prometheus.deidentify, false);
	assert.equal(config.mediasoup.webRtcTransport.listenIps[0]!.announcedIp, null);
	assert.deepEqual(
		config.mediasoup.webRtcServer,
		{
			listenInfos: [
				{ protocol: 'udp', ip: '127.0.0.1', announcedIp: null, port: 40000 },
				{ protocol: 'tcp', ip: '127.0.0.1', announcedIp: null, port: 40000 }
			]
		},
		'one WebRtcServer per worker by default, outside the worker port range'
	);
});

test('webRtcServer: validated, null opts out, and its ports (one per worker) stay clear of the worker range', () => {
	const withServer = (webRtcServer: unknown, numWorkers = 4): RawConfig => {
		const raw = minimal() as RawConfig;
		raw.mediasoup.numWorkers = numWorkers;
		raw.mediasoup.webRtcServer = webRtcServer;
		return raw;
	};
	const info = (port: number, protocol = 'udp') => ({ protocol, ip: '0.0.0.0', announcedIp: '203.0.113.10', port });
	assert.equal(validateConfig(withServer(null)).mediasoup.webRtcServer, null);
	assert.deepEqual(
		validateConfig(withServer({ listenInfos: [info(0), info(0, 'tcp')] })).mediasoup.webRtcServer?.listenInfos.map((i) => i.port),
		[0, 0]
	);
	assert.deepEqual(problemsOf(withServer({ listenInfos: [info(40000, 'sctp')] })), [
		'mediasoup.webRtcServer.listenInfos[0].protocol: expected one of "udp", "tcp", got "sctp"'
	]);
	assert.deepEqual(problemsOf(withServer({ listenInfos: [info(40998)] })), [
		'mediasoup.webRtcServer.listenInfos[0].port: expected ports 40998-41001 (one per worker) outside mediasoup.worker.rtcMinPort..rtcMaxPort (41000-49999)'
	]);
	assert.deepEqual(problemsOf(withServer({ listenInfos: [info(65534)] })), [
		'mediasoup.webRtcServer.listenInfos[0].port: expected a port that leaves one for each of the 4 workers (≤ 65535), got 65534'
	]);
});

test('an unknown key is named with its path', () => {
	const raw = minimal() as RawConfig;
	raw.prometheus.deidentfy = true;
	const problems = problemsOf(raw);
	assert.equal(problems.length, 1);
	assert.match(problems[0]!, /^prometheus\.deidentfy: unknown key/);
	assert.match(problems[0]!, /deidentify/, 'lists the known keys so the typo is obvious');
});

test('a wrong type is named with its path and the expected form', () => {
	const raw = minimal() as RawConfig;
	raw.prometheus.port = '8889';
	raw.mediasoup.webRtcTransport.enableUdp = 'yes';
	const problems = problemsOf(raw);
	assert.ok(
		problems.some((p) => /^prometheus\.port: expected an integer from 0 to 65535, got "8889"$/.test(p)),
		problems.join('\n')
	);
	assert.ok(
		problems.some((p) => /^mediasoup\.webRtcTransport\.enableUdp: expected true or false, got "yes"$/.test(p)),
		problems.join('\n')
	);
});

test('out-of-range values, bad enums and array items are named', () => {
	const raw = minimal() as RawConfig;
	raw.mediasoup.numWorkers = 0;
	raw.mediasoup.worker = { logLevel: 'loud', rtcMinPort: 50000, rtcMaxPort: 40000 };
	raw.mediasoup.webRtcTransport.listenIps = [{ ip: 'not-an-ip' }];
	const problems = problemsOf(raw);
	const joined = problems.join('\n');
	assert.match(joined, /^mediasoup\.numWorkers: expected an integer from 1 to 256, got number 0$/m);
	assert.match(joined, /^mediasoup\.worker\.logLevel: expected one of "debug", "warn", "error", "none", got "loud"$/m);
	assert.match(joined, /^mediasoup\.webRtcTransport\.listenIps\[0\]\.ip: expected an IPv4 or IPv6 address/m);
	assert.match(joined, /^mediasoup\.worker\.rtcMinPort: expected ≤ mediasoup\.worker\.rtcMaxPort/m);
});

test('a missing required key is named', () => {
	const raw = minimal() as RawConfig;
	delete raw.listen;
	assert.match(problemsOf(raw).join('\n'), /^listen: missing; expected an object/m);
});

test('CONFIG selects the file; config.js wins over the example', async () => {
	assert.equal(resolveConfigPath({ CONFIG: '/tmp/x.js' }), '/tmp/x.js');
	// This checkout: the one file its config/ calls for.
	const own = path.resolve('config/config.js');
	assert.equal(resolveConfigPath({}), fs.existsSync(own) ? own : path.resolve('config/config.example.js'));
	// Both cases, with loadConfig.ts copied into a tree of its own (it finds config/ from where it
	// lies), whose config/ first has the example alone, then config.js too.
	const top = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-tree-'));
	try {
		fs.writeFileSync(path.join(top, 'package.json'), '{ "type": "module" }\n');
		fs.mkdirSync(path.join(top, 'server/config'), { recursive: true });
		fs.mkdirSync(path.join(top, 'config'));
		fs.copyFileSync('server/config/loadConfig.ts', path.join(top, 'server/config/loadConfig.ts'));
		const schema = pathToFileURL(path.resolve('config/configSchema.ts')).href;
		fs.writeFileSync(path.join(top, 'config/configSchema.ts'), `export * from ${JSON.stringify(schema)};\n`);
		fs.writeFileSync(path.join(top, 'config/config.example.js'), 'export default {};\n');
		const copy = (await import(pathToFileURL(path.join(top, 'server/config/loadConfig.ts')).href)) as {
			resolveConfigPath: typeof resolveConfigPath;
		};
		assert.equal(copy.resolveConfigPath({}), path.join(top, 'config/config.example.js'), 'without config.js, the example');
		fs.writeFileSync(path.join(top, 'config/config.js'), 'export default {};\n');
		assert.equal(copy.resolveConfigPath({}), path.join(top, 'config/config.js'), 'config.js wins over the example');
		assert.equal(copy.resolveConfigPath({ CONFIG: 'x.js' }), path.resolve('x.js'), 'and CONFIG over both');
	} finally {
		fs.rmSync(top, { recursive: true, force: true });
	}
});

test('the server refuses to start on a bad config, naming the key, with a non-zero exit', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
	const file = path.join(dir, 'config.js');
	fs.writeFileSync(file, `export default ${JSON.stringify({ ...minimal(), listen: { ip: '127.0.0.1', port: 'x' }, bogus: 1 })};\n`);
	const result = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
		env: { ...process.env, CONFIG: file },
		encoding: 'utf8',
		timeout: 60_000
	});
	fs.rmSync(dir, { recursive: true, force: true });
	assert.notEqual(result.status, 0);
	assert.match(result.stderr, /listen\.port: expected an integer from 0 to 65535, got "x"/);
	assert.match(result.stderr, /bogus: unknown key/);
});
