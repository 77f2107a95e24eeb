package benchrun

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/natstest"
)

func TestMinimalIngest(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ns := natstest.Run(t)
	js, err := jetstream.New(ns.Connect(t))
	require.NoError(t, err)
	_, err = eventstream.EnsureStream(ctx, js, &eventstream.StreamConfig{Duplicates: time.Minute})
	require.NoError(t, err)
	require.NoError(t, copyTelemetryStream(ctx, js, minimalStream, minimalSubject+".>", "test"))

	addr, err := freeAddr()
	require.NoError(t, err)
	appID := "72ab8f81-ef36-4712-a046-399a62b9afaa"
	env := map[string]string{"NATS_URL": ns.ClientURL(), minimalEnvAddr: addr, minimalEnvApp: appID}
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- RunMinimalIngest(srvCtx, func(k string) string { return env[k] }) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)

	bodies := [][]byte{[]byte("\x81\xa4kind\xa6funnel"), bytes.Repeat([]byte{7}, 5000)}
	for _, body := range bodies {
		resp, err := http.Post("http://"+addr+"/api/events", "application/msgpack", bytes.NewReader(body))
		require.NoError(t, err)
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, minimalAnswer, answer, "the api's answer to an accepted request")
	}

	stream, err := js.Stream(ctx, minimalStream)
	require.NoError(t, err)
	idShape := regexp.MustCompile(`^` + appID + `:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i, body := range bodies {
		msg, err := stream.GetMsg(ctx, uint64(i+1))
		require.NoError(t, err)
		require.Equal(t, body, msg.Data, "the body as it came")
		require.Equal(t, minimalSubject+"."+appID+".event", msg.Subject)
		id := msg.Header.Get(jetstream.MsgIDHeader)
		require.Regexp(t, idShape, id, "the api's Nats-Msg-Id shape")
		require.False(t, seen[id], "every message has its own id")
		seen[id] = true
	}
	tel, err := js.Stream(ctx, eventstream.StreamName)
	require.NoError(t, err)
	ti, err := tel.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, ti.State.Msgs, "nothing reaches TELEMETRY")
}
