/**
 * Real Prometheus and promtool for tests (Debian's `prometheus` package: /usr/bin/prometheus and
 * /usr/bin/promtool). `startPrometheus()` runs a private Prometheus on 127.0.0.1 with a free port,
 * its own temp TSDB and a generated config (scrape targets, optional rule files), and offers the
 * HTTP API calls tests need. The first sample is queryable about 6 s after start: poll with
 * `waitForQuery()`, never sleep.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

export type ScrapeJob = {
	job: string;
	/** host:port entries */
	targets: string[];
	metricsPath?: string;
	scrapeIntervalSeconds?: number;
	scrapeTimeoutSeconds?: number;
};

export type PrometheusOptions = {
	jobs: ScrapeJob[];
	/** Global scrape interval (1 s by default, so tests see data quickly). */
	scrapeIntervalSeconds?: number;
	evaluationIntervalSeconds?: number;
	/** Rule files (alerting/recording), by absolute path. */
	ruleFiles?: string[];
	/** Extra command-line flags. */
	args?: string[];
	/** A whole config (YAML) to run as is, e.g. an operator's example; `jobs`, the intervals and `ruleFiles` are then unused. */
	configYaml?: string;
};

/** One series of an instant query: labels and the value as a number. */
export type QuerySample = { metric: Record<string, string>; value: number; timestamp: number };

export type TargetState = { job: string; scrapeUrl: string; health: string; lastError: string; labels: Record<string, string> };

export type PrometheusInstance = {
	url: string;
	dir: string;
	child: ChildProcess;
	/** Instant query; throws on an API error. */
	query(promql: string): Promise<QuerySample[]>;
	/** Polls an instant query until `accept` returns true for its result; returns that result. */
	waitForQuery(promql: string, accept: (result: QuerySample[]) => boolean, timeoutMs?: number): Promise<QuerySample[]>;
	targets(): Promise<TargetState[]>;
	/** Polls until every target has been scraped successfully at least once (health "up"). */
	waitForTargetsUp(timeoutMs?: number): Promise<TargetState[]>;
	/** GET on the HTTP API (path like '/api/v1/rules'); returns `data`. */
	api<T = unknown>(apiPath: string): Promise<T>;
	/** Prometheus' stdout and stderr so far (for assertion messages). */
	output(): string;
	stop(): Promise<void>;
};

async function freePort(): Promise<number> {
	const server = net.createServer();
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	const { port } = server.address() as net.AddressInfo;
	await new Promise((resolve) => server.close(resolve));
	return port;
}

export async function startPrometheus({
	jobs,
	scrapeIntervalSeconds = 1,
	evaluationIntervalSeconds = 1,
	ruleFiles = [],
	args = [],
	configYaml
}: PrometheusOptions): Promise<PrometheusInstance> {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-prom-'));
	// JSON is YAML, so the config needs no YAML library.
	const config = {
		global: {
			scrape_interval: `${scrapeIntervalSeconds}s`,
			evaluation_interval: `${evaluationIntervalSeconds}s`,
			scrape_timeout: `${scrapeIntervalSeconds}s`
		},
		rule_files: ruleFiles,
		scrape_configs: jobs.map((j) => ({
			job_name: j.job,
			metrics_path: j.metricsPath ?? '/metrics',
			...(j.scrapeIntervalSeconds ? { scrape_interval: `${j.scrapeIntervalSeconds}s` } : {}),
			...(j.scrapeTimeoutSeconds ? { scrape_timeout: `${j.scrapeTimeoutSeconds}s` } : {}),
			static_configs: [{ targets: j.targets }]
		}))
	};
	const configFile = path.join(dir, 'prometheus.yml');
	fs.writeFileSync(configFile, configYaml ?? JSON.stringify(config, null, 2));
	const check = promtool(['check', 'config', configFile]);
	if (check.status !== 0) throw new Error(`promtool check config failed:\n${check.output}`);

	// A free port can be taken between probing and binding: try a few.
	for (let attempt = 0; ; attempt++) {
		const port = await freePort();
		const url = `http://127.0.0.1:${port}`;
		const child = spawn(
			PROMETHEUS_BIN,
			[
				`--config.file=${configFile}`,
				`--storage.tsdb.path=${path.join(dir, 'data')}`,
				`--web.listen-address=127.0.0.1:${port}`,
				'--log.level=warn',
				...args
			],
			{ stdio: ['ignore', 'pipe', 'pipe'] }
		);
		let out = '';
		child.stdout!.on('data', (d: Buffer) => {
			out += d.toString();
		});
		child.stderr!.on('data', (d: Buffer) => {
			out += d.toString();
		});
		const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
		const ready = await waitReady(url, child, 30_000);
		if (!ready) {
			if (child.exitCode === null) child.kill('SIGKILL');
			await exited;
			if (attempt < 3 && /address already in use/.test(out)) continue;
			fs.rmSync(dir, { recursive: true, force: true });
			throw new Error(`prometheus did not become ready:\n${out}`);
		}
		const api = async <T>(apiPath: string): Promise<T> => {
			const response = await fetch(`${url}${apiPath}`);
			const body = (await response.json()) as { status: string; data: T; error?: string };
			if (body.status !== 'success') throw new Error(`${apiPath}: ${body.error ?? response.status}`);
			return body.data;
		};
		const query = async (promql: string): Promise<QuerySample[]> => {
			const data = await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
				`/api/v1/query?query=${encodeURIComponent(promql)}`
			);
			return data.result.map((r) => ({ metric: r.metric, timestamp: r.value[0], value: Number(r.value[1]) }));
		};
		const targets = async (): Promise<TargetState[]> => {
			const data = await api<{
				activeTargets: {
					scrapePool: string;
					scrapeUrl: string;
					health: string;
					lastError: string;
					labels: Record<string, string>;
				}[];
			}>('/api/v1/targets');
			return data.activeTargets.map((t) => ({
				job: t.scrapePool,
				scrapeUrl: t.scrapeUrl,
				health: t.health,
				lastError: t.lastError,
				labels: t.labels
			}));
		};
		let stopped = false;
		return {
			url,
			dir,
			child,
			api,
			query,
			targets,
			async waitForQuery(promql, accept, timeoutMs = 30_000) {
				const deadline = Date.now() + timeoutMs;
				let last: QuerySample[];
				for (;;) {
					last = await query(promql);
					if (accept(last)) return last;
					if (Date.now() > deadline) throw new Error(`timed out waiting for ${promql}; last result ${JSON.stringify(last)}`);
					await new Promise((resolve) => setTimeout(resolve, 250));
				}
			},
			async waitForTargetsUp(timeoutMs = 30_000) {
				const deadline = Date.now() + timeoutMs;
				for (;;) {
					const all = await targets();
					if (all.length > 0 && all.every((t) => t.health === 'up')) return all;
					if (Date.now() > deadline) throw new Error(`targets not up: ${JSON.stringify(all)}`);
					await new Promise((resolve) => setTimeout(resolve, 250));
				}
			},
			output: () => out,
			async stop() {
				if (stopped) return;
				stopped = true;
				if (child.exitCode === null) child.kill('SIGTERM');
				const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
				await exited;
				clearTimeout(timer);
				fs.rmSync(dir, { recursive: true, force: true });
			}
		};
	}
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (child.exitCode !== null) return false;
		try {
			if ((await fetch(`${url}/-/ready`)).ok) return true;
		} catch {
			// not listening yet
		}
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	return false;
}

/** Runs promtool (`input` on its stdin); throws only when it cannot be started. */
export function promtool(args: string[], { input, cwd }: { input?: string; cwd?: string } = {}): { status: number | null; output: string } {
	const result = spawnSync(PROMTOOL_BIN, args, { input, cwd, encoding: 'utf8', timeout: 60_000 });
	if (result.error) throw result.error;
	return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** `promtool check metrics` on an exposition (Prometheus text format) on stdin. */
export function promtoolCheckMetrics(exposition: string): { status: number | null; output: string } {
	return promtool(['check', 'metrics'], { input: exposition });
}
