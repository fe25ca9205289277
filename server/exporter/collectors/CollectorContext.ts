import type { Registry, RegistryContentType } from 'prom-client';
import type { ObservedState } from '../../observer/ObservedState.js';
import type { MetricsSnapshot } from '../MetricsSnapshot.js';
import type { ExporterOptions } from '../ExporterOptions.js';
import type { ObjectLabeler } from '../ObjectLabeler.js';
import type { ObjectFamilies } from '../ObjectFamily.js';

/** What a collector builds its families from: one scrape's fresh registry and one snapshot. */
export type CollectorContext = {
	registry: Registry<RegistryContentType>;
	snapshot: MetricsSnapshot;
	/** The snapshot's state (collectors that need it only run when there is one). */
	state: Readonly<ObservedState>;
	options: ExporterOptions;
	labels: ObjectLabeler;
	/** Per-object families, written by hand (after the registry's families of the collectors before them). */
	families: ObjectFamilies;
};

/** prom-client's constructors want the default-typed Registry; the content type does not matter to them. */
export function registers(registry: Registry<RegistryContentType>): Registry[] {
	return [registry as Registry];
}
