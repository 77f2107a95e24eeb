package eventstream

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
)

func TestRetryUnanswered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	calls := 0
	v, err := retryUnanswered(ctx, func() (int, error) {
		calls++
		if calls < 3 {
			return 0, fmt.Errorf("lookup: %w", nats.ErrTimeout)
		}
		return 7, nil
	})
	require.NoError(t, err)
	require.Equal(t, 7, v)
	require.Equal(t, 3, calls, "unanswered requests are retried")

	calls = 0
	refused := errors.New("stream name already in use with a different configuration")
	_, err = retryUnanswered(ctx, func() (int, error) { calls++; return 0, refused })
	require.ErrorIs(t, err, refused)
	require.Equal(t, 1, calls, "an answer, even a refusal, is not retried")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	calls = 0
	_, err = retryUnanswered(cctx, func() (int, error) { calls++; return 0, context.DeadlineExceeded })
	require.Error(t, err)
	require.Equal(t, 1, calls, "an ended context stops the retries")
}
