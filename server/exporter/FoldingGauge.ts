import { Gauge, type Registry, type RegistryContentType } from 'prom-client';

/** How values that land on the same label set combine. */
export type Fold = 'sum' | 'min' | 'max';

const FOLDS: Record<Fold, (a: number, b: number) => number> = {
	sum: (a, b) => a + b,
	min: Math.min,
	max: Math.max
};

/**
 * A gauge that combines values landing on one label set instead of letting the last one win. With
 * `quiet` (ids blanked) several objects share a label set: counts and bitrates add up, a score keeps
 * the worst, loss and delays the highest. Values that are missing or not finite are skipped.
 */
export class FoldingGauge<L extends string> {
	readonly #gauge: Gauge<L>;
	readonly #labelNames: readonly L[];
	readonly #fold: (a: number, b: number) => number;
	readonly #values = new Map<string, number>();

	constructor({ registry, name, help, labelNames, fold }: {
		registry: Registry<RegistryContentType>; name: string; help: string; labelNames: readonly L[]; fold: Fold;
	}) {
		this.#gauge = new Gauge({ name, help, labelNames, registers: [registry as Registry] });
		this.#labelNames = labelNames;
		this.#fold = FOLDS[fold];
	}

	add(labels: Record<L, string>, value: number | undefined): void {
		if (value === undefined || !Number.isFinite(value)) return;
		const key = this.#labelNames.map((n) => labels[n]).join('\u0000');
		const previous = this.#values.get(key);
		const next = previous === undefined ? value : this.#fold(previous, value);
		this.#values.set(key, next);
		this.#gauge.set(labels as Partial<Record<L, string>>, next);
	}
}
