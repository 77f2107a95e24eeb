package httpapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
)

func TestGeneraitivWebhook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	shared := genSetup(t, nil)
	setup := func(t *testing.T) *genTestBundle {
		t.Helper()
		return shared
	}
	completed := map[string]string{"status": "COMPLETED", "link": "https://metadata.generaitiv.xyz/images/asset/x.png"}

	t.Run("BeforeSubmitReturnsIsAccepted", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g, token := bundle.awaitingCallback(t, bundle.appA)
		_, err := store.GenerationUpdate(ctx, bundle.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
			g.Status, g.WorkloadID = store.GenerationSubmitting, "" // the upstream call has not returned
			return nil
		})
		require.NoError(t, err)
		status, body := bundle.callback(t, g.ID.String(), token, completed)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, true, body["applied"])
		require.Equal(t, store.GenerationFinalizing, bundle.get(t, g.ID).Status)
	})

	t.Run("AfterTerminalStateChangesNothing", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g, token := bundle.awaitingCallback(t, bundle.appA)
		_, err := store.GenerationUpdate(ctx, bundle.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
			g.Status, g.ErrorCode = store.JobTimedOut, "timed_out"
			return nil
		})
		require.NoError(t, err)
		status, body := bundle.callback(t, g.ID.String(), token, completed)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, false, body["applied"])
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobTimedOut, g.Status)
		require.Empty(t, g.UpstreamLink)
		require.Equal(t, int32(1), g.LateCompletions)
		require.Equal(t, completed["link"], g.LateLink)
		require.Zero(t, bundle.finalizeJobs(t, g.ID))
	})

	// generaitiv_finalize is not a River unique job: the row lock alone
	// keeps concurrent duplicates from inserting a second one.
	t.Run("ConcurrentDuplicatesMakeOneFinalizeJob", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g, token := bundle.awaitingCallback(t, bundle.appA)
		start := make(chan struct{})
		var wg sync.WaitGroup
		statuses := make(chan int, 20)
		for range 20 {
			wg.Go(func() {
				<-start
				status, _ := bundle.callback(t, g.ID.String(), token, completed)
				statuses <- status
			})
		}
		close(start)
		wg.Wait()
		close(statuses)
		for s := range statuses {
			require.Equal(t, http.StatusOK, s)
		}
		g = bundle.get(t, g.ID)
		require.Equal(t, store.GenerationFinalizing, g.Status)
		require.Equal(t, int32(20), g.Completions)
		require.Equal(t, int32(19), g.LateCompletions)
		require.Equal(t, 1, bundle.finalizeJobs(t, g.ID))
	})

	t.Run("DuplicateAnswers200WithOneFinalizeJob", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g, token := bundle.awaitingCallback(t, bundle.appA)
		status, body := bundle.callback(t, g.ID.String(), token, completed)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, true, body["applied"])
		g1 := bundle.get(t, g.ID)
		require.Equal(t, store.GenerationFinalizing, g1.Status)
		require.Equal(t, completed["link"], g1.UpstreamLink)
		require.NotNil(t, g1.CompletedAt)

		status, body = bundle.callback(t, g.ID.String(), token, completed)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, false, body["applied"])
		g2 := bundle.get(t, g.ID)
		require.Equal(t, store.GenerationFinalizing, g2.Status)
		require.Equal(t, g1.CompletedAt, g2.CompletedAt)
		require.Equal(t, int32(1), g2.LateCompletions)
		require.Equal(t, 1, bundle.finalizeJobs(t, g.ID))
	})

	t.Run("EarlierAttemptsTokenStillAccepted", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g, token := bundle.awaitingCallback(t, bundle.appA)
		_, err := store.GenerationUpdate(ctx, bundle.pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
			g.CallbackTokenHashes = append(g.CallbackTokenHashes, make([]byte, 32)) // a later attempt's token
			return nil
		})
		require.NoError(t, err)
		status, _ := bundle.callback(t, g.ID.String(), token, completed)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, store.GenerationFinalizing, bundle.get(t, g.ID).Status)
	})

	t.Run("FailedCallbackFails", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g, token := bundle.awaitingCallback(t, bundle.appA)
		status, _ := bundle.callback(t, g.ID.String(), token, map[string]string{"status": "FAILED", "message": "NSFW"})
		require.Equal(t, http.StatusOK, status)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobFailed, g.Status)
		require.Equal(t, "upstream_failed", g.ErrorCode)
		require.Equal(t, "NSFW", g.ErrorMessage)
		require.Equal(t, 1, bundle.finalizeJobs(t, g.ID), "the finalize job announces the failure")
	})

	t.Run("ForgedAndUnknownLookAlike", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g, token := bundle.awaitingCallback(t, bundle.appA)
		var bodies []map[string]any
		for _, c := range []struct{ id, token string }{
			{g.ID.String(), token + "x"},            // wrong token
			{g.ID.String(), ""},                     // missing token
			{g.ID.String(), strings.ToUpper(token)}, // near miss
			{uuid.NewString(), token},               // unknown generation
			{"not-a-uuid", token},                   // not an id
		} {
			status, body := bundle.callback(t, c.id, c.token, completed)
			require.Equal(t, http.StatusNotFound, status, c)
			bodies = append(bodies, body)
		}
		for _, b := range bodies[1:] {
			require.Equal(t, bodies[0], b, "every refusal reads the same")
		}
		g2 := bundle.get(t, g.ID)
		require.Equal(t, store.GenerationSubmitted, g2.Status)
		require.Zero(t, g2.Completions)
		require.Zero(t, bundle.finalizeJobs(t, g.ID))
	})

	// A refused callback is answered from a plain read: it neither waits
	// for the row lock nor takes it, so a flood of wrong tokens for a real
	// id cannot queue behind (or in front of) the real callback.
	t.Run("WrongTokenTakesNoRowLock", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g, token := bundle.awaitingCallback(t, bundle.appA)
		tx, err := bundle.pool.Begin(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(ctx)) })
		_, err = tx.Exec(ctx, `SELECT 1 FROM generations WHERE id = $1 FOR UPDATE`, g.ID)
		require.NoError(t, err)

		// Answered while the lock is still held; the wait is far past
		// any query's time, and below the request timeout a blocked
		// request would hit.
		for _, body := range []any{completed, []byte("{")} {
			answered := make(chan int, 1)
			go func() {
				status, _ := bundle.callback(t, g.ID.String(), token+"x", body)
				answered <- status
			}()
			select {
			case status := <-answered:
				require.Equal(t, http.StatusNotFound, status)
			case <-time.After(15 * time.Second):
				require.FailNow(t, "a wrong token waited for the row lock")
			}
		}
		require.NoError(t, tx.Rollback(ctx))

		status, body := bundle.callback(t, g.ID.String(), token, completed)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, true, body["applied"])
		g = bundle.get(t, g.ID)
		require.Equal(t, int32(1), g.Completions, "the refused callbacks changed nothing")
		require.Equal(t, 1, bundle.finalizeJobs(t, g.ID))
	})

	t.Run("MalformedBodyIs400", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g, token := bundle.awaitingCallback(t, bundle.appA)
		for _, body := range []any{[]byte("{"), map[string]string{"status": "DONE"}, map[string]string{"status": "COMPLETED"}} {
			status, out := bundle.callback(t, g.ID.String(), token, body)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, "invalid_callback", out["error"])
			// Only the holder of a valid token learns the body is wrong.
			status, out = bundle.callback(t, g.ID.String(), token+"x", body)
			require.Equal(t, http.StatusNotFound, status)
			require.Equal(t, "not_found", out["error"])
		}
		g = bundle.get(t, g.ID)
		require.Equal(t, store.GenerationSubmitted, g.Status)
		require.Zero(t, g.Completions)
	})

	t.Run("OversizedIs413", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		g, token := bundle.awaitingCallback(t, bundle.appA)
		big := map[string]string{"status": "COMPLETED", "link": "https://x/" + strings.Repeat("a", 20<<10)}
		status, out := bundle.callback(t, g.ID.String(), token, big)
		require.Equal(t, http.StatusRequestEntityTooLarge, status)
		require.Equal(t, "body_too_large", out["error"])
		require.Equal(t, store.GenerationSubmitted, bundle.get(t, g.ID).Status)
	})
}
