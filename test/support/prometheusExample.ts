import fs from 'node:fs';
import path from 'node:path';

export const EXAMPLE_CONFIG = path.resolve('config/prometheus/prometheus.example.yml');
export const ALERT_RULES = path.resolve('config/prometheus/alerts.yml');

/** The paths the example names, as an operator installs them. */
const EXAMPLE_FILE_SD_GLOB = '/etc/prometheus/file_sd/meter-sfu/*.json';
const EXAMPLE_RULE_FILE = '/etc/prometheus/rules/meter-sfu-alerts.yml';

/**
 * config/prometheus/prometheus.example.yml made runnable here: its file_sd glob pointed at
 * `fileSdDir`, its rule file at config/prometheus/alerts.yml and its intervals shortened. Every
 * substitution must hit exactly once, so an edit of the example that tests would no longer cover
 * fails loudly instead.
 */
export function runnableExampleConfig({ fileSdDir, intervalSeconds = 1 }: { fileSdDir: string; intervalSeconds?: number }): string {
	let text = fs.readFileSync(EXAMPLE_CONFIG, 'utf8');
	const substitutions: [string, string][] = [
		[EXAMPLE_FILE_SD_GLOB, path.join(fileSdDir, '*.json')],
		[EXAMPLE_RULE_FILE, ALERT_RULES],
		['scrape_interval: 15s', `scrape_interval: ${intervalSeconds}s`],
		['scrape_timeout: 10s', `scrape_timeout: ${intervalSeconds}s`],
		['evaluation_interval: 15s', `evaluation_interval: ${intervalSeconds}s`]
	];
	for (const [from, to] of substitutions) {
		const hits = text.split(from).length - 1;
		if (hits !== 1) throw new Error(`${EXAMPLE_CONFIG}: expected "${from}" once, found it ${hits} times`);
		text = text.replace(from, () => to);
	}
	return text;
}
