import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type ServerProcess = {
	child: ChildProcess;
	appUrl: string;
	metricsUrl?: string;
	output: () => string;
	/** Sends a signal and resolves with the exit code. */
	stop(signal?: NodeJS.Signals): Promise<number | null>;
	dir: string;
};

/**
 * Starts `server/main.ts` as its own process on a config written to a temp dir (ports 0), and
 * reads the URLs it prints. `overrides` is merged into the config's top-level blocks.
 */
export async function startServerProcess(overrides: Record<string, Record<string, unknown>> = {}): Promise<ServerProcess> {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-proc-'));
	fs.chmodSync(dir, 0o700);
	const file = path.join(dir, 'config.js');
	const example = path.resolve('config/config.example.js');
	const body = `import base from ${JSON.stringify(example)};
const overrides = ${JSON.stringify({
		listen: { ip: '127.0.0.1', port: 0 },
		observer: { socketPath: path.join(dir, 'observer.sock') },
		...overrides,
		mediasoup: { numWorkers: 1, ...(overrides.mediasoup ?? {}) },
		prometheus: { port: 0, ...(overrides.prometheus ?? {}) }
	})};
const merged = { ...base };
for (const [key, value] of Object.entries(overrides)) merged[key] = { ...base[key], ...value };
export default merged;
`;
	fs.writeFileSync(file, body);
	const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
		env: { ...process.env, CONFIG: file },
		stdio: ['ignore', 'pipe', 'pipe']
	});
	let out = '';
	child.stdout!.on('data', (d: Buffer) => {
		out += d.toString();
	});
	child.stderr!.on('data', (d: Buffer) => {
		out += d.toString();
	});
	const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
	const deadline = Date.now() + 60_000;
	while (!/app at (\S+?)\/ /.test(out) || (/metrics at/.test(out) === false && overrides.prometheus?.enabled !== false)) {
		if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${out}`);
		if (Date.now() > deadline) throw new Error(`server did not start:\n${out}`);
		await new Promise((r) => setTimeout(r, 50));
	}
	const appUrl = /app at (\S+?)\/ /.exec(out)![1]!;
	const metricsUrl = /metrics at (\S+)/.exec(out)?.[1];
	return {
		child,
		appUrl,
		metricsUrl,
		dir,
		output: () => out,
		async stop(signal = 'SIGTERM') {
			if (child.exitCode === null) child.kill(signal);
			const code = await exited;
			fs.rmSync(dir, { recursive: true, force: true });
			return code;
		}
	};
}
