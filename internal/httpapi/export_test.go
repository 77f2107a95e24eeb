package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/store"
)

func TestExport(t *testing.T) {
	t.Parallel()

	serve := func(t *testing.T, flush func(context.Context) (int, error)) *httptest.Server {
		t.Helper()
		api, err := New(testConfig(t, &Config{}), &Deps{
			Logger:       zerolog.Nop(),
			Publisher:    nopPublisher{},
			KeyLookup:    func(context.Context, auth.Hash) (*store.KeyInfo, error) { return nil, store.ErrNotFound },
			FlushExports: flush,
		})
		require.NoError(t, err)
		srv := httptest.NewServer(api)
		t.Cleanup(srv.Close)
		return srv
	}
	post := func(t *testing.T, srv *httptest.Server) (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/api/export", "", nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(raw)
	}

	t.Run("AnswersOnlyWhatWasTriggered", func(t *testing.T) {
		t.Parallel()
		srv := serve(t, func(context.Context) (int, error) { return 2, nil })
		status, body := post(t, srv)
		require.Equal(t, http.StatusAccepted, status)
		require.JSONEq(t, `{"status":"triggered","exporters":2}`, body)
	})

	t.Run("UnreachableExportersSayNothingOfWhy", func(t *testing.T) {
		t.Parallel()
		srv := serve(t, func(context.Context) (int, error) {
			return 0, errors.New("error publishing flush request: nats: connection to exporter-host-1:4222 closed")
		})
		status, body := post(t, srv)
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.JSONEq(t, `{"error":"export_unavailable","message":"could not reach the exporters; retry later"}`, body)
	})
}
