import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../server/base/errors.js';

/**
 * node:util's parseArgs, whose errors (an unknown option, a missing value) become a UsageError
 * naming the option (its first sentence), so every script answers them with its usage and exit code 2.
 */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
	try {
		return parseArgs(config);
	} catch (error) {
		throw new UsageError((error as Error).message.split(/\.\s/)[0]!);
	}
}
