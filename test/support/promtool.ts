import { spawn } from 'node:child_process';

/** `promtool` from Debian's prometheus package (scripts/setup installs it); PROMTOOL selects another. */
export const promtoolPath = process.env.PROMTOOL ?? 'promtool';

/**
 * Runs `promtool check metrics` on an exposition (stdin) and resolves with its exit code and
 * output; code 0 means the exposition parses and passes promtool's lint.
 */
export function promtoolCheckMetrics(body: string, timeoutMs = 20_000): Promise<{ code: number | null; output: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn(promtoolPath, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
		let output = '';
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
		child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
		child.once('error', (error) => { clearTimeout(timer); reject(error); });
		child.once('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
		child.stdin.on('error', () => { /* promtool may exit before reading everything; its exit code says why */ });
		child.stdin.end(body);
	});
}
