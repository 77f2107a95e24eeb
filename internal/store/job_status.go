package store

import "slices"

// JobStatus is a job's place in its kind's state machine. Emotes and
// generations share one vocabulary for what they have in common (queued,
// processing, and the four end states); each kind adds states of its own.
// docs/jobs.md describes both machines.
type JobStatus string

// The statuses every kind shares.
const (
	// JobQueued: stored, waiting for its first job run.
	JobQueued JobStatus = "queued"
	// JobProcessing: the upstream is working on it.
	JobProcessing JobStatus = "processing"
	// JobSucceeded: done; the result is available (end state).
	JobSucceeded JobStatus = "succeeded"
	// JobFailed: the upstream or gamepipe gave up; error says why (end
	// state).
	JobFailed JobStatus = "failed"
	// JobCanceled: canceled at the app's request (end state).
	JobCanceled JobStatus = "canceled"
	// JobTimedOut: not done by its deadline (end state).
	JobTimedOut JobStatus = "timed_out"
)

// An emote's own statuses: the validation flow and retakes.
const (
	// EmoteAwaitingValidation: generated, waiting for validate or retake.
	EmoteAwaitingValidation JobStatus = "awaiting_validation"
	// EmoteValidating: a validate job is telling the upstream.
	EmoteValidating JobStatus = "validating"
	// EmoteRetaking: a retake job is asking the upstream for a new token.
	EmoteRetaking JobStatus = "retaking"
	// EmoteAwaitingVideo: retaken; waiting for the new video.
	EmoteAwaitingVideo JobStatus = "awaiting_video"
)

// A generation's own statuses: the submit and the stored image.
const (
	// GenerationSubmitting: the callback token is committed and the
	// upstream call may have been made.
	GenerationSubmitting JobStatus = "submitting"
	// GenerationSubmitted: the upstream accepted the workload.
	GenerationSubmitted JobStatus = "submitted"
	// GenerationFinalizing: the upstream completed; the image is being
	// stored (and published).
	GenerationFinalizing JobStatus = "finalizing"
)

// EmoteStatuses lists every status an emote can have.
var EmoteStatuses = []JobStatus{JobQueued, JobProcessing, EmoteAwaitingValidation, EmoteValidating,
	EmoteRetaking, EmoteAwaitingVideo, JobSucceeded, JobFailed, JobCanceled, JobTimedOut}

// GenerationStatuses lists every status a generation can have.
var GenerationStatuses = []JobStatus{JobQueued, GenerationSubmitting, GenerationSubmitted, JobProcessing,
	GenerationFinalizing, JobSucceeded, JobFailed, JobCanceled, JobTimedOut}

// Terminal reports an end state: succeeded, failed, canceled or timed_out.
// A job in an end state never changes status again.
func (s JobStatus) Terminal() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCanceled || s == JobTimedOut
}

// ValidFor reports whether s is one of statuses (EmoteStatuses or
// GenerationStatuses).
func (s JobStatus) ValidFor(statuses []JobStatus) bool { return slices.Contains(statuses, s) }
