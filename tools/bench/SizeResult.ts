import type { RoundPauseTotals } from './RoundPause.js';

/** One size's figures; latencies in ms, losses in percent of the packets the sink expected. */
export type SizeResult = {
	producers: number;
	consumers: number;
	exporterP50Ms: number;
	exporterP95Ms: number;
	sequentialP50Ms: number;
	floorP50Ms: number;
	/**
	 * The worker requests of one scrape, bare: the objects a scrape asks the worker about (every
	 * transport and consumer, and the producers no consumer's answer covers), `statsConcurrency` in
	 * flight, sent as the observer's request handler sends them, straight from this process (no
	 * observer stream, no series, no HTTP). mediasoup answers one object per request, so no
	 * exporter of these series waits for less.
	 */
	exporterRequestsP50Ms: number;
	/** The sequential sweep was stopped at its cap (saturated worker): sequentialP50Ms is a lower bound. */
	sequentialCapped: boolean;
	/**
	 * Medians of each round's own ratios (sequential over exporter, exporter over floor): the three
	 * measurements of a round are seconds apart, so these follow the machine's drift less than the
	 * ratios of the medians above do.
	 */
	sequentialToExporterRoundsP50: number;
	exporterToFloorRoundsP50: number;
	/**
	 * Per round, sequential over the bare requests: the most any exporter could be faster than the
	 * sequential sweep in this run; and the exporter over them: what the exporter adds to its
	 * requests (stream, series, body, HTTP).
	 */
	sequentialToExporterRequestsRoundsP50: number;
	exporterToExporterRequestsRoundsP50: number;
	/** Wall time of two concurrent scrapes over that of one (medians). */
	concurrentScrapesRatio: number;
	/**
	 * The median of each round's own two-over-one ratio (its two measurements are 50 ms apart): in a
	 * run where the machine falls into a slow phase for a while, the medians above can each land on
	 * either side of it.
	 */
	concurrentScrapesRoundsP50: number;
	/**
	 * The server process's CPU (all its threads) over two concurrent scrapes, over that of one
	 * (medians): what a second scraper costs the server. Not the worker's: it answers one sweep for
	 * both, and its forwarding, which goes on meanwhile, would drown that out.
	 */
	concurrentScrapesServerCpuRatio: number;
	/**
	 * 95% bootstrap intervals (bootstrap.ts) of the three ratios of medians above that the bench is
	 * read for: sequential over exporter, exporter over floor, two scrapes over one.
	 */
	sequentialToExporterCi95: [number, number];
	exporterToFloorCi95: [number, number];
	concurrentScrapesCi95: [number, number];
	/** Rounds of one scrape against two at once this size took (a saturating size takes no more than its scrapes). */
	pairRounds: number;
	/** In how many of those rounds the two scrapes shared one sweep (their bodies' sweep counts are equal). */
	concurrentScrapesSharingOneSweep: number;
	nodeCpuMsPerScrape: number;
	workerCpuMsPerScrape: number;
	forwardLossWithScrapes: number;
	forwardLossWithout: number;
	// Context for the figures above.
	peers: number;
	rooms: number;
	saturate: boolean;
	forwardedPps: number;
	workerCpuPercent: number;
	/** CPU of the bench's load (synthetic senders and the RTP sink) without scraping, % of a core. */
	loadCpuPercent: number;
	/** Seconds of media before measuring, until the worker was in its steady state. */
	settleSeconds: number;
	/**
	 * The worker's CPU (%) over the last settling window, and whether it was below saturation then.
	 * On a VM the same forwarding sometimes takes a whole core for minutes (the host runs a
	 * vCPU at a fraction of its speed while the guest counts it busy): a size meant to be
	 * measured below saturation waits (up to 2 minutes) for the worker to get below it.
	 */
	settledWorkerCpuPercent: number;
	settledBelowSaturation: boolean;
	scrapeTimeoutMs: number;
	/** Slowest scrape of the scrape-every-second windows, and how many said they timed out. */
	maxScrapeMs: number;
	timedOutScrapes: number;
	/**
	 * Scrapes of the measured rounds (the exporter's, and one and two at once) cut at the deadline:
	 * they answered in time with part of the stats, so their time is less than a whole sweep's.
	 */
	measuredScrapesTimedOut: number;
	/** The largest whole body of the measured rounds (a cut one only if every one was cut). */
	bodyBytes: number;
} & RoundPauseTotals;
