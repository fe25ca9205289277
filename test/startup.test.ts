import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServerProcess } from './support/serverProcess.js';

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
	test(`the server serves the app and /metrics, and ${signal} stops it with exit 0`, async () => {
		const server = await startServerProcess();
		try {
			const page = await fetch(`${server.appUrl}/`);
			assert.equal(page.status, 200);
			assert.match(await page.text(), /<html/i);
			assert.ok(server.metricsUrl);
			const metrics = await fetch(server.metricsUrl!);
			assert.equal(metrics.status, 200);
			const body = await metrics.text();
			assert.match(body, /^process_cpu_seconds_total \d/m);
			assert.match(body, /^mediasoup_workers 1$/m);
		} finally {
			const code = await server.stop(signal);
			assert.equal(code, 0, server.output());
		}
	});
}

test('the metrics endpoint can be switched off', async () => {
	const server = await startServerProcess({ prometheus: { enabled: false } });
	try {
		assert.equal(server.metricsUrl, undefined);
		assert.equal((await fetch(`${server.appUrl}/healthz`)).status, 200);
	} finally {
		assert.equal(await server.stop(), 0);
	}
});
