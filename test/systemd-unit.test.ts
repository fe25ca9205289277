import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * config/systemd/meter-sfu.service: systemd's own checker accepts it, its sandbox scores as low
 * exposure, and it agrees with the project (worker path as scripts/setup caches it, the entry point
 * the build emits, the socket directory writable under ProtectSystem=strict).
 */

const UNIT = 'config/systemd/meter-sfu.service';

function directives(text: string): Map<string, string[]> {
	const out = new Map<string, string[]>();
	for (const line of text.split('\n')) {
		const match = /^([A-Za-z]+)=(.*)$/.exec(line);
		if (match) out.set(match[1]!, [...(out.get(match[1]!) ?? []), match[2]!]);
	}
	return out;
}

test('systemd-analyze verify accepts the example unit, and its exposure is low', () => {
	const verify = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8', timeout: 60_000 });
	assert.equal(verify.error, undefined, 'systemd-analyze runs (Debian: package systemd)');
	assert.equal(verify.status, 0, verify.stderr);
	assert.equal(verify.stderr.trim(), '', 'no warnings');

	const security = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', UNIT], { encoding: 'utf8', timeout: 60_000 });
	const exposure = /Overall exposure level for meter-sfu\.service: (\d+\.\d+)/.exec(security.stdout);
	assert.ok(exposure, `${security.stdout}${security.stderr}`);
	assert.ok(Number(exposure[1]) <= 2.5, `exposure ${exposure[1]} of 10 (10: no sandbox at all)`);
});

test('the unit matches the project: worker path, entry point, socket directory, hardening', () => {
	const unit = directives(fs.readFileSync(UNIT, 'utf8'));
	const one = (key: string): string => {
		const values = unit.get(key);
		assert.equal(values?.length, 1, `${key} once`);
		return values[0]!;
	};
	assert.equal(one('WorkingDirectory'), '/opt/meter-sfu', 'where the install steps clone the project');
	const env = new Map((unit.get('Environment') ?? []).map((e) => e.split(/=(.*)/s, 2) as [string, string]));
	assert.equal(env.get('CONFIG'), '/etc/meter-sfu/config.js');
	// The install steps in the unit's header copy the worker scripts/setup built to where the unit runs it.
	const installed = /install -D -m 0755 "\$\(scripts\/setup --print-worker\)" (\S+)/.exec(fs.readFileSync(UNIT, 'utf8'))?.[1];
	assert.ok(installed, 'the header says where to install the worker');
	assert.equal(env.get('MEDIASOUP_WORKER_BIN'), installed);
	assert.ok(fs.readFileSync('scripts/setup', 'utf8').includes('--print-worker'), 'scripts/setup prints the worker it built');
	const [node, ...args] = one('ExecStart').split(/\s+/);
	assert.equal(node, '/usr/bin/node');
	const entry = args.at(-1)!;
	assert.equal(entry, 'dist/server/main.js', 'what tsc emits for server/main.ts (outDir dist, rootDir .)');
	assert.ok(fs.existsSync(entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')));

	assert.equal(one('Restart'), 'on-failure');
	assert.equal(one('User'), 'meter-sfu');
	assert.equal(one('RuntimeDirectory'), 'meter-sfu');
	assert.equal(one('RuntimeDirectoryMode'), '0700', 'the observer socket directory must not be writable by others');
	assert.equal(one('ProtectSystem'), 'strict');
	assert.equal(one('ReadWritePaths'), '/run/meter-sfu');
	for (const key of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome', 'PrivateDevices']) assert.equal(one(key), 'yes', key);
	assert.equal(unit.has('MemoryDenyWriteExecute'), false, 'V8 needs W+X pages');
});
