package kinetix_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/kinetix"
	"github.com/gamepipe/gamepipe/internal/upstream"
)

func TestClientRedirect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		client *kinetix.Client
		// otherHits and otherKeys count what the other host received.
		otherHits, otherKeys atomic.Int32
	}
	setup := func(t *testing.T, status int, httpClient *http.Client) *testBundle {
		t.Helper()
		bundle := &testBundle{}
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			bundle.otherHits.Add(1)
			if r.Header.Get("X-Api-Key") != "" || r.Header.Get("X-Api-Token") != "" {
				bundle.otherKeys.Add(1)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{}`))
		}))
		t.Cleanup(other.Close)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, status)
		}))
		t.Cleanup(front.Close)
		client, err := kinetix.New(&kinetix.Config{BaseURL: front.URL, APIKey: "world-secret",
			Timeout: 5 * time.Second, HTTPClient: httpClient})
		require.NoError(t, err)
		bundle.client = client
		return bundle
	}

	t.Run("CallerClientNotChanged", func(t *testing.T) {
		t.Parallel()
		given := &http.Client{}
		bundle := setup(t, http.StatusFound, given)
		_, err := bundle.client.Plan(ctx)
		require.Error(t, err)
		require.Nil(t, given.CheckRedirect, "the caller's client is left as it was")
		require.Zero(t, bundle.otherHits.Load())
	})

	t.Run("NotFollowedToAnotherHost", func(t *testing.T) {
		t.Parallel()
		for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			bundle := setup(t, status, nil)
			_, err := bundle.client.Plan(ctx)
			var ue *upstream.Error
			require.ErrorAs(t, err, &ue, "status %d", status)
			require.Equal(t, status, ue.Status)
			_, err = bundle.client.CreateToken(ctx, "p1")
			require.Error(t, err)
			require.Zero(t, bundle.otherHits.Load(), "status %d", status)
			require.Zero(t, bundle.otherKeys.Load(), "status %d", status)
		}
	})
}
