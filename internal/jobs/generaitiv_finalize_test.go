package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestGeneraitivFinalizeWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	finalizing := func(link string) func(g *store.Generation) {
		return func(g *store.Generation) { g.Status, g.UpstreamLink = store.GenerationFinalizing, link }
	}
	work := func(t *testing.T, bundle *genBundle, id uuid.UUID) (river.EventKind, error) {
		t.Helper()
		res, err := newTestWorker(t, bundle, &GeneraitivFinalizeWorker{deps: bundle.deps}).
			Work(ctx, t, bundle.tx(t), GeneraitivFinalizeArgs{GenerationID: id}, nil)
		if err != nil {
			return "", err
		}
		return res.EventKind, nil
	}

	t.Run("AnnouncesOtherStates", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, nil)
		ns := natstest.Run(t)
		js, err := jetstream.New(ns.Connect(t))
		require.NoError(t, err)
		stream, err := eventstream.EnsureNotifyStream(ctx, js)
		require.NoError(t, err)
		bundle.deps.Notifier = eventstream.NewNotifier(js)
		g := bundle.insertGeneration(t, nil, func(g *store.Generation) { g.Fail("upstream_failed", "nope", time.Now()) })
		kind, err := work(t, bundle, g.ID)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, kind)
		msg, err := stream.GetLastMsgForSubject(ctx, eventstream.NotifySubject(bundle.appID.String(), "generation", "failed"))
		require.NoError(t, err)
		var note eventstream.Notification
		require.NoError(t, json.Unmarshal(msg.Data, &note))
		require.Equal(t, g.ID.String(), note.ID)
		require.Equal(t, map[string]any{"code": "upstream_failed", "message": "nope"}, note.Data.(map[string]any)["error"])
	})

	t.Run("DownloadsIntoBlobStorage", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, nil)
		g := bundle.insertGeneration(t, nil, finalizing(bundle.completedLink(t)))
		kind, err := work(t, bundle, g.ID)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, kind)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobSucceeded, g.Status)
		require.Equal(t, "image/png", g.ImageContentType)
		body, info, err := bundle.deps.Blob.Open(ctx, g.ImageKey)
		require.NoError(t, err)
		defer body.Close()
		require.Equal(t, g.ImageSize, info.Size)
		img, err := png.Decode(body)
		require.NoError(t, err)
		require.Equal(t, 96, img.Bounds().Dx())
		require.Nil(t, g.TokenID, "nothing published without a publish request")
	})

	t.Run("ImageTooLargeFails", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, &genSetupOpts{maxImageBytes: 100})
		g := bundle.insertGeneration(t, nil, finalizing(bundle.completedLink(t)))
		kind, err := work(t, bundle, g.ID)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCancelled, kind)
		g = bundle.get(t, g.ID)
		require.Equal(t, store.JobFailed, g.Status)
		require.Equal(t, "image_too_large", g.ErrorCode)
	})

	t.Run("PublishChainResumesAfterEachStep", func(t *testing.T) {
		t.Parallel()
		for _, point := range []FaultPoint{FaultPublishReserve, FaultPublishCreate, FaultPublishUpload} {
			t.Run(string(point), func(t *testing.T) {
				t.Parallel()
				bundle := genSetup(t, nil)
				crash := errors.New("crash at " + string(point))
				var crashed atomic.Bool
				bundle.deps.Generaitiv.Fault = func(p FaultPoint, _ uuid.UUID) error {
					if p == point && crashed.CompareAndSwap(false, true) {
						return crash
					}
					return nil
				}
				pub := &GeneraitivPublish{Collection: "fox-gallery", Name: "Fox #1", Description: "a fox",
					Attributes: []GeneraitivAttribute{{TraitType: "Mood", Value: "calm"}}}
				g := bundle.insertGeneration(t, pub, finalizing(bundle.completedLink(t)))
				_, err := work(t, bundle, g.ID)
				require.ErrorIs(t, err, crash)
				require.Equal(t, store.GenerationFinalizing, bundle.get(t, g.ID).Status)

				kind, err := work(t, bundle, g.ID)
				require.NoError(t, err)
				require.Equal(t, river.EventKindJobCompleted, kind)
				g = bundle.get(t, g.ID)
				require.Equal(t, store.JobSucceeded, g.Status)
				require.NotNil(t, g.TokenID)
				require.True(t, g.TokenCreated)
				require.True(t, g.UploadDone)
				require.Equal(t, "fox-gallery", g.TokenCollection)
				require.Equal(t, 1, bundle.sim.Stats().TokensCreated, "exactly one token, however the chain was interrupted")
				uploaded, ok := bundle.sim.UploadedImage(*g.TokenID)
				require.True(t, ok)
				body, _, err := bundle.deps.Blob.Open(ctx, g.ImageKey)
				require.NoError(t, err)
				defer body.Close()
				stored := make([]byte, g.ImageSize)
				_, err = body.Read(stored)
				require.NoError(t, err)
				require.Equal(t, stored, uploaded)
				tok, err := bundle.client.Token(ctx, "fox-gallery", *g.TokenID)
				require.NoError(t, err)
				require.Equal(t, "Fox #1", tok.Metadata.Name)
			})
		}
	})

	t.Run("TwoGenerationsNeverShareATokenID", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, nil)
		pub := &GeneraitivPublish{Collection: "pair", Name: "same name"}
		link := bundle.completedLink(t)
		g1 := bundle.insertGeneration(t, pub, finalizing(link))
		g2 := bundle.insertGeneration(t, pub, finalizing(link))
		w := newTestWorker(t, bundle, &GeneraitivFinalizeWorker{deps: bundle.deps})
		results := make(chan river.EventKind, 2)
		for _, id := range []uuid.UUID{g1.ID, g2.ID} {
			go func() {
				for range 50 { // a loser snoozes until the winner's token exists
					res, err := w.Work(ctx, t, bundle.tx(t), GeneraitivFinalizeArgs{GenerationID: id}, nil)
					if err != nil || res.EventKind != river.EventKindJobSnoozed {
						results <- res.EventKind
						return
					}
				}
				results <- river.EventKindJobSnoozed
			}()
		}
		for range 2 {
			select {
			case kind := <-results:
				require.Equal(t, river.EventKindJobCompleted, kind)
			case <-time.After(2 * time.Minute):
				t.Fatal("finalize did not finish")
			}
		}
		a, b := bundle.get(t, g1.ID), bundle.get(t, g2.ID)
		require.NotEqual(t, *a.TokenID, *b.TokenID)
		require.Equal(t, 2, bundle.sim.Stats().TokensCreated)
	})

	t.Run("UnsafeLinkRefusedWithoutConnecting", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		var accepts atomic.Int32
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepts.Add(1)
				_ = c.Close()
			}
		}()
		t.Cleanup(func() { _ = ln.Close() })
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		bundle := genSetup(t, nil)
		for _, link := range []string{
			"http://127.0.0.1:" + port + "/x",
			"http://169.254.169.254/",
			"http://localhost:" + port + "/x",
		} {
			g := bundle.insertGeneration(t, nil, finalizing(link))
			kind, err := work(t, bundle, g.ID)
			require.NoError(t, err)
			require.Equal(t, river.EventKindJobCancelled, kind, link)
			g = bundle.get(t, g.ID)
			require.Equal(t, store.JobFailed, g.Status, link)
			require.Equal(t, "unsafe_link", g.ErrorCode, link)
			require.Contains(t, g.ErrorMessage, "unsafe link", link)
		}
		require.Zero(t, accepts.Load(), "no connection was made to a forbidden address")
	})

	t.Run("RateLimitedLinkSnoozes", func(t *testing.T) {
		t.Parallel()
		host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}))
		t.Cleanup(host.Close)
		bundle := genSetup(t, &genSetupOpts{allowHosts: []string{host.Listener.Addr().String()}})
		g := bundle.insertGeneration(t, nil, finalizing(host.URL+"/image.png"))
		before := time.Now()
		res, err := newTestWorker(t, bundle, &GeneraitivFinalizeWorker{deps: bundle.deps}).
			Work(ctx, t, bundle.tx(t), GeneraitivFinalizeArgs{GenerationID: g.ID}, nil)
		after := time.Now()
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Empty(t, res.Job.Errors, "no attempt used")
		require.False(t, res.Job.ScheduledAt.Before(before.Add(3*time.Second)))
		require.False(t, res.Job.ScheduledAt.After(after.Add(3*time.Second)))
		require.Equal(t, store.GenerationFinalizing, bundle.get(t, g.ID).Status)
	})

	t.Run("UpstreamImageGoneFails", func(t *testing.T) {
		t.Parallel()
		bundle := genSetup(t, nil)
		g := bundle.insertGeneration(t, nil, finalizing(bundle.simURL+"/images/asset/0xdoesnotexist.png"))
		kind, err := work(t, bundle, g.ID)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCancelled, kind)
		g = bundle.get(t, g.ID)
		require.Equal(t, "image_unavailable", g.ErrorCode)
		require.Contains(t, g.ErrorMessage, "404")
	})
}
