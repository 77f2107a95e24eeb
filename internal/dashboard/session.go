package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/gamepipe/gamepipe/internal/auth"
	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
)

// cookieName is the session cookie. It holds a random token, never the key.
const cookieName = "gamepipe_dashboard"

// tokenLen is the length of an encoded session token (32 random bytes).
const tokenLen = 43

// pagePath is the dashboard's page; sign-in and sign-out return to it.
const pagePath = "/dashboard/analytics"

// handleSignIn is POST /dashboard/signin: a form with the app's secret key
// (field key) and the view to return to (field next, a query string). A
// valid key gets a session cookie and a redirect to the view; anything else
// a redirect to the sign-in form with signin_error set.
func (h *Handler) handleSignIn(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	if err := h.csrf.Check(r); err != nil {
		h.writeError(w, r, errCrossOrigin)
		return
	}
	if ok, wait := h.limiter.Allow(h.cfg.ClientIP.FromRequest(r), h.cfg.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(wait)))
		signInFailed(w, r, "rate_limited")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		signInFailed(w, r, "invalid_request")
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	info, err := h.lookupKey(r.Context(), key)
	switch {
	case errors.Is(err, errUnavailable):
		signInFailed(w, r, "unavailable")
		return
	case err != nil:
		signInFailed(w, r, "invalid_key")
		return
	}
	token, err := h.createSession(r.Context(), info.AppID, auth.HashKey(key))
	if err != nil {
		zerolog.Ctx(r.Context()).Error().Err(err).Msg("dashboard: error creating session")
		signInFailed(w, r, "unavailable")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: token, Path: "/dashboard",
		MaxAge:   int(h.cfg.SessionTTL.Seconds()),
		HttpOnly: true, Secure: h.cfg.SecureCookie, SameSite: http.SameSiteStrictMode,
	})
	zerolog.Ctx(r.Context()).Info().Str("app_id", info.AppID.String()).Str("key_prefix", auth.DisplayPrefix(key)).
		Msg("dashboard: signed in")
	http.Redirect(w, r, pagePath+returnView(r.PostForm.Get("next")), http.StatusSeeOther)
}

// handleSignOut is POST /dashboard/signout: it deletes the session and
// clears the cookie.
func (h *Handler) handleSignOut(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	if err := h.csrf.Check(r); err != nil {
		h.writeError(w, r, errCrossOrigin)
		return
	}
	if c, err := r.Cookie(cookieName); err == nil && len(c.Value) == tokenLen {
		th := sha256.Sum256([]byte(c.Value))
		if _, err := h.db.Exec(r.Context(), "DELETE FROM dashboard_sessions WHERE token_hash = $1", th[:]); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: "/dashboard", MaxAge: -1,
		HttpOnly: true, Secure: h.cfg.SecureCookie, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, pagePath, http.StatusSeeOther)
}

// signInFailed sends the browser back to the sign-in form with a reason
// the page shows.
func signInFailed(w http.ResponseWriter, r *http.Request, reason string) {
	http.Redirect(w, r, pagePath+"?signin_error="+reason, http.StatusSeeOther)
}

// returnView keeps next when it is a plain query string (so a redirect can
// only land on the dashboard's own page), and drops it otherwise.
func returnView(next string) string {
	if len(next) < 2 || len(next) > 2048 || next[0] != '?' || strings.ContainsAny(next, "\r\n#\\") {
		return ""
	}
	q, err := url.ParseQuery(next[1:])
	if err != nil {
		return ""
	}
	q.Del("signin_error")
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// lookupKey resolves a secret key: errUnauthorized for anything that is
// not a valid key, errPublicToken for a public token, errUnavailable when
// Postgres cannot be asked.
func (h *Handler) lookupKey(ctx context.Context, key string) (*store.KeyInfo, error) {
	if !auth.Plausible(key) {
		return nil, errUnauthorized
	}
	info, err := store.KeyLookup(ctx, h.db, auth.HashKey(key))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errUnauthorized
	case err != nil:
		zerolog.Ctx(ctx).Warn().Err(err).Msg("dashboard: error looking up key")
		return nil, errUnavailable
	case info.Kind != auth.KindSecret:
		return nil, errPublicToken
	}
	return info, nil
}

// createSession stores a new session for the key and returns its token.
// Expired sessions are deleted on the way.
func (h *Handler) createSession(ctx context.Context, app uuid.UUID, keyHash auth.Hash) (string, error) {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on supported platforms
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	th := sha256.Sum256([]byte(token))
	err := pgx.BeginFunc(ctx, h.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM dashboard_sessions WHERE expires_at < now()"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO dashboard_sessions (token_hash, app_id, key_hash, expires_at)
			VALUES ($1, $2, $3, now() + make_interval(secs => $4))`, th[:], app, keyHash[:], h.cfg.SessionTTL.Seconds())
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// authenticate returns the app a request may read: by the secret key
// (x-api-key or Authorization: Bearer) when one is sent, otherwise by the
// session cookie. A session counts only while the key that created it is
// valid.
func (h *Handler) authenticate(r *http.Request) (uuid.UUID, error) {
	key := r.Header.Get("X-Api-Key")
	if hv := r.Header.Get("Authorization"); key == "" && len(hv) > 7 && strings.EqualFold(hv[:7], "bearer ") {
		key = strings.TrimSpace(hv[7:])
	}
	if key != "" {
		info, err := h.lookupKey(r.Context(), key)
		if err != nil {
			return uuid.Nil, err
		}
		return info.AppID, nil
	}
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) != tokenLen {
		return uuid.Nil, errUnauthorized
	}
	th := sha256.Sum256([]byte(c.Value))
	var (
		app     uuid.UUID
		keyHash auth.Hash
		stored  []byte
	)
	err = h.db.QueryRow(r.Context(), `SELECT app_id, key_hash FROM dashboard_sessions
		WHERE token_hash = $1 AND expires_at > now()`, th[:]).Scan(&app, &stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return uuid.Nil, errUnauthorized
	case err != nil:
		zerolog.Ctx(r.Context()).Warn().Err(err).Msg("dashboard: error looking up session")
		return uuid.Nil, errUnavailable
	}
	// The key that created the session must still authenticate, by the
	// store's own rules (not expired by a rotation, app not disabled).
	copy(keyHash[:], stored)
	info, err := store.KeyLookup(r.Context(), h.db, keyHash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return uuid.Nil, errUnauthorized
	case err != nil:
		zerolog.Ctx(r.Context()).Warn().Err(err).Msg("dashboard: error looking up the session's key")
		return uuid.Nil, errUnavailable
	case info.AppID != app || info.Kind != auth.KindSecret:
		return uuid.Nil, errUnauthorized
	}
	return app, nil
}

// view computes one JSON view for an app from the request's query.
type view func(ctx context.Context, app uuid.UUID, q url.Values) (any, error)

// api wraps a view: authentication, then the view's answer as JSON.
func (h *Handler) api(v view) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		app, err := h.authenticate(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		out, err := v(r.Context(), app, r.URL.Query())
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// sessionView is GET /dashboard/api/session: whether the request is signed
// in, and to which app. Without any credential it answers 200 with
// signed_in false, so the page can ask before showing the sign-in form; a
// key or session that is not valid is a 401 as on every view.
type sessionView struct {
	SignedIn bool      `json:"signed_in"`
	AppID    uuid.UUID `json:"app_id"`
	AppName  string    `json:"app_name"`
}

func (h *Handler) handleSession(w http.ResponseWriter, r *http.Request) {
	_, cookieErr := r.Cookie(cookieName)
	if cookieErr != nil && r.Header.Get("X-Api-Key") == "" && r.Header.Get("Authorization") == "" {
		writeJSON(w, http.StatusOK, sessionView{})
		return
	}
	h.api(h.viewSession)(w, r)
}

func (h *Handler) viewSession(ctx context.Context, app uuid.UUID, _ url.Values) (any, error) {
	v := sessionView{SignedIn: true, AppID: app}
	if err := h.db.QueryRow(ctx, "SELECT name FROM apps WHERE id = $1", app).Scan(&v.AppName); err != nil {
		return nil, err
	}
	return v, nil
}
