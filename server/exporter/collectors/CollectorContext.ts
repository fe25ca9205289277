import type { Registry, RegistryContentType } from 'prom-client';
import type { Config } from '../../../config/configSchema.js';
import type { ObservedState } from '../../observer/ObservedState.js';
import type { AddressLabeler } from '../labels/AddressLabeler.js';
import type { MetricsSnapshot } from '../snapshot/MetricsSnapshot.js';

/** What a collector builds its families from: one scrape's fresh registry and one snapshot. */
export type CollectorContext = {
	registry: Registry<RegistryContentType>;
	snapshot: MetricsSnapshot;
	/** The snapshot's state (collectors only run when there is one). */
	state: Readonly<ObservedState>;
	options: Pick<Config['prometheus'], 'buckets' | 'perObjectMetrics'>;
	addresses: AddressLabeler;
};

/** prom-client's constructors want the default-typed Registry; the content type does not matter to them. */
export function registers(registry: Registry<RegistryContentType>): Registry[] {
	return [registry as Registry];
}
