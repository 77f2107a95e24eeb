package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestGenerationStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		pool *pgxpool.Pool
		app  uuid.UUID
		app2 uuid.UUID
	}
	// One schema for the subtests: each works on its own rows.
	db := dbtest.NewSchema(t)
	a, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	b, err := store.AppCreate(ctx, db.Pool, "b")
	require.NoError(t, err)
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{pool: db.Pool, app: a.AppID, app2: b.AppID}
	}
	insert := func(t *testing.T, bundle *testBundle, app uuid.UUID, model string) *store.Generation {
		t.Helper()
		g := &store.Generation{ID: uuid.New(), AppID: app, Model: model, Input: json.RawMessage(`{"prompt":"x"}`),
			DeadlineAt: time.Now().Add(time.Minute)}
		require.NoError(t, store.GenerationInsert(ctx, bundle.pool, g))
		return g
	}

	t.Run("CompleteAppliesOnceThenCountsLate", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g := insert(t, bundle, bundle.app, "m")
		noop := func(pgx.Tx, *store.Completed) error { return nil }
		at := time.Now().UTC().Truncate(time.Microsecond)

		done, err := store.GenerationComplete(ctx, bundle.pool, g.ID, store.Completion{OK: true, Link: "https://x/1.png", At: at}, noop)
		require.NoError(t, err)
		require.True(t, done.Applied)
		require.Equal(t, store.GenerationFinalizing, done.Status)
		got := mustGet(t, bundle.pool, g.ID)
		require.Equal(t, store.GenerationFinalizing, got.Status)
		require.Equal(t, "https://x/1.png", got.UpstreamLink)
		require.Equal(t, int16(100), got.Progress)
		require.True(t, at.Equal(*got.CompletedAt))
		require.Nil(t, got.FinishedAt)
		require.Equal(t, int32(1), got.Completions)
		require.Zero(t, got.LateCompletions)

		// The same link again, then a different one: late; the first
		// differing link is kept.
		for _, link := range []string{"https://x/1.png", "https://x/2.png", "https://x/3.png"} {
			done, err = store.GenerationComplete(ctx, bundle.pool, g.ID, store.Completion{OK: true, Link: link, At: time.Now()}, noop)
			require.NoError(t, err)
			require.False(t, done.Applied)
			require.Equal(t, store.GenerationFinalizing, done.Status)
		}
		got = mustGet(t, bundle.pool, g.ID)
		require.Equal(t, store.GenerationFinalizing, got.Status)
		require.Equal(t, "https://x/1.png", got.UpstreamLink)
		require.Equal(t, "https://x/2.png", got.LateLink)
		require.True(t, at.Equal(*got.CompletedAt))
		require.Equal(t, int32(4), got.Completions)
		require.Equal(t, int32(3), got.LateCompletions)
	})

	t.Run("CompleteFailureFails", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g := insert(t, bundle, bundle.app, "m")
		noop := func(pgx.Tx, *store.Completed) error { return nil }
		done, err := store.GenerationComplete(ctx, bundle.pool, g.ID, store.Completion{At: time.Now()}, noop)
		require.NoError(t, err)
		require.True(t, done.Applied)
		got := mustGet(t, bundle.pool, g.ID)
		require.Equal(t, store.JobFailed, got.Status)
		require.Equal(t, "upstream_failed", got.ErrorCode)
		require.Equal(t, "Generaitiv reported that the generation failed", got.ErrorMessage)
		require.NotNil(t, got.FinishedAt)
		require.Empty(t, got.UpstreamLink)
	})

	t.Run("CompleteRefusedRollsBack", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g := insert(t, bundle, bundle.app, "m")
		refused := errors.New("refused")
		_, err := store.GenerationComplete(ctx, bundle.pool, g.ID, store.Completion{OK: true, Link: "https://x/1.png", At: time.Now()},
			func(pgx.Tx, *store.Completed) error { return refused })
		require.ErrorIs(t, err, refused)
		got := mustGet(t, bundle.pool, g.ID)
		require.Equal(t, store.JobQueued, got.Status)
		require.Zero(t, got.Completions)

		_, err = store.GenerationComplete(ctx, bundle.pool, uuid.New(), store.Completion{At: time.Now()},
			func(pgx.Tx, *store.Completed) error { return nil })
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	// A webhook's completion applies only with a token hash the generation
	// lists; any other is the same ErrNotFound as an unknown id, and
	// neither the row nor the caller's step is touched.
	t.Run("CompleteWithTokenHashNeedsAListedOne", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g := insert(t, bundle, bundle.app, "m")
		first, second := sha256.Sum256([]byte("first")), sha256.Sum256([]byte("second"))
		_, err := store.GenerationUpdate(ctx, bundle.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
			g.CallbackTokenHashes = [][]byte{first[:], second[:]}
			return nil
		})
		require.NoError(t, err)
		called := 0
		then := func(pgx.Tx, *store.Completed) error { called++; return nil }
		for _, wrong := range [][]byte{make([]byte, sha256.Size), []byte("second")} {
			_, err = store.GenerationComplete(ctx, bundle.pool, g.ID,
				store.Completion{OK: true, Link: "https://x/1.png", At: time.Now(), TokenHash: wrong}, then)
			require.ErrorIs(t, err, store.ErrNotFound)
		}
		require.Zero(t, called)
		got := mustGet(t, bundle.pool, g.ID)
		require.Equal(t, store.JobQueued, got.Status)
		require.Zero(t, got.Completions)

		done, err := store.GenerationComplete(ctx, bundle.pool, g.ID,
			store.Completion{OK: true, Link: "https://x/1.png", At: time.Now(), TokenHash: second[:]}, then)
		require.NoError(t, err)
		require.True(t, done.Applied)
		require.Equal(t, 1, called)
		require.Equal(t, [][]byte{first[:], second[:]}, done.CallbackTokenHashes)
		got = mustGet(t, bundle.pool, g.ID)
		require.Equal(t, store.GenerationFinalizing, got.Status)
		require.Equal(t, int32(1), got.Completions)
	})

	// The completion's transaction ends with its event (the second of the
	// generation's, after its insert's): alone (COMMIT in
	// its round trip) while the app has no enabled endpoint, with a
	// delivery and its job once one is enabled; then runs inside it.
	t.Run("CompleteRecordsItsEventWithAndWithoutEndpoints", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		app, err := store.AppCreate(ctx, db.Pool, "events")
		require.NoError(t, err)
		type recorded struct {
			Type       string
			Seq        int64
			Deliveries int
			Jobs       int
		}
		complete := func(t *testing.T, ok bool) recorded {
			t.Helper()
			g := insert(t, bundle, app.AppID, "m")
			done, err := store.GenerationComplete(ctx, bundle.pool, g.ID, store.Completion{OK: ok, Link: "https://x/1.png", At: time.Now()},
				func(tx pgx.Tx, done *store.Completed) error {
					var status string // the change is visible: one transaction
					if err := tx.QueryRow(ctx, `SELECT status FROM generations WHERE id = $1`, g.ID).Scan(&status); err != nil {
						return err
					}
					require.Equal(t, string(done.Status), status)
					return nil
				})
			require.NoError(t, err)
			require.True(t, done.Applied)
			var r recorded
			require.NoError(t, bundle.pool.QueryRow(ctx, `SELECT type, (body::jsonb->>'sequence')::bigint,
				(SELECT count(*) FROM webhook_deliveries d WHERE d.event_id = e.id),
				(SELECT count(*) FROM river_job j, webhook_deliveries d
					WHERE d.event_id = e.id AND j.kind = 'webhook_deliver' AND j.args->>'delivery_id' = d.id::text)
				FROM job_events e WHERE object_id = $1 ORDER BY object_seq DESC LIMIT 1`, g.ID).Scan(&r.Type, &r.Seq, &r.Deliveries, &r.Jobs))
			return r
		}
		require.Equal(t, recorded{Type: "generation.finalizing", Seq: 2}, complete(t, true))
		require.Equal(t, recorded{Type: "generation.failed", Seq: 2}, complete(t, false))

		require.NoError(t, store.WebhookEndpointInsert(ctx, db.Pool, nil, &store.WebhookEndpoint{
			AppID: app.AppID, URL: "https://hooks.example/x", EventTypes: []string{"generation.*"}, Enabled: true}))
		require.Equal(t, recorded{Type: "generation.finalizing", Seq: 2, Deliveries: 1, Jobs: 1}, complete(t, true))
	})

	// A completion refused or failed on the way leaves its connection out
	// of any transaction: on a pool of one connection, the next one works
	// and nothing of the first is left.
	t.Run("CompleteLeavesNoTransactionOpen", func(t *testing.T) {
		t.Parallel()
		cfg := db.Pool.Config().Copy()
		cfg.MaxConns, cfg.MinConns = 1, 0
		one, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(one.Close)
		g := insert(t, setup(t), a.AppID, "m")
		refused := errors.New("refused")
		_, err = store.GenerationComplete(ctx, one, g.ID, store.Completion{OK: true, Link: "https://x/1.png", At: time.Now()},
			func(tx pgx.Tx, _ *store.Completed) error {
				_, err := tx.Exec(ctx, `SELECT 1/0`) // aborts the transaction
				require.Error(t, err)
				return refused
			})
		require.ErrorIs(t, err, refused)
		_, err = store.GenerationComplete(ctx, one, g.ID, store.Completion{OK: true, Link: "https://x/1.png", At: time.Now()},
			func(tx pgx.Tx, _ *store.Completed) error {
				_, err := tx.Exec(ctx, `SELECT 1/0`)
				return err // the error ends it all the same
			})
		require.Error(t, err)
		done, err := store.GenerationComplete(ctx, one, g.ID, store.Completion{OK: true, Link: "https://x/2.png", At: time.Now()},
			func(pgx.Tx, *store.Completed) error { return nil })
		require.NoError(t, err)
		require.True(t, done.Applied)
		got := mustGet(t, one, g.ID)
		require.Equal(t, "https://x/2.png", got.UpstreamLink)
		require.Equal(t, int32(1), got.Completions)
		var events int
		require.NoError(t, one.QueryRow(ctx, `SELECT count(*) FROM job_events WHERE object_id = $1`, g.ID).Scan(&events))
		require.Equal(t, 2, events, "the insert's and the completion's")
	})

	t.Run("GetForAppHidesOtherApps", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g := insert(t, bundle, bundle.app, "m")
		got, err := store.GenerationGetForApp(ctx, bundle.pool, bundle.app, g.ID)
		require.NoError(t, err)
		require.Equal(t, store.JobQueued, got.Status)
		require.Nil(t, got.Publish)
		require.Empty(t, got.CallbackTokenHashes)
		_, err = store.GenerationGetForApp(ctx, bundle.pool, bundle.app2, g.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = store.GenerationGet(ctx, bundle.pool, uuid.New())
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("ListFiltersAndPages", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		model := "list-" + uuid.NewString()
		var ids []uuid.UUID
		for range 5 {
			ids = append(ids, insert(t, bundle, bundle.app, model).ID)
		}
		insert(t, bundle, bundle.app2, model)
		var seen []uuid.UUID
		var after *store.JobCursor
		pages := 0
		for {
			page, next, err := store.GenerationList(ctx, bundle.pool, &store.GenerationListParams{AppID: bundle.app, Model: model, Limit: 2, After: after})
			require.NoError(t, err)
			pages++
			for _, g := range page {
				seen = append(seen, g.ID)
			}
			if next == nil {
				break
			}
			require.Len(t, page, 2)
			after = next
		}
		require.ElementsMatch(t, ids, seen)
		require.Equal(t, 3, pages)
		// A page that ends the list exactly has no next cursor.
		page, next, err := store.GenerationList(ctx, bundle.pool, &store.GenerationListParams{AppID: bundle.app, Model: model, Limit: 5})
		require.NoError(t, err)
		require.Len(t, page, 5)
		require.Nil(t, next)
		page, _, err = store.GenerationList(ctx, bundle.pool, &store.GenerationListParams{AppID: bundle.app, Model: model, Status: store.JobFailed})
		require.NoError(t, err)
		require.Empty(t, page)
	})

	t.Run("TokenIDIsUnique", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		tok := "0xabc" + uuid.NewString()
		g1, g2 := insert(t, bundle, bundle.app, "m"), insert(t, bundle, bundle.app, "m")
		_, err := store.GenerationUpdate(ctx, bundle.pool, g1.ID, func(_ pgx.Tx, g *store.Generation) error { g.TokenID = &tok; return nil })
		require.NoError(t, err)
		_, err = store.GenerationUpdate(ctx, bundle.pool, g2.ID, func(_ pgx.Tx, g *store.Generation) error { g.TokenID = &tok; return nil })
		require.ErrorIs(t, err, store.ErrConflict)
	})

	t.Run("UpdateUnchangedAndRollback", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g := insert(t, bundle, bundle.app, "m")
		got, err := store.GenerationUpdate(ctx, bundle.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
			g.Status = store.JobFailed
			return store.ErrUnchanged
		})
		require.NoError(t, err)
		require.Equal(t, store.JobFailed, got.Status) // as fn left it, but not written
		fresh, err := store.GenerationGet(ctx, bundle.pool, g.ID)
		require.NoError(t, err)
		require.Equal(t, store.JobQueued, fresh.Status)

		boom := errors.New("boom")
		_, err = store.GenerationUpdate(ctx, bundle.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
			g.Status = store.JobFailed
			return boom
		})
		require.ErrorIs(t, err, boom)
		fresh, err = store.GenerationGet(ctx, bundle.pool, g.ID)
		require.NoError(t, err)
		require.Equal(t, store.JobQueued, fresh.Status)
	})

	t.Run("UpdateUnderLockTransitionsOnce", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g := insert(t, bundle, bundle.app, "m")
		var transitions atomic.Int32
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				<-start
				_, err := store.GenerationUpdate(ctx, bundle.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
					if g.Status != store.JobQueued {
						return store.ErrUnchanged
					}
					g.Status = store.GenerationSubmitting
					g.SubmitAttempts++
					g.CallbackTokenHashes = append(g.CallbackTokenHashes, make([]byte, 32))
					transitions.Add(1)
					return nil
				})
				require.NoError(t, err)
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(1), transitions.Load())
		fresh, err := store.GenerationGet(ctx, bundle.pool, g.ID)
		require.NoError(t, err)
		require.Equal(t, int32(1), fresh.SubmitAttempts)
		require.Len(t, fresh.CallbackTokenHashes, 1)
	})
}

func mustGet(t *testing.T, db store.DBTX, id uuid.UUID) *store.Generation {
	t.Helper()
	g, err := store.GenerationGet(context.Background(), db, id)
	require.NoError(t, err)
	return g
}
