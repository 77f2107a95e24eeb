package eventstream

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
)

// ensureRetryFor bounds how long creating or looking up a stream or
// consumer retries a JetStream that does not answer, as a cluster does for
// a few seconds while it elects leaders or is busy placing replicas.
const ensureRetryFor = time.Minute

// retryUnanswered runs f until it succeeds, fails with an error other than
// an unanswered request, ensureRetryFor has passed, or ctx ends.
func retryUnanswered[T any](ctx context.Context, f func() (T, error)) (T, error) {
	deadline := time.Now().Add(ensureRetryFor)
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		v, err := f()
		if err == nil || !unanswered(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
	}
}

// unanswered reports a JetStream API request that got no answer in time,
// or found nobody to answer it.
func unanswered(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)
}
