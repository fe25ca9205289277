import type { Config } from '../../config/configSchema.js';

/** The `prometheus` config keys that shape the metrics (the listen address is the HTTP server's). */
export type ExporterOptions = Omit<Config['prometheus'], 'enabled' | 'listen' | 'port'>;
