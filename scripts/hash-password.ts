/**
 * `scripts/hash-password [--cost N]`: reads a password on stdin (the first line; a terminal
 * prompts without echo) and prints its bcrypt hash for prometheus.basicAuthUsers. The password
 * never goes on a command line, where `ps` would show it.
 */
import bcrypt from 'bcryptjs';
import { UsageError } from '../server/base/errors.js';
import { parseCommandLine } from '../tools/cli/parseCommandLine.js';

const USAGE = 'usage: scripts/hash-password [--cost N]   (password on stdin; cost 4..31, default 10)';

function parseOptions(argv: string[]): { cost: number; help: boolean } {
	const options = { cost: { type: 'string', default: '10' }, help: { type: 'boolean', short: 'h', default: false } } as const;
	const { values } = parseCommandLine({ args: argv, options, strict: true });
	const cost = Number(values.cost);
	if (!/^\d+$/.test(values.cost) || cost < 4 || cost > 31)
		throw new UsageError(`--cost: expected an integer from 4 to 31, got ${JSON.stringify(values.cost)}`);
	return { cost, help: values.help };
}

async function main(): Promise<void> {
	const { cost, help } = parseOptions(process.argv.slice(2));
	if (help) {
		console.info(USAGE);
		return;
	}
	const chunks: Buffer[] = [];
	for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
	const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0]!;
	if (password.length === 0) throw new Error('empty password on stdin');
	// bcrypt uses the first 72 bytes only: say so rather than let a long passphrase mislead.
	if (Buffer.byteLength(password) > 72) console.error('hash-password: note: bcrypt uses only the first 72 bytes of the password');
	console.info(await bcrypt.hash(password, cost));
}

main().catch((error: Error) => {
	console.error(`hash-password: ${error.message}`);
	if (error instanceof UsageError) console.error(USAGE);
	process.exit(2);
});
