package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// apiCopy is one more api process on b's database and stream, with its own
// rejection counter and clock.
type apiCopy struct {
	url        string
	rejections *Rejections
	clock      *testutil.Clock
}

func newAPICopy(t *testing.T, b *testBundle, rate ratelimit.Config, interval time.Duration) *apiCopy {
	t.Helper()
	rej, err := NewRejections(b.db.Pool, interval, zerolog.Nop())
	require.NoError(t, err)
	clock := testutil.NewClock(time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC))
	api, err := New(testConfig(t, &Config{RateLimit: rate, Now: clock.Now}), &Deps{
		Logger:    zerolog.Nop(),
		Publisher: eventstream.NewPublisher(b.js, &eventstream.PublisherConfig{Timeout: 2 * time.Second}),
		KeyLookup: func(ctx context.Context, h auth.Hash) (*store.KeyInfo, error) {
			return store.KeyLookup(ctx, b.db.Pool, h)
		},
		Rejections: rej,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &apiCopy{url: srv.URL, rejections: rej, clock: clock}
}

// send posts body to /api/events with token and content type, and returns
// the status.
func (c *apiCopy) send(t *testing.T, token, contentType string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.url+"/api/events", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Public-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// rejected reads app's ingest_rejections rows as "day reason" → events.
func rejected(t *testing.T, b *testBundle, app uuid.UUID) map[string]int64 {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(),
		`SELECT day::text || ' ' || reason, events FROM ingest_rejections WHERE app_id = $1`, app)
	require.NoError(t, err)
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		require.NoError(t, rows.Scan(&k, &n))
		out[k] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// invalidBatch is a batch of n gameplay events of app whose last one has
// no player_id.
func invalidBatch(t *testing.T, app string, n int) []byte {
	t.Helper()
	items := make([]any, n)
	for i := range items {
		items[i] = gameplay(app, i)
	}
	delete(items[n-1].(map[string]any), "player_id")
	return pack(t, items)
}

// Two api copies count their refusals apart and their flushes add up, per
// app, UTC day and reason; refusals before the app is known are not
// attributed, and another app's never show under this one.
func TestRejectionsAddUpAcrossCopies(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	appA, appB := b.appA.AppID.String(), b.appB.AppID.String()
	open := ratelimit.Config{Rate: 1000, Burst: 1000}
	one, two := newAPICopy(t, b, open, time.Hour), newAPICopy(t, b, open, time.Hour)

	// Copy one, 1 March: a batch of 5 with a bad item, a 415, an
	// app_id of another app.
	require.Equal(t, http.StatusBadRequest, one.send(t, b.appA.PublicToken, "application/msgpack", invalidBatch(t, appA, 5)))
	require.Equal(t, http.StatusUnsupportedMediaType, one.send(t, b.appA.PublicToken, "application/json", []byte(`{}`)))
	require.Equal(t, http.StatusForbidden, one.send(t, b.appA.PublicToken, "application/msgpack",
		pack(t, []any{gameplay(appA, 0), gameplay(appB, 1)})))
	// Not attributable: no key, a made-up key.
	require.Equal(t, http.StatusUnauthorized, one.send(t, "", "application/msgpack", invalidBatch(t, appA, 2)))
	require.Equal(t, http.StatusUnauthorized, one.send(t, "gp_pk_madeup", "application/msgpack", invalidBatch(t, appA, 2)))
	// Copy two, 1 March and then 2 March; and app B's own refusal.
	require.Equal(t, http.StatusBadRequest, two.send(t, b.appA.PublicToken, "application/msgpack", invalidBatch(t, appA, 3)))
	two.clock.Advance(2 * time.Hour)
	require.Equal(t, http.StatusBadRequest, two.send(t, b.appA.PublicToken, "application/msgpack", invalidBatch(t, appA, 1)))
	require.Equal(t, http.StatusBadRequest, two.send(t, b.appB.PublicToken, "application/msgpack", invalidBatch(t, appB, 7)))

	require.Empty(t, rejected(t, b, b.appA.AppID), "nothing is written before a flush")
	require.NoError(t, one.rejections.Flush(ctx))
	require.NoError(t, two.rejections.Flush(ctx))
	want := map[string]int64{
		"2026-03-01 missing_field":     5 + 3,
		"2026-03-01 json_not_accepted": 1,
		"2026-03-01 app_mismatch":      2,
		"2026-03-02 missing_field":     1,
	}
	require.Equal(t, want, rejected(t, b, b.appA.AppID))
	require.Equal(t, map[string]int64{"2026-03-02 missing_field": 7}, rejected(t, b, b.appB.AppID))

	// A flush adds to the rows, never replaces them; an empty flush
	// writes nothing.
	require.Equal(t, http.StatusBadRequest, one.send(t, b.appA.PublicToken, "application/msgpack", invalidBatch(t, appA, 4)))
	require.NoError(t, one.rejections.Flush(ctx))
	require.NoError(t, one.rejections.Flush(ctx))
	require.NoError(t, two.rejections.Flush(ctx))
	want["2026-03-01 missing_field"] += 4
	require.Equal(t, want, rejected(t, b, b.appA.AppID))
}

// A rate-limited ingestion request counts for its app when the key cache
// already knows its token; Postgres is not asked.
func TestRejectionsRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := newAPICopy(t, b, ratelimit.Config{Rate: 0.001, Burst: 2}, time.Hour)
	app := b.appA.AppID.String()
	require.Equal(t, http.StatusOK, c.send(t, b.appA.PublicToken, "application/msgpack", pack(t, gameplay(app, 0))))
	require.Equal(t, http.StatusBadRequest, c.send(t, b.appA.PublicToken, "application/msgpack", invalidBatch(t, app, 2)))
	for range 3 {
		require.Equal(t, http.StatusTooManyRequests, c.send(t, b.appA.PublicToken, "application/msgpack", invalidBatch(t, app, 2)))
	}
	// A token the cache has not seen is refused before any key check.
	require.Equal(t, http.StatusTooManyRequests, c.send(t, b.appB.PublicToken, "application/msgpack", pack(t, gameplay(app, 0))))
	require.NoError(t, c.rejections.Flush(context.Background()))
	require.Equal(t, map[string]int64{"2026-03-01 missing_field": 2, "2026-03-01 rate_limited": 3}, rejected(t, b, b.appA.AppID))
	require.Empty(t, rejected(t, b, b.appB.AppID))
}

// A flush that fails keeps its counts: they are added, with those counted
// meanwhile, by the next flush that works; requests are answered as
// before meanwhile.
func TestRejectionsFlushFailureKeepsCounts(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	c := newAPICopy(t, b, ratelimit.Config{Rate: 1000, Burst: 1000}, time.Hour)
	app := b.appA.AppID.String()

	require.Equal(t, http.StatusBadRequest, c.send(t, b.appA.PublicToken, "application/msgpack", invalidBatch(t, app, 3)))
	_, err := b.db.Pool.Exec(ctx, `ALTER TABLE ingest_rejections RENAME TO ingest_rejections_away`)
	require.NoError(t, err)
	require.ErrorContains(t, c.rejections.Flush(ctx), "ingest_rejections")
	require.Equal(t, http.StatusBadRequest, c.send(t, b.appA.PublicToken, "application/msgpack", invalidBatch(t, app, 2)),
		"a refusal is answered the same while flushes fail")
	require.Error(t, c.rejections.Flush(ctx))
	_, err = b.db.Pool.Exec(ctx, `ALTER TABLE ingest_rejections_away RENAME TO ingest_rejections`)
	require.NoError(t, err)
	require.NoError(t, c.rejections.Flush(ctx))
	require.Equal(t, map[string]int64{"2026-03-01 missing_field": 5}, rejected(t, b, b.appA.AppID))
}

// Run flushes on its interval, and a deleted app's counts are dropped
// rather than failing every flush.
func TestRejectionsRun(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	c := newAPICopy(t, b, ratelimit.Config{Rate: 1000, Burst: 1000}, 20*time.Millisecond)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.rejections.Run(runCtx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	app := b.appA.AppID.String()
	require.Equal(t, http.StatusBadRequest, c.send(t, b.appA.PublicToken, "application/msgpack", invalidBatch(t, app, 3)))
	testutil.WaitFor(t, 20*time.Second, func() error {
		if got := rejected(t, b, b.appA.AppID); got["2026-03-01 missing_field"] != 3 {
			return fmt.Errorf("rows %v", got)
		}
		return nil
	})

	// App B is deleted between its refusal and the flush.
	appB := b.appB.AppID.String()
	c.rejections.add(b.appB.AppID, c.clock.Now(), "missing_field", 1)
	_, err := b.db.Pool.Exec(ctx, `DELETE FROM apps WHERE id = $1`, appB)
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, c.send(t, b.appA.PublicToken, "application/msgpack", invalidBatch(t, app, 1)))
	testutil.WaitFor(t, 20*time.Second, func() error {
		if got := rejected(t, b, b.appA.AppID); got["2026-03-01 missing_field"] != 4 {
			return fmt.Errorf("rows %v", got)
		}
		return nil
	})
}
