import assert from 'node:assert/strict';

/**
 * Polls `check` until it holds, or fails with "timed out waiting for <what>" once the deadline
 * passes: how tests wait for something asynchronous, never with a fixed sleep.
 */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
}
