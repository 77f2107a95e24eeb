package store_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/dbtest"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
	"github.com/gamepipe/gamepipe/internal/testutil"
)

// newEvent is a valid event of the kind for the app at at, received a
// second later.
func newEvent(kind telemetry.Kind, appID string, at time.Time) telemetry.Event {
	ev := testutil.Event(kind, appID, at)
	ev.ReceivedAt = ev.ReceivedAt.Add(time.Second)
	return ev
}

// insert runs InsertEvents in its own committed transaction.
func insert(t testing.TB, pool *pgxpool.Pool, events []telemetry.Event) *store.InsertResult {
	t.Helper()
	var res *store.InsertResult
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		res, err = store.InsertEvents(context.Background(), tx, events)
		return err
	})
	require.NoError(t, err)
	return res
}

// count runs a count(*) query.
func count(t testing.TB, db store.DBTX, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestInsertEvents(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		pool  *pgxpool.Pool
		appID string
		at    time.Time
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{
			pool:  dbtest.NewSchema(t).Pool,
			appID: uuid.NewString(),
			at:    time.Date(2026, 2, 12, 10, 0, 0, 123456000, time.UTC),
		}
	}

	t.Run("DataErrorFailsWholeCall", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		bad := newEvent(telemetry.KindGameplay, bundle.appID, bundle.at)
		bad.LevelID = "nul\x00byte" // Postgres text refuses NUL
		err := pgx.BeginFunc(t.Context(), bundle.pool, func(tx pgx.Tx) error {
			_, err := store.InsertEvents(t.Context(), tx, []telemetry.Event{newEvent(telemetry.KindGameplay, bundle.appID, bundle.at), bad})
			return err
		})
		require.Error(t, err)
		require.True(t, store.IsDataError(err), "%v", err)
		require.Zero(t, count(t, bundle.pool, "SELECT count(*) FROM gameplay_events"))
	})

	t.Run("DuplicatesMakeOneRow", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		var events []telemetry.Event
		for _, kind := range telemetry.Kinds {
			events = append(events, newEvent(kind, bundle.appID, bundle.at))
		}
		twice := append(append([]telemetry.Event{}, events...), events...)

		res := insert(t, bundle.pool, twice)
		require.Equal(t, 4, res.Skipped)
		for _, kind := range telemetry.Kinds {
			require.Equal(t, 1, res.Inserted[kind], kind)
		}

		res = insert(t, bundle.pool, events)
		require.Equal(t, 4, res.Skipped)
		for _, kind := range telemetry.Kinds {
			require.Zero(t, res.Inserted[kind], kind)
		}
		for _, table := range []string{"player_events", "funnel_steps", "gameplay_events", "trajectories", "players"} {
			require.Equal(t, 1, count(t, bundle.pool, "SELECT count(*) FROM "+table), table)
		}
	})

	// A batch whose kinds were COPYed straight into their tables up to a
	// stored event is undone and staged whole: nothing is lost or doubled.
	t.Run("StoredEventInLaterKindStagesTheBatch", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		stored := newEvent(telemetry.KindGameplay, bundle.appID, bundle.at)
		insert(t, bundle.pool, []telemetry.Event{stored})

		batch := []telemetry.Event{newEvent(telemetry.KindRealtime, bundle.appID, bundle.at), newEvent(telemetry.KindFunnel, bundle.appID, bundle.at)}
		for range 3 {
			batch = append(batch, newEvent(telemetry.KindGameplay, bundle.appID, bundle.at))
		}
		batch = append(batch, stored)
		res := insert(t, bundle.pool, batch)
		require.Equal(t, 1, res.Skipped)
		require.Equal(t, map[telemetry.Kind]int{telemetry.KindRealtime: 1, telemetry.KindFunnel: 1, telemetry.KindGameplay: 3}, res.Inserted)
		require.Equal(t, 1, count(t, bundle.pool, "SELECT count(*) FROM trajectories"))
		require.Equal(t, 1, count(t, bundle.pool, "SELECT count(*) FROM funnel_steps"))
		require.Equal(t, 4, count(t, bundle.pool, "SELECT count(*) FROM gameplay_events"))
	})

	t.Run("EmptyBatch", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		res := insert(t, bundle.pool, nil)
		require.Zero(t, res.Skipped)
		require.Empty(t, res.Inserted)
	})

	t.Run("FunnelColumns", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		ev := newEvent(telemetry.KindFunnel, bundle.appID, bundle.at)
		ev.LevelID = "" // absent text is NULL
		insert(t, bundle.pool, []telemetry.Event{ev})

		var (
			eventID, appID, buildID, playerID, sessionID, step string
			levelID                                            *string
			ts, receivedAt                                     time.Time
		)
		require.NoError(t, bundle.pool.QueryRow(t.Context(), `
			SELECT event_id::text, app_id::text, build_id, player_id, session_id, level_id, funnel_step_name, "timestamp", received_at
			FROM funnel_steps`).Scan(&eventID, &appID, &buildID, &playerID, &sessionID, &levelID, &step, &ts, &receivedAt))
		require.Equal(t, ev.ID, eventID)
		require.Equal(t, ev.AppID, appID)
		require.Equal(t, ev.BuildID, buildID)
		require.Equal(t, ev.PlayerID, playerID)
		require.Equal(t, ev.SessionID, sessionID)
		require.Nil(t, levelID)
		require.Equal(t, ev.FunnelStepName, step)
		require.True(t, ev.Timestamp.Equal(ts))
		require.True(t, ev.ReceivedAt.Equal(receivedAt))
	})

	t.Run("GameplayColumns", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		ev := newEvent(telemetry.KindGameplay, bundle.appID, bundle.at)
		noPos := newEvent(telemetry.KindGameplay, bundle.appID, bundle.at)
		noPos.Position, noPos.CustomData, noPos.InputMethod = nil, nil, ""
		insert(t, bundle.pool, []telemetry.Event{ev, noPos})

		var (
			name, levelID, sessionID string
			x, y, z                  *float64
			customData               json.RawMessage
			inputMethod              *string
			ts                       time.Time
		)
		require.NoError(t, bundle.pool.QueryRow(t.Context(), `
			SELECT event_name, level_id, session_id, pos_x, pos_y, pos_z, custom_data, input_method, "timestamp"
			FROM gameplay_events WHERE event_id = $1`, ev.ID).Scan(&name, &levelID, &sessionID, &x, &y, &z, &customData, &inputMethod, &ts))
		require.Equal(t, ev.EventName, name)
		require.Equal(t, ev.LevelID, levelID)
		require.Equal(t, ev.SessionID, sessionID)
		require.Equal(t, []float64{10.5, 0, -5.2}, []float64{*x, *y, *z})
		require.JSONEq(t, string(ev.CustomData), string(customData))
		require.Equal(t, "Gamepad", *inputMethod)
		require.True(t, ev.Timestamp.Equal(ts))

		require.Equal(t, 1, count(t, bundle.pool, `SELECT count(*) FROM gameplay_events
			WHERE event_id = $1 AND pos_x IS NULL AND pos_y IS NULL AND pos_z IS NULL AND custom_data IS NULL AND input_method IS NULL`, noPos.ID))
	})

	t.Run("InvalidEvent", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			name   string
			mutate func(ev *telemetry.Event)
		}{
			{"AppIDNotUUID", func(ev *telemetry.Event) { ev.AppID = "my-app" }},
			{"IDNotUUID", func(ev *telemetry.Event) { ev.ID = "not-a-uuid" }},
			{"KindUnknown", func(ev *telemetry.Event) { ev.Kind = "other" }},
			{"NoEventName", func(ev *telemetry.Event) { ev.EventName = "" }},
			{"NoTimestamp", func(ev *telemetry.Event) { ev.Timestamp = time.Time{} }},
		}
		bundle := setup(t)
		for _, tt := range tests {
			ev := newEvent(telemetry.KindGameplay, bundle.appID, bundle.at)
			tt.mutate(&ev)
			require.ErrorIs(t, store.CheckEvent(&ev), store.ErrInvalidEvent, tt.name)

			err := pgx.BeginFunc(t.Context(), bundle.pool, func(tx pgx.Tx) error {
				_, err := store.InsertEvents(t.Context(), tx, []telemetry.Event{ev})
				return err
			})
			require.ErrorIs(t, err, store.ErrInvalidEvent, tt.name)
			require.True(t, store.IsDataError(err), tt.name)
		}
		ev := newEvent(telemetry.KindGameplay, bundle.appID, bundle.at)
		ev.ID = "72AB8F81-EF36-4712-A046-399A62B9AFAA" // upper case is still a UUID
		require.NoError(t, store.CheckEvent(&ev))
	})

	t.Run("PlayerColumnsAndUpsert", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		first := newEvent(telemetry.KindPlayer, bundle.appID, bundle.at)
		later := first
		later.ID = uuid.NewString()
		later.Timestamp = bundle.at.Add(time.Hour)
		later.BuildID = "Win64_Shipping_1.0.3"
		later.Region = "" // absent: keeps the earlier region
		later.Hardware = json.RawMessage(`{"gpu":"RTX 5090"}`)
		insert(t, bundle.pool, []telemetry.Event{later, first})

		var (
			buildID, region       string
			hardware              json.RawMessage
			firstSeen, lastSeen   time.Time
			eventName, eventBuild string
		)
		require.NoError(t, bundle.pool.QueryRow(t.Context(), `
			SELECT build_id, region, hardware, first_seen, last_seen FROM players WHERE app_id = $1 AND player_id = $2`,
			bundle.appID, first.PlayerID).Scan(&buildID, &region, &hardware, &firstSeen, &lastSeen))
		require.Equal(t, "Win64_Shipping_1.0.3", buildID)
		require.Equal(t, "EU-West", region)
		require.JSONEq(t, `{"gpu":"RTX 5090"}`, string(hardware))
		require.True(t, first.Timestamp.Equal(firstSeen))
		require.True(t, later.Timestamp.Equal(lastSeen))

		require.NoError(t, bundle.pool.QueryRow(t.Context(), `SELECT event_name, build_id FROM player_events WHERE event_id = $1`,
			first.ID).Scan(&eventName, &eventBuild))
		require.Equal(t, "Create_Player", eventName)
		require.Equal(t, first.BuildID, eventBuild)

		// An older event arriving last widens first_seen but does not
		// override the newer identity.
		older := first
		older.ID = uuid.NewString()
		older.Timestamp = bundle.at.Add(-time.Hour)
		older.BuildID = "Win64_Shipping_0.9"
		older.Region = "US-East"
		res := insert(t, bundle.pool, []telemetry.Event{older})
		require.Equal(t, 1, res.Players)
		require.NoError(t, bundle.pool.QueryRow(t.Context(), `
			SELECT build_id, region, first_seen, last_seen FROM players WHERE app_id = $1 AND player_id = $2`,
			bundle.appID, first.PlayerID).Scan(&buildID, &region, &firstSeen, &lastSeen))
		require.Equal(t, "Win64_Shipping_1.0.3", buildID)
		require.Equal(t, "EU-West", region)
		require.True(t, older.Timestamp.Equal(firstSeen))
		require.True(t, later.Timestamp.Equal(lastSeen))
		require.Equal(t, 3, count(t, bundle.pool, "SELECT count(*) FROM player_events"))
	})

	t.Run("RealtimeColumns", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		ev := newEvent(telemetry.KindRealtime, bundle.appID, bundle.at)
		insert(t, bundle.pool, []telemetry.Event{ev})

		var (
			status, inputMethod, sessionID string
			mean, low5, low1               float64
			positions                      []float64
			numPoints                      int
			start, end                     time.Time
		)
		require.NoError(t, bundle.pool.QueryRow(t.Context(), `
			SELECT status, input_method, session_id, fps_mean, fps_low_5, fps_low_1, positions, num_points, timestamp_start, timestamp_end
			FROM trajectories WHERE event_id = $1`, ev.ID).Scan(&status, &inputMethod, &sessionID, &mean, &low5, &low1, &positions, &numPoints, &start, &end))
		require.Equal(t, "Gameplay", status)
		require.Equal(t, "Gamepad", inputMethod)
		require.Equal(t, ev.SessionID, sessionID)
		require.Equal(t, []float64{60, 55, 30}, []float64{mean, low5, low1})
		require.Equal(t, ev.Positions, positions)
		require.Equal(t, 3, numPoints)
		require.True(t, ev.TimestampStart.Equal(start))
		require.True(t, ev.TimestampEnd.Equal(end))
	})

	t.Run("RealtimeLevel", func(t *testing.T) {
		t.Parallel()

		// A trajectory's level_id (docs/telemetry.md's extension) is stored
		// as the client's (level_attributed false), by the direct COPY and
		// by the staged path that a repeated event takes; without one it
		// is NULL, for the dashboard to attribute.
		bundle := setup(t)
		direct := newEvent(telemetry.KindRealtime, bundle.appID, bundle.at)
		direct.LevelID = "Level_2"
		without := newEvent(telemetry.KindRealtime, bundle.appID, bundle.at)
		insert(t, bundle.pool, []telemetry.Event{direct, without})
		staged := newEvent(telemetry.KindRealtime, bundle.appID, bundle.at)
		staged.LevelID = "Level_3"
		insert(t, bundle.pool, []telemetry.Event{staged, staged, direct})

		level := func(id string) (*string, bool) {
			t.Helper()
			var (
				l          *string
				attributed bool
			)
			require.NoError(t, bundle.pool.QueryRow(t.Context(), `SELECT level_id, level_attributed FROM trajectories WHERE event_id = $1`, id).
				Scan(&l, &attributed))
			return l, attributed
		}
		for id, want := range map[string]string{direct.ID: "Level_2", staged.ID: "Level_3"} {
			l, attributed := level(id)
			require.NotNil(t, l)
			require.Equal(t, want, *l)
			require.False(t, attributed)
		}
		l, attributed := level(without.ID)
		require.Nil(t, l)
		require.False(t, attributed)
	})

	t.Run("SavepointIsolatesBadEvent", func(t *testing.T) {
		t.Parallel()

		bundle := setup(t)
		good := newEvent(telemetry.KindFunnel, bundle.appID, bundle.at)
		bad := newEvent(telemetry.KindFunnel, bundle.appID, bundle.at)
		bad.PlayerID = "bad\x00"
		err := pgx.BeginFunc(t.Context(), bundle.pool, func(tx pgx.Tx) error {
			for _, ev := range []telemetry.Event{bad, good} {
				err := pgx.BeginFunc(t.Context(), tx, func(sp pgx.Tx) error {
					_, err := store.InsertEvents(t.Context(), sp, []telemetry.Event{ev})
					return err
				})
				if err != nil && !store.IsDataError(err) {
					return err
				}
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 1, count(t, bundle.pool, "SELECT count(*) FROM funnel_steps WHERE event_id = $1", good.ID))
		require.Equal(t, 1, count(t, bundle.pool, "SELECT count(*) FROM funnel_steps"))
	})
}

func TestInsertDeadLetters(t *testing.T) {
	t.Parallel()

	pool := dbtest.NewSchema(t).Pool
	letters := []store.DeadLetter{
		{StreamSeq: 7, Subject: "telemetry.x.gameplay", Data: []byte{0xc1, 0x00}, Reason: "error decoding"},
		{StreamSeq: 8, Subject: "telemetry.\xff.gameplay", Data: nil, Reason: "nul\x00reason"},
	}
	n, err := store.InsertDeadLetters(t.Context(), pool, letters)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)

	n, err = store.InsertDeadLetters(t.Context(), pool, letters[:1])
	require.NoError(t, err)
	require.Zero(t, n, "a redelivered poison message is one row")

	var (
		subject, reason string
		data            []byte
	)
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT subject, data, reason FROM dead_letters WHERE stream_seq = 7").Scan(&subject, &data, &reason))
	require.Equal(t, "telemetry.x.gameplay", subject)
	require.Equal(t, []byte{0xc1, 0x00}, data)
	require.Equal(t, "error decoding", reason)
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT subject, reason FROM dead_letters WHERE stream_seq = 8").Scan(&subject, &reason))
	require.Equal(t, "telemetry.\uFFFD.gameplay", subject)
	require.Equal(t, "nul\uFFFDreason", reason)

	n, err = store.InsertDeadLetters(t.Context(), pool, nil)
	require.NoError(t, err)
	require.Zero(t, n)
}

// BenchmarkInsertEvents measures InsertEvents on batches of 1000 events of
// the four kinds (mostly gameplay, as in a game's traffic), each batch in a
// transaction rolled back so every iteration writes the same rows.
//
//	go test -run '^$' -bench BenchmarkInsertEvents -benchtime 200x ./internal/store/
func BenchmarkInsertEvents(b *testing.B) {
	pool := dbtest.NewSchema(b).Pool
	ctx := context.Background()
	appID := uuid.NewString()
	at := time.Now().UTC()
	require.NoError(b, store.EnsurePartitions(ctx, pool, at, at))

	events := make([]telemetry.Event, 1000)
	for i := range events {
		kind := telemetry.KindGameplay
		switch i % 10 {
		case 0:
			kind = telemetry.KindPlayer
		case 1, 2:
			kind = telemetry.KindFunnel
		case 3:
			kind = telemetry.KindRealtime
		}
		events[i] = newEvent(kind, appID, at.Add(time.Duration(i)*time.Millisecond))
	}

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tx, err := pool.Begin(ctx)
		require.NoError(b, err)
		_, err = store.InsertEvents(ctx, tx, events)
		require.NoError(b, err)
		require.NoError(b, tx.Rollback(ctx))
	}
	b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// A sink connection (PrepareSinkConn) encodes positions itself: what it
// stores must read back as what a plain connection stores.
func TestPrepareSinkConnPositions(t *testing.T) {
	t.Parallel()

	schema := dbtest.NewSchema(t)
	cfg, err := pgxpool.ParseConfig(schema.URL)
	require.NoError(t, err)
	cfg.AfterConnect = store.PrepareSinkConn
	sinkPool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(sinkPool.Close)

	appID := uuid.NewString()
	at := time.Date(2026, 2, 12, 10, 0, 0, 0, time.UTC)
	cases := [][]float64{
		{},
		{1, 2, 3},
		{-0.5, 1e300, -1e-300, 0, math.MaxFloat64, math.SmallestNonzeroFloat64},
	}
	long := make([]float64, 3*5000)
	for i := range long {
		long[i] = float64(i) * 0.25
	}
	cases = append(cases, long)
	for _, pool := range []*pgxpool.Pool{sinkPool, schema.Pool} {
		var events []telemetry.Event
		for _, positions := range cases {
			ev := newEvent(telemetry.KindRealtime, appID, at)
			ev.Positions = positions
			events = append(events, ev)
		}
		insert(t, pool, events)
		for i, ev := range events {
			var got []float64
			var numPoints int
			require.NoError(t, schema.Pool.QueryRow(t.Context(), `SELECT positions, num_points FROM trajectories WHERE event_id = $1`,
				ev.ID).Scan(&got, &numPoints))
			require.Equal(t, cases[i], got, "case %d", i)
			require.Equal(t, len(cases[i])/3, numPoints, "case %d", i)
		}
	}
}
