package jobs

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/upstream"
)

func TestUpstreamPolicy(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	policy := &upstreamPolicy{logger: zerolog.Nop(), now: func() time.Time { return now }, rateLimitSnooze: 5 * time.Second}
	errGaveUp := errors.New("gave up")
	stopped, stop := context.WithCancel(context.Background())
	stop()

	type want struct {
		snooze  time.Duration // a snooze for this long
		giveUp  bool          // GiveUp was called
		retry   bool          // the error is returned for River's retry
		unclaim bool          // BeforeSnooze ran
	}
	tests := []struct {
		name     string
		err      error
		ctx      context.Context
		attempt  int
		deadline time.Time
		want     want
	}{
		{name: "RateLimitedSnoozesForRetryAfter", err: &upstream.Error{Status: 429, RetryAfter: 3 * time.Second},
			want: want{snooze: 3 * time.Second, unclaim: true}},
		{name: "RateLimitedWithoutRetryAfterSnoozesTheDefault", err: &upstream.Error{Status: 429},
			want: want{snooze: 5 * time.Second, unclaim: true}},
		{name: "RateLimitedOnTheLastAttemptStillSnoozes", err: &upstream.Error{Status: 429}, attempt: 5,
			want: want{snooze: 5 * time.Second, unclaim: true}},
		{name: "SnoozeEndsAtTheDeadline", err: &upstream.Error{Status: 429, RetryAfter: time.Minute},
			deadline: now.Add(10 * time.Second), want: want{snooze: 10 * time.Second, unclaim: true}},
		{name: "SnoozePastTheDeadlineRunsAtOnce", err: &upstream.Error{Status: 429, RetryAfter: time.Minute},
			deadline: now.Add(-time.Second), want: want{snooze: 0, unclaim: true}},
		{name: "ServerErrorRetries", err: &upstream.Error{Status: 503}, want: want{retry: true}},
		{name: "NetworkErrorRetries", err: &upstream.Error{Err: net.ErrClosed}, want: want{retry: true}},
		{name: "OtherErrorRetries", err: errors.New("connection reset"), want: want{retry: true}},
		{name: "ServerErrorOnTheLastAttemptGivesUp", err: &upstream.Error{Status: 502}, attempt: 5, want: want{giveUp: true}},
		{name: "PermanentGivesUp", err: &upstream.Error{Status: 400}, want: want{giveUp: true}},
		{name: "PaymentRequiredGivesUp", err: &upstream.Error{Status: 402}, want: want{giveUp: true}},
		{name: "StoppingRunRetriesEvenAPermanentError", err: &upstream.Error{Status: 400}, ctx: stopped, want: want{retry: true}},
		{name: "StoppingRunRetriesOnTheLastAttempt", err: context.Canceled, ctx: stopped, attempt: 5, want: want{retry: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			job := &rivertype.JobRow{ID: 7, Kind: "test", Attempt: max(tt.attempt, 1), MaxAttempts: 5}
			var gaveUp, unclaimed bool
			err := policy.outcome(ctx, job, &upstreamFailure{
				Doing: "calling", Err: tt.err, Deadline: tt.deadline,
				BeforeSnooze: func() error { unclaimed = true; return nil },
				GiveUp: func(cause error) error {
					require.ErrorIs(t, cause, tt.err)
					gaveUp = true
					return river.JobCancel(errGaveUp)
				},
			})
			require.Error(t, err)
			require.Equal(t, tt.want.giveUp, gaveUp, "gave up")
			require.Equal(t, tt.want.unclaim, unclaimed, "ran BeforeSnooze")
			var snooze *rivertype.JobSnoozeError
			var cancel *rivertype.JobCancelError
			switch {
			case tt.want.giveUp:
				require.ErrorAs(t, err, &cancel)
			case tt.want.retry:
				require.NotErrorAs(t, err, &snooze)
				require.NotErrorAs(t, err, &cancel)
				require.ErrorIs(t, err, tt.err)
				require.ErrorContains(t, err, "error calling: ")
			default:
				require.ErrorAs(t, err, &snooze)
				require.Equal(t, tt.want.snooze, snooze.Duration)
			}
		})
	}

	t.Run("FailedBeforeSnoozeRetries", func(t *testing.T) {
		t.Parallel()
		errUnclaim := errors.New("the row could not be put back")
		err := policy.outcome(context.Background(), &rivertype.JobRow{Attempt: 1, MaxAttempts: 5}, &upstreamFailure{
			Err: &upstream.Error{Status: 429}, BeforeSnooze: func() error { return errUnclaim },
		})
		require.ErrorIs(t, err, errUnclaim)
	})
}
