package benchrun

import "context"

// Row names of the job scenarios, measured once issues 4 (emotes) and 5
// (AI images) have landed.
const (
	rowEmoteJobs         = "emote jobs, zero-latency simulator"
	rowEmotesInFlight    = "emotes in flight, simulator takes 60 s"
	rowEmotesInFlightRSS = "emotes in flight, worker RSS"
	rowWebhookCallbacks  = "webhook callbacks"
	pendingIssue4        = "needs issue 4"
	pendingIssue5        = "needs issue 5"
)

// Each pending function stands for one scenario to write. A real one
// starts what it needs (b.stack.startWorker, the simulators with
// startChild), drives the API (loadgen's client or plain HTTP), measures
// its raw ceiling in the same run, and returns its rows with ratioRow or
// limitRow, as runIngestBatch does.

// pendingEmoteJobs is emotes/s to succeeded with a zero-latency Kinetix
// simulator, against River no-op jobs/s with the same client settings.
// Target: report; aim for a ratio ≥ 0.2.
func pendingEmoteJobs(context.Context, *Bench) ([]Row, error) {
	return []Row{pendingRow(rowEmoteJobs, "emotes/s", pendingIssue4, 0.2, "ratio", ">=")}, nil
}

// pendingEmotesInFlight is how many emotes one worker holds in flight
// while the simulator takes 60 s per emote, and the worker's RSS then.
// Target: 10,000 in flight, RSS < 250 MB, worker slots not held while
// waiting.
func pendingEmotesInFlight(context.Context, *Bench) ([]Row, error) {
	return []Row{
		pendingRow(rowEmotesInFlight, "emotes", pendingIssue4, 10000, "ours", ">="),
		pendingRow(rowEmotesInFlightRSS, "MB", pendingIssue4, 250, "ours", "<"),
	}, nil
}

// pendingWebhookCallbacks is Generaitiv webhook callbacks/s to succeeded
// (finalize job enqueued in the same transaction), against River InsertTx
// of one job per transaction. Target: report; aim for a ratio ≥ 0.5.
func pendingWebhookCallbacks(context.Context, *Bench) ([]Row, error) {
	return []Row{pendingRow(rowWebhookCallbacks, "callbacks/s", pendingIssue5, 0.5, "ratio", ">=")}, nil
}
