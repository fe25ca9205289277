import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from './support/signallingServer.js';
import { SignallingClient } from './support/signallingClient.js';
import { requestHandlers } from '../server/signalling/requestHandlers.js';

// Series that appear only at their first increment make Prometheus's rate() miss that step, so
// every method's `ok` series and latency histogram exist from start, at zero.
test('every request method is counted from zero before its first request', async () => {
	const server = await startTestServer();
	try {
		const counters = server.server.meetingServer.counters.snapshot();
		const methods = Object.keys(requestHandlers);
		assert.equal(methods.length, 15, `contract methods: ${methods.join(', ')}`);
		for (const method of methods) {
			assert.deepEqual(counters.requests[method], { ok: 0 }, method);
			assert.equal(counters.requestLatency.byMethod[method]?.count, 0, method);
		}
		const before = await (await fetch(server.server.metricsUrl!)).text();
		assert.match(before, /^edumeet_signalling_requests_total\{method="join",result="ok"\} 0$/m);
		assert.match(before, /^edumeet_signalling_request_duration_seconds_count\{method="leave"\} 0$/m);

		const client = await SignallingClient.connect(server.url);
		try {
			await client.requestOk('getRouterRtpCapabilities', { roomId: 'counted' });
			const after = await (await fetch(server.server.metricsUrl!)).text();
			assert.match(after, /^edumeet_signalling_requests_total\{method="getRouterRtpCapabilities",result="ok"\} 1$/m);
			assert.match(after, /^edumeet_signalling_requests_total\{method="join",result="ok"\} 0$/m);
		} finally {
			client.close();
		}
	} finally {
		await server.close();
	}
});
