package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/kinetix"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/upstream"
)

// clientFor is the Kinetix client with the app's own key, or the shared
// key with the app's players in the app's own namespace, as the emote jobs
// send them (docs/upstreams-kinetix.md, "Player ids upstream"). A disabled
// app (within the key cache's TTL of being disabled) is 403.
func (a *emoteAPI) clientFor(ctx context.Context, appID uuid.UUID) (*kinetix.Client, error) {
	key, _, err := store.AppUpstreamKeys(ctx, a.s.jobs.Pool, a.s.jobs.Secrets, appID)
	if errors.Is(err, store.ErrAppDisabled) {
		return nil, newError(http.StatusForbidden, "app_disabled", "this app is disabled")
	}
	if err != nil {
		return nil, err
	}
	if key == "" {
		return a.kinetix.WithAPIKey(a.apiKey).WithUserNamespace(appID.String()), nil
	}
	return a.kinetix.WithAPIKey(key), nil
}

// handlePlan is GET /v1/kinetix/plan: the app's Kinetix subscription plan
// (POST /v1/plans upstream), passed through as the upstream answers it.
func (a *emoteAPI) handlePlan(w http.ResponseWriter, r *http.Request) {
	app, err := a.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	c, err := a.clientFor(r.Context(), app.AppID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	plan, err := c.Plan(r.Context())
	if err != nil {
		writeError(w, r, kinetixError(r, err))
		return
	}
	writeJSON(w, http.StatusOK, plan.Raw)
}

// handleQR is GET /v1/kinetix/qr?user_id=: the upstream's developer QR
// code (GET /v1/process/dev-token) for the player in the app's virtual
// world, streamed with the upstream's Content-Type (an image, or JSON with
// the URL to encode).
func (a *emoteAPI) handleQR(w http.ResponseWriter, r *http.Request) {
	app, err := a.s.auth.secretApp(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	userID := r.URL.Query().Get("user_id")
	if userID == "" || len(userID) > 200 {
		writeError(w, r, &APIError{Status: http.StatusBadRequest, Code: "invalid_query", Field: "user_id",
			Message: "user_id is required (1 to 200 characters)"})
		return
	}
	c, err := a.clientFor(r.Context(), app.AppID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	qr, err := c.DevTokenQR(r.Context(), userID)
	if err != nil {
		writeError(w, r, kinetixError(r, err))
		return
	}
	body := qr.Body
	defer body.Close()
	w.Header().Set("Content-Type", qr.ContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store") // it carries a fresh token
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, io.LimitReader(body, 4<<20)); err != nil {
		zerolog.Ctx(r.Context()).Warn().Err(err).Msg("httpapi: error streaming the Kinetix QR code")
	}
}

// kinetixError turns an upstream failure into the client's answer: 429
// with Retry-After when Kinetix rate-limits, 400 for a request it refused,
// 502 when it refuses gamepipe's key, fails or cannot be reached.
func kinetixError(r *http.Request, err error) error {
	var ue *upstream.Error
	if !errors.As(err, &ue) {
		return err
	}
	zerolog.Ctx(r.Context()).Warn().Err(err).Msg("httpapi: Kinetix call failed")
	switch {
	case ue.RateLimited():
		e := newError(http.StatusTooManyRequests, "kinetix_rate_limited", "Kinetix is rate limiting; retry after the Retry-After delay")
		e.RetryAfter = ratelimit.RetryAfterSeconds(ue.RetryAfter)
		return e
	case errors.Is(err, kinetix.ErrInvalidAPIKey):
		return newError(http.StatusBadGateway, "kinetix_key_rejected", "Kinetix refused this app's key")
	case ue.Status == http.StatusBadRequest:
		return newError(http.StatusBadRequest, "kinetix_rejected", "Kinetix refused the request: "+ue.Message)
	}
	e := newError(http.StatusBadGateway, "kinetix_unavailable", "Kinetix did not answer properly; retry later")
	e.RetryAfter = 5
	return e
}
