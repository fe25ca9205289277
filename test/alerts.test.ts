import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promtool } from './support/prometheus.js';
import { ALERT_RULES, runnableExampleConfig } from './support/prometheusExample.js';

// The alert rules and the example Prometheus config, through Prometheus' own tooling. Rules are
// also evaluated by a real Prometheus against a live server in test/dashboards.test.ts.

const RULE_TESTS = path.resolve('config/prometheus/alerts.test.yml');
/** promtool runs here, where alerts.test.yml's relative rule file names resolve. */
const RULES_DIR = path.dirname(RULE_TESTS);

/** Alert names defined in alerts.yml (`- alert: Name` lines). */
function alertNames(): string[] {
	return [...fs.readFileSync(ALERT_RULES, 'utf8').matchAll(/^\s*- alert: (\w+)\s*$/gm)].map((m) => m[1]!);
}

test('promtool check rules accepts alerts.yml', () => {
	const { status, output } = promtool(['check', 'rules', ALERT_RULES], { cwd: RULES_DIR });
	assert.equal(status, 0, output);
	const names = alertNames();
	assert.equal(names.length, 8, `alerts: ${names.join(', ')}`);
	assert.match(output, new RegExp(`SUCCESS: ${names.length} rules found`));
});

test('promtool test rules: every alert has a firing and a quiet case, and all pass', () => {
	// Each `alertname:` check is firing when its exp_alerts lists alerts, quiet when it is `[]`.
	const checks = [...fs.readFileSync(RULE_TESTS, 'utf8').matchAll(/alertname: (\w+)\s*\n\s*exp_alerts:([^\n]*)/g)];
	for (const name of alertNames()) {
		const mine = checks.filter((m) => m[1] === name);
		assert.ok(
			mine.some((m) => m[2]!.trim() === ''),
			`${name} has a firing case`
		);
		assert.ok(
			mine.some((m) => m[2]!.trim() === '[]'),
			`${name} has a quiet case`
		);
	}
	const unknown = checks.map((m) => m[1]!).filter((name) => !alertNames().includes(name));
	assert.deepEqual(unknown, [], 'alerts.test.yml checks only alerts that exist');

	const { status, output } = promtool(['test', 'rules', RULE_TESTS], { cwd: RULES_DIR });
	assert.equal(status, 0, output);
	assert.match(output, /SUCCESS/);
});

test('promtool test rules fails when a rule no longer matches its test (the tests have teeth)', () => {
	// The CPU threshold lowered to 0.5: the quiet case (two workers at 0.6 core) must now fail.
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-alerts-'));
	try {
		const rules = fs.readFileSync(ALERT_RULES, 'utf8');
		const weakened = rules.replace(
			'(rate(mediasoup_worker_cpu_seconds_total[2m])) > 0.9',
			'(rate(mediasoup_worker_cpu_seconds_total[2m])) > 0.5'
		);
		assert.notEqual(weakened, rules);
		fs.writeFileSync(path.join(dir, 'alerts.yml'), weakened);
		fs.copyFileSync(RULE_TESTS, path.join(dir, 'alerts.test.yml'));
		const result = promtool(['test', 'rules', 'alerts.test.yml'], { cwd: dir });
		assert.notEqual(result.status, 0);
		assert.match(result.output, /MeterSfuWorkerCpuSaturated/);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});

test('promtool check config accepts prometheus.example.yml with its rule file and a file_sd file in place', () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-promcfg-'));
	try {
		// A target file as scripts/fleet-targets writes it, so promtool validates one too.
		fs.writeFileSync(path.join(dir, 'fleet.json'), JSON.stringify([{ targets: ['127.0.0.1:8889'], labels: { env: 'test' } }]));
		const config = path.join(dir, 'prometheus.yml');
		fs.writeFileSync(config, runnableExampleConfig({ fileSdDir: dir, intervalSeconds: 15 }));
		const { status, output } = promtool(['check', 'config', config], { cwd: RULES_DIR });
		assert.equal(status, 0, output);
		assert.match(output, /SUCCESS: 8 rules found/);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});
