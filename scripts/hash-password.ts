/**
 * `scripts/hash-password [--cost N]`: reads a password on stdin (the first line; a terminal
 * prompts without echo) and prints its bcrypt hash for prometheus.basicAuthUsers. The password
 * never goes on a command line, where `ps` would show it.
 */
import bcrypt from 'bcryptjs';

const USAGE = 'usage: scripts/hash-password [--cost N]   (password on stdin; cost 4..31, default 10)';

async function main(): Promise<void> {
	const args = process.argv.slice(2);
	let cost = 10;
	if (args[0] === '-h' || args[0] === '--help') {
		console.info(USAGE);
		return;
	}
	if (args[0] === '--cost' && args.length === 2 && /^\d+$/.test(args[1]!)) cost = Number(args[1]);
	else if (args.length > 0) throw new Error(USAGE);
	if (cost < 4 || cost > 31) throw new Error(USAGE);
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
	process.exit(2);
});
