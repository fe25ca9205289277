/** What `scripts/soak --json` prints; test/hardening-churn.test.ts reads it. */
export type Figures = {
	cycles: number;
	lanes: number;
	durationSeconds: number;
	scrapes: number;
	scrapesOverlapping: number;
	closedObjects: number;
	objectSeriesSeen: number;
	staleSeries: { id: string; metric: string; closedMsBeforeScrapeStart: number }[];
	errors: string[];
	objects: { baseline: Record<string, number>; after: Record<string, number> };
	/** `*Bytes`: heap used after GC; `data*`: the same without compiled code (what the limit applies to). */
	heap: {
		startBytes: number;
		baselineBytes: number;
		afterBytes: number;
		dataBaselineBytes: number;
		dataAfterBytes: number;
		dataGrowthBytes: number;
		limitBytes: number;
		gc: boolean;
	};
	handles: { baseline: Record<string, number>; after: Record<string, number> };
	ok: boolean;
};
