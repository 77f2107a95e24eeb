package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
)

// newQueuedGeneration is a generation to insert for app.
func newQueuedGeneration(app uuid.UUID) *store.Generation {
	return &store.Generation{ID: uuid.New(), AppID: app, Model: "m", Input: json.RawMessage(`{"prompt":"x"}`),
		DeadlineAt: time.Now().Add(time.Hour)}
}

// eventObject returns the job id and per-job sequence of a stored event.
func eventObject(e *store.StoredJobEvent) (string, int64, error) {
	var ev struct {
		Sequence int64 `json:"sequence"`
		Data     struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	err := json.Unmarshal(e.Body, &ev)
	return ev.Data.ID, ev.Sequence, err
}

// readNew numbers the app's committed events and reads those after
// cursor, as GET /v1/events does.
func readNew(ctx context.Context, pool *pgxpool.Pool, app uuid.UUID, cursor int64) ([]*store.StoredJobEvent, error) {
	if _, err := store.JobEventsNumber(ctx, pool, []uuid.UUID{app}); err != nil {
		return nil, err
	}
	return store.JobEventsAfter(ctx, pool, app, cursor, 1000)
}

// An event whose transaction commits after a later-written one's gets the
// later number: a reader that has read the other one and resumes after it
// still reads this one. (Numbering at insert would give it the lower
// number, which that reader has already passed.)
func TestJobEventsNumberedInCommitOrder(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	other, err := store.AppCreate(ctx, db.Pool, "b")
	require.NoError(t, err)

	// Written first, committed last.
	txA, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = txA.Rollback(ctx) }()
	a := newQueuedGeneration(app.AppID)
	require.NoError(t, store.GenerationInsert(ctx, txA, a))

	// Written second: its transaction commits while A's is still open (it
	// must not wait for A's), and it is readable at once.
	b := newQueuedGeneration(app.AppID)
	require.NoError(t, store.GenerationInsert(ctx, db.Pool, b))
	require.NoError(t, store.GenerationInsert(ctx, db.Pool, newQueuedGeneration(other.AppID)))
	// One that rolls back is never numbered.
	txC, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, store.GenerationInsert(ctx, txC, newQueuedGeneration(app.AppID)))
	require.NoError(t, txC.Rollback(ctx))

	got, err := readNew(ctx, db.Pool, app.AppID, 0)
	require.NoError(t, err)
	require.Len(t, got, 1, "A has not committed: only B is readable")
	id, seq, err := eventObject(got[0])
	require.NoError(t, err)
	require.Equal(t, b.ID.String(), id)
	require.EqualValues(t, 1, seq)
	cursor := got[0].Seq

	require.NoError(t, txA.Commit(ctx))
	got, err = readNew(ctx, db.Pool, app.AppID, cursor)
	require.NoError(t, err)
	require.Len(t, got, 1, "A is read after B, by a reader resuming after B")
	id, _, err = eventObject(got[0])
	require.NoError(t, err)
	require.Equal(t, a.ID.String(), id)
	require.Greater(t, got[0].Seq, cursor)

	latest, err := store.JobEventsNumber(ctx, db.Pool, []uuid.UUID{app.AppID, other.AppID, uuid.New()})
	require.NoError(t, err)
	require.Equal(t, map[uuid.UUID]int64{app.AppID: got[0].Seq, other.AppID: 1}, latest,
		"each app numbers from 1; an app without events is missing")
	again, err := readNew(ctx, db.Pool, app.AppID, 0)
	require.NoError(t, err)
	require.Len(t, again, 2, "numbering twice changes nothing")
	require.Equal(t, []int64{cursor, got[0].Seq}, []int64{again[0].Seq, again[1].Seq})
}

// Writers commit their events out of the order they wrote them while
// several readers (as several api processes would) number and read the
// app's events: every reader reads every committed event exactly once, in
// increasing numbers, each job's events in their own order, and none that
// rolled back.
func TestJobEventsReadersNeverSkip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)

	const (
		writers = 3
		rounds  = 12
		readers = 3
	)
	type reader struct {
		mu   sync.Mutex
		seen map[string]int // event id → times read
		err  error
	}
	rs := make([]*reader, readers)
	for i := range rs {
		rs[i] = &reader{seen: map[string]int{}}
	}
	readerSaw := func(r *reader, eventID uuid.UUID) (bool, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.seen[eventID.String()] > 0, r.err
	}
	eventOf := func(object uuid.UUID, objectSeq int) (uuid.UUID, error) {
		var id uuid.UUID
		err := db.Pool.QueryRow(ctx, `SELECT id FROM job_events WHERE object_id = $1 AND object_seq = $2`, object, objectSeq).Scan(&id)
		return id, err
	}

	done := make(chan struct{})
	var readersWG sync.WaitGroup
	for _, r := range rs {
		readersWG.Go(func() {
			var cursor int64
			objectSeqs := map[string]int64{}
			read := func() (int, error) {
				events, err := readNew(ctx, db.Pool, app.AppID, cursor)
				if err != nil {
					return 0, err
				}
				r.mu.Lock()
				defer r.mu.Unlock()
				for _, e := range events {
					if e.Seq <= cursor {
						return 0, fmt.Errorf("read %d after %d", e.Seq, cursor)
					}
					cursor = e.Seq
					r.seen[e.ID.String()]++
					object, seq, err := eventObject(e)
					if err != nil {
						return 0, err
					}
					if seq != objectSeqs[object]+1 {
						return 0, fmt.Errorf("job %s: event %d read after %d", object, seq, objectSeqs[object])
					}
					objectSeqs[object] = seq
				}
				return len(events), nil
			}
			for {
				select {
				case <-done:
					// Everything has committed: one more round reads the rest.
					_, err := read()
					r.mu.Lock()
					r.err = err
					r.mu.Unlock()
					return
				default:
				}
				if _, err := read(); err != nil {
					r.mu.Lock()
					r.err = err
					r.mu.Unlock()
					return
				}
			}
		})
	}

	// Each round: A writes its event first and commits last, after the
	// first reader has read B's, written second and committed first. Then
	// A's job changes status (its second event), and a third transaction
	// rolls back.
	var (
		mu        sync.Mutex
		committed []uuid.UUID // event ids
	)
	waitRead := func(eventID uuid.UUID) error {
		for end := time.Now().Add(time.Minute); time.Now().Before(end); {
			saw, err := readerSaw(rs[0], eventID)
			if err != nil {
				return fmt.Errorf("the first reader failed: %w", err)
			}
			if saw {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			time.Sleep(2 * time.Millisecond)
		}
		return fmt.Errorf("the first reader did not read event %s within a minute", eventID)
	}
	round := func() error {
		txA, err := db.Pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = txA.Rollback(ctx) }()
		a := newQueuedGeneration(app.AppID)
		if err := store.GenerationInsert(ctx, txA, a); err != nil {
			return err
		}
		b := newQueuedGeneration(app.AppID)
		if err := store.GenerationInsert(ctx, db.Pool, b); err != nil {
			return err
		}
		bEvent, err := eventOf(b.ID, 1)
		if err != nil {
			return err
		}
		if err := waitRead(bEvent); err != nil {
			return err
		}
		if err := txA.Commit(ctx); err != nil {
			return err
		}
		if _, err := store.GenerationUpdate(ctx, db.Pool, a.ID, func(_ pgx.Tx, g *store.Generation) error {
			g.Status = store.JobCanceled
			return nil
		}); err != nil {
			return err
		}
		txC, err := db.Pool.Begin(ctx)
		if err != nil {
			return err
		}
		if err := store.GenerationInsert(ctx, txC, newQueuedGeneration(app.AppID)); err != nil {
			return err
		}
		if err := txC.Rollback(ctx); err != nil {
			return err
		}
		ids := []uuid.UUID{bEvent}
		for _, s := range []int{1, 2} {
			id, err := eventOf(a.ID, s)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		mu.Lock()
		committed = append(committed, ids...)
		mu.Unlock()
		return nil
	}
	errs := make(chan error, writers)
	var writersWG sync.WaitGroup
	for range writers {
		writersWG.Go(func() {
			for range rounds {
				if err := round(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	writersWG.Wait()
	close(done)
	readersWG.Wait()
	close(errs)
	for i, r := range rs {
		require.NoError(t, r.err, "reader %d", i)
	}
	for err := range errs {
		require.NoError(t, err)
	}

	require.Len(t, committed, writers*rounds*3)
	for i, r := range rs {
		require.Len(t, r.seen, len(committed), "reader %d read every committed event, and no other", i)
		for _, id := range committed {
			require.Equal(t, 1, r.seen[id.String()], "reader %d read event %s once", i, id)
		}
	}
}

// A stored event is the payload exactly as encoded, with the job's own
// numbers, whatever its data holds.
func TestJobEventBodyCarriesTheJobsSequence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.NewSchema(t)
	app, err := store.AppCreate(ctx, db.Pool, "a")
	require.NoError(t, err)
	g := newQueuedGeneration(app.AppID)
	g.Input = json.RawMessage(`{"prompt":"\"sequence\":0,","sequence":0,"n":{"sequence":0}}`)
	require.NoError(t, store.GenerationInsert(ctx, db.Pool, g))
	for _, status := range []store.JobStatus{store.GenerationSubmitting, store.JobCanceled} {
		_, err := store.GenerationUpdate(ctx, db.Pool, g.ID, func(_ pgx.Tx, g *store.Generation) error {
			g.Status = status
			return nil
		})
		require.NoError(t, err)
	}
	events, err := readNew(ctx, db.Pool, app.AppID, 0)
	require.NoError(t, err)
	require.Len(t, events, 3)
	for i, e := range events {
		// store.JobEvent's fields, data kept as it is.
		var ev struct {
			Type      string          `json:"type"`
			Timestamp time.Time       `json:"timestamp"`
			Sequence  int64           `json:"sequence"`
			Data      json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(e.Body, &ev), string(e.Body))
		require.EqualValues(t, i+1, ev.Sequence)
		require.Equal(t, e.Type, ev.Type)
		var data struct {
			Input struct {
				Input json.RawMessage `json:"input"`
			} `json:"input"`
		}
		require.NoError(t, json.Unmarshal(ev.Data, &data))
		require.JSONEq(t, string(g.Input), string(data.Input.Input))
		again, err := json.Marshal(&ev)
		require.NoError(t, err)
		require.Equal(t, string(again), string(e.Body), "the body is as json.Marshal encodes the event")
	}
	require.Equal(t, []string{"generation.queued", "generation.submitting", "generation.canceled"},
		[]string{events[0].Type, events[1].Type, events[2].Type})
}
