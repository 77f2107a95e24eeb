package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/store"
)

// publicHook is a public address literal: no DNS needed, and the guard lets
// it through.
const publicHook = "https://93.184.216.34/hooks/gamepipe"

func TestWebhookEndpointsCRUD(t *testing.T) {
	t.Parallel()
	b := genSetup(t, nil)

	code, body, hdr := b.do(t, b.appA, "POST", "/v1/webhooks", map[string]any{
		"url": publicHook, "event_types": []string{"emote.*", "generation.succeeded"}, "description": "game server",
	}, nil)
	require.Equal(t, http.StatusCreated, code, body)
	id := body["id"].(string)
	secret, _ := body["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	require.Equal(t, "/v1/webhooks/"+id, hdr.Get("Location"))
	require.Equal(t, true, body["enabled"])

	// The secret is shown once.
	code, body, _ = b.do(t, b.appA, "GET", "/v1/webhooks/"+id, nil, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.NotContains(t, body, "secret")
	require.Equal(t, publicHook, body["url"])
	code, body, _ = b.do(t, b.appA, "GET", "/v1/webhooks", nil, nil)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["data"], 1)

	// Stored usable to sign, and it is the one shown.
	e, err := store.WebhookEndpointGetForApp(context.Background(), b.pool, nil, b.appA.AppID, uuid.MustParse(id))
	require.NoError(t, err)
	require.Equal(t, secret, e.Secret)

	code, body, _ = b.do(t, b.appA, "PATCH", "/v1/webhooks/"+id, map[string]any{"enabled": false, "event_types": []string{"generation.*"}}, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, false, body["enabled"])
	require.Equal(t, []any{"generation.*"}, body["event_types"])

	// Rotation: a new secret, the old one still signing during the overlap.
	code, body, _ = b.do(t, b.appA, "POST", "/v1/webhooks/"+id+"/rotate-secret", map[string]any{"overlap_seconds": 3600}, nil)
	require.Equal(t, http.StatusOK, code, body)
	next := body["secret"].(string)
	require.NotEqual(t, secret, next)
	require.NotNil(t, body["previous_secret_expires_at"])
	e, err = store.WebhookEndpointGetForApp(context.Background(), b.pool, nil, b.appA.AppID, uuid.MustParse(id))
	require.NoError(t, err)
	require.Equal(t, []string{next, secret}, e.Secrets(time.Now()))

	code, _, _ = b.do(t, b.appA, "DELETE", "/v1/webhooks/"+id, nil, nil)
	require.Equal(t, http.StatusNoContent, code)
	code, body, _ = b.do(t, b.appA, "GET", "/v1/webhooks/"+id, nil, nil)
	require.Equal(t, http.StatusNotFound, code, body)
}

func TestWebhookEndpointsRefuseBadInput(t *testing.T) {
	t.Parallel()
	b := genSetup(t, nil)
	for name, req := range map[string]map[string]any{
		"loopback":        {"url": "https://127.0.0.1/hook", "event_types": []string{"emote.*"}},
		"resolves local":  {"url": "https://localhost:8443/hook", "event_types": []string{"emote.*"}},
		"metadata":        {"url": "https://169.254.169.254/latest", "event_types": []string{"emote.*"}},
		"private":         {"url": "https://10.1.2.3/hook", "event_types": []string{"emote.*"}},
		"plain http":      {"url": "http://93.184.216.34/hook", "event_types": []string{"emote.*"}},
		"no url":          {"event_types": []string{"emote.*"}},
		"no types":        {"url": publicHook},
		"unknown type":    {"url": publicHook, "event_types": []string{"emote.finished"}},
		"unknown kind":    {"url": publicHook, "event_types": []string{"model.*"}},
		"credentials":     {"url": "https://u:p@93.184.216.34/hook", "event_types": []string{"emote.*"}},
		"not a url":       {"url": "hook", "event_types": []string{"emote.*"}},
		"unknown field":   {"url": publicHook, "event_types": []string{"emote.*"}, "secret": "whsec_x"},
		"long descriptio": {"url": publicHook, "event_types": []string{"emote.*"}, "description": strings.Repeat("x", 501)},
	} {
		code, body, _ := b.do(t, b.appA, "POST", "/v1/webhooks", req, nil)
		require.Equal(t, http.StatusBadRequest, code, "%s: %v", name, body)
		require.NotEmpty(t, body["error"], name)
		require.NotEmpty(t, body["message"], name)
	}
	n, err := store.WebhookEndpointCount(context.Background(), b.pool, b.appA.AppID)
	require.NoError(t, err)
	require.Zero(t, n)

	code, _, _ := b.do(t, nil, "GET", "/v1/webhooks", nil, nil)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _, _ = b.do(t, b.appA, "GET", "/v1/webhooks/not-a-uuid", nil, nil)
	require.Equal(t, http.StatusNotFound, code)
}

func TestWebhookEndpointsAreTheAppsOwn(t *testing.T) {
	t.Parallel()
	b := genSetup(t, nil)
	code, body, _ := b.do(t, b.appA, "POST", "/v1/webhooks", map[string]any{"url": publicHook, "event_types": []string{"*"}}, nil)
	require.Equal(t, http.StatusCreated, code, body)
	id := body["id"].(string)
	code, body, _ = b.do(t, b.appA, "POST", "/v1/webhooks/"+id+"/test", nil, nil)
	require.Equal(t, http.StatusAccepted, code, body)
	deliveryID := body["id"].(string)

	code, body, _ = b.do(t, b.appB, "GET", "/v1/webhooks", nil, nil)
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, body["data"])
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/webhooks/" + id},
		{"PATCH", "/v1/webhooks/" + id},
		{"DELETE", "/v1/webhooks/" + id},
		{"POST", "/v1/webhooks/" + id + "/rotate-secret"},
		{"POST", "/v1/webhooks/" + id + "/test"},
		{"GET", "/v1/webhooks/" + id + "/deliveries"},
		{"POST", "/v1/webhooks/" + id + "/deliveries/" + deliveryID + "/retry"},
	} {
		var req any
		if c.method == "PATCH" {
			req = map[string]any{"enabled": false}
		}
		code, body, _ := b.do(t, b.appB, c.method, c.path, req, nil)
		require.Equal(t, http.StatusNotFound, code, "%s %s: %v", c.method, c.path, body)
	}
	code, body, _ = b.do(t, b.appA, "GET", "/v1/webhooks/"+id, nil, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, true, body["enabled"])
}

func TestWebhookTestDeliveriesAndRetry(t *testing.T) {
	t.Parallel()
	b := genSetup(t, nil)
	code, body, _ := b.do(t, b.appA, "POST", "/v1/webhooks", map[string]any{"url": publicHook, "event_types": []string{"generation.succeeded"}}, nil)
	require.Equal(t, http.StatusCreated, code, body)
	id := body["id"].(string)

	code, body, _ = b.do(t, b.appA, "POST", "/v1/webhooks/"+id+"/test", nil, nil)
	require.Equal(t, http.StatusAccepted, code, body)
	require.Equal(t, "webhook.ping", body["type"])
	require.Equal(t, "pending", body["status"])
	require.True(t, strings.HasPrefix(body["webhook_id"].(string), "msg_"))
	deliveryID, webhookID := body["id"].(string), body["webhook_id"]

	// A generation the endpoint does not subscribe to (queued) adds nothing.
	b.create(t, b.appA, validGeneration())

	code, body, _ = b.do(t, b.appA, "GET", "/v1/webhooks/"+id+"/deliveries", nil, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["data"], 1)
	code, body, _ = b.do(t, b.appA, "GET", "/v1/webhooks/"+id+"/deliveries?status=succeeded", nil, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Empty(t, body["data"])
	code, body, _ = b.do(t, b.appA, "GET", "/v1/webhooks/"+id+"/deliveries?status=done", nil, nil)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Equal(t, "invalid_query", body["error"])

	code, body, _ = b.do(t, b.appA, "POST", "/v1/webhooks/"+id+"/deliveries/"+deliveryID+"/retry", nil, nil)
	require.Equal(t, http.StatusAccepted, code, body)
	require.Equal(t, webhookID, body["webhook_id"], "a retry sends the same event")
	code, _, _ = b.do(t, b.appA, "POST", "/v1/webhooks/"+id+"/deliveries/"+uuid.NewString()+"/retry", nil, nil)
	require.Equal(t, http.StatusNotFound, code)

	var jobs int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		"SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver' AND args->>'delivery_id' = $1", deliveryID).Scan(&jobs))
	require.Equal(t, 2, jobs, "the ping's job and the retry's")
}
