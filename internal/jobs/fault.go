package jobs

import "github.com/google/uuid"

// FaultPoint names a point of a job run at which a FaultFunc is called.
type FaultPoint string

// The fault points of the emote jobs (KinetixDeps.Fault).
const (
	// FaultAfterCreate: the upstream process exists; its uuid is not yet
	// recorded in the row (docs/reliability.md #23).
	FaultAfterCreate FaultPoint = "after_create"
	// FaultBeforePoll: a poll of a recorded process is about to start
	// (docs/reliability.md #22).
	FaultBeforePoll FaultPoint = "before_poll"
)

// The fault points of the image jobs (GeneraitivDeps.Fault).
const (
	// FaultAfterSubmit: Generaitiv accepted the generation; the row does
	// not record it yet (docs/reliability.md #23).
	FaultAfterSubmit FaultPoint = "after_submit"
	// FaultFollowProgress: the follower recorded a new percentage.
	FaultFollowProgress FaultPoint = "follow:progress"
	// FaultPublishReserve: a token id is reserved upstream, not yet in the
	// row.
	FaultPublishReserve FaultPoint = "publish:reserve"
	// FaultPublishCreate: the token is created upstream, not yet recorded.
	FaultPublishCreate FaultPoint = "publish:create"
	// FaultPublishUpload: the image is uploaded, not yet recorded.
	FaultPublishUpload FaultPoint = "publish:upload"
)

// The fault points of the webhook deliveries (WebhookDeps.Fault).
const (
	// FaultWebhookSent: the endpoint has answered; the try is not yet
	// recorded.
	FaultWebhookSent FaultPoint = "webhook:sent"
)

// FaultFunc is a test hook, called at each FaultPoint of a job run with the
// id of the row the job is about (an emote or a generation). A hook may
// kill the process there; an error it returns ends the run at that point,
// as a crash would. Nil in production.
type FaultFunc func(point FaultPoint, id uuid.UUID) error

// at calls the hook, if there is one.
func (f FaultFunc) at(point FaultPoint, id uuid.UUID) error {
	if f == nil {
		return nil
	}
	return f(point, id)
}
