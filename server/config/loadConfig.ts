import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { validateConfig, ConfigError, type Config } from '../../config/configSchema.js';

export { ConfigError, type Config };

function configDir(): string {
	let dir = path.dirname(fileURLToPath(import.meta.url));
	while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
	return path.join(dir, 'config');
}

/**
 * Which file to load: $CONFIG when set, else config/config.js, else the embedded
 * config/config.example.js (the quick-start default).
 */
export function resolveConfigPath(env: NodeJS.ProcessEnv = process.env): string {
	if (env.CONFIG) return path.resolve(env.CONFIG);
	const dir = configDir();
	const own = path.join(dir, 'config.js');
	return fs.existsSync(own) ? own : path.join(dir, 'config.example.js');
}

/** Loads and validates a config file; throws ConfigError naming the offending key paths. */
export async function loadConfig(file = resolveConfigPath()): Promise<{ config: Config; file: string }> {
	if (!fs.existsSync(file)) throw new ConfigError(file, [`(file): not found`]);
	const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
	if (mod.default === undefined) throw new ConfigError(file, ['(file): expected `export default { ... }`']);
	return { config: validateConfig(mod.default, file), file };
}
