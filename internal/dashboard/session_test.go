package dashboard

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/ratelimit"
	"github.com/gamepipe/gamepipe/internal/store"
)

// sessionCookie returns the response's session cookie, failing without one.
func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", cookieName, resp.Header.Values("Set-Cookie"))
	return nil
}

// withCookie calls GET /dashboard/api/session with the cookie only.
func (f *fixture) withCookie(t *testing.T, c *http.Cookie) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.server.URL+"/dashboard/api/session", nil)
	require.NoError(t, err)
	req.AddCookie(c)
	return f.do(t, req)
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("SessionCookieNotTheKey", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		resp := f.signIn(t, f.a.SecretKey, "")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/dashboard/analytics", resp.Header.Get("Location"))
		c := sessionCookie(t, resp)
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		require.False(t, c.Secure, "plain http: no Secure")
		require.Equal(t, "/dashboard", c.Path)
		require.NotContains(t, c.Value, f.a.SecretKey)
		require.Len(t, c.Value, tokenLen)

		// Only the token's hash is stored, tied to the key's row.
		th := sha256.Sum256([]byte(c.Value))
		var n int
		require.NoError(t, f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM dashboard_sessions s JOIN app_keys k ON k.hash = s.key_hash
			WHERE s.token_hash = $1 AND s.app_id = $2 AND k.kind = 'secret' AND s.expires_at > now()`, th[:], f.a.AppID).Scan(&n))
		require.Equal(t, 1, n)

		status, body := f.withCookie(t, c)
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, f.a.AppID.String(), body["app_id"])
		require.Equal(t, "game A", body["app_name"])
	})

	t.Run("SecureWhenHTTPS", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &Config{SecureCookie: true})
		require.True(t, sessionCookie(t, f.signIn(t, f.a.SecretKey, "")).Secure)
	})

	t.Run("BadKeys", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		for name, key := range map[string]string{
			"Empty": "", "Garbage": "hello", "UnknownSecret": "gp_sk_0000000000000000000000000000000000000000000",
			"PublicToken": f.a.PublicToken,
		} {
			resp := f.signIn(t, key, "")
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, name)
			require.Equal(t, "/dashboard/analytics?signin_error=invalid_key", resp.Header.Get("Location"), name)
			require.Empty(t, resp.Cookies(), name)
		}
		var n int
		require.NoError(t, f.db.Pool.QueryRow(ctx, "SELECT count(*) FROM dashboard_sessions").Scan(&n))
		require.Zero(t, n)
	})

	t.Run("ReturnsToTheView", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		resp := f.signIn(t, f.a.SecretKey, "?page=funnels&steps=A,B&signin_error=invalid_key")
		require.Equal(t, "/dashboard/analytics?page=funnels&steps=A%2CB", resp.Header.Get("Location"))
		for _, next := range []string{"//evil.example/x", "https://evil.example", "?a=1\r\nSet-Cookie: x=1", "?x#frag", "/\\evil.example"} {
			resp := f.signIn(t, f.a.SecretKey, next)
			require.Equal(t, "/dashboard/analytics", resp.Header.Get("Location"), next)
		}
	})

	t.Run("CrossOriginRefused", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		for _, path := range []string{"/dashboard/signin", "/dashboard/signout"} {
			req, err := http.NewRequest(http.MethodPost, f.server.URL+path, strings.NewReader(url.Values{"key": {f.a.SecretKey}}.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			status, body := f.do(t, req)
			require.Equal(t, http.StatusForbidden, status, path)
			require.Equal(t, "cross_origin", body["error"], path)
		}
		var n int
		require.NoError(t, f.db.Pool.QueryRow(ctx, "SELECT count(*) FROM dashboard_sessions").Scan(&n))
		require.Zero(t, n)
	})

	t.Run("NoStateChangeOnGET", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		for _, path := range []string{"/dashboard/signin", "/dashboard/signout"} {
			resp, err := f.client().Get(f.server.URL + path + "?key=" + url.QueryEscape(f.a.SecretKey))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, path)
			require.Empty(t, resp.Cookies())
		}
	})

	t.Run("RateLimited", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, &Config{SignInLimit: ratelimit.Config{Rate: 0.001, Burst: 2}})
		require.Contains(t, f.signIn(t, "nope", "").Header.Get("Location"), "invalid_key")
		require.Contains(t, f.signIn(t, "nope", "").Header.Get("Location"), "invalid_key")
		// Past the burst even the right key is refused, before any lookup.
		resp := f.signIn(t, f.a.SecretKey, "")
		require.Equal(t, "/dashboard/analytics?signin_error=rate_limited", resp.Header.Get("Location"))
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
		require.Empty(t, resp.Cookies())
	})
}

func TestSessionEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("SignOut", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		c := sessionCookie(t, f.signIn(t, f.a.SecretKey, ""))
		req, err := http.NewRequest(http.MethodPost, f.server.URL+"/dashboard/signout", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", f.server.URL)
		req.AddCookie(c)
		resp, err := f.client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		cleared := sessionCookie(t, resp)
		require.Equal(t, -1, cleared.MaxAge)
		status, _ := f.withCookie(t, c)
		require.Equal(t, http.StatusUnauthorized, status, "the old cookie no longer works")
		var n int
		require.NoError(t, f.db.Pool.QueryRow(ctx, "SELECT count(*) FROM dashboard_sessions").Scan(&n))
		require.Zero(t, n)
	})

	t.Run("KeyRotated", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		c := sessionCookie(t, f.signIn(t, f.a.SecretKey, ""))
		other := sessionCookie(t, f.signIn(t, f.b.SecretKey, ""))
		fresh, err := store.AppRotateKeys(ctx, f.db.Pool, f.a.AppID, 0)
		require.NoError(t, err)
		status, _ := f.withCookie(t, c)
		require.Equal(t, http.StatusUnauthorized, status)
		status, _ = f.withCookie(t, other)
		require.Equal(t, http.StatusOK, status, "another app's session is untouched")
		// The new key signs in.
		status, _ = f.withCookie(t, sessionCookie(t, f.signIn(t, fresh.SecretKey, "")))
		require.Equal(t, http.StatusOK, status)
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		c := sessionCookie(t, f.signIn(t, f.a.SecretKey, ""))
		_, err := f.db.Pool.Exec(ctx, "UPDATE dashboard_sessions SET expires_at = now() - interval '1 second'")
		require.NoError(t, err)
		status, _ := f.withCookie(t, c)
		require.Equal(t, http.StatusUnauthorized, status)
		// The next sign-in deletes it.
		f.signIn(t, f.a.SecretKey, "")
		var n int
		require.NoError(t, f.db.Pool.QueryRow(ctx, "SELECT count(*) FROM dashboard_sessions WHERE expires_at < now()").Scan(&n))
		require.Zero(t, n)
	})

	t.Run("ForgedCookie", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, nil)
		status, body := f.withCookie(t, &http.Cookie{Name: cookieName, Value: strings.Repeat("A", tokenLen)})
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "unauthorized", body["error"])
	})
}

func TestAPIAuthentication(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	status, body := f.get(t, "", "/dashboard/api/overview", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "unauthorized", body["error"])

	// The page asks whether it is signed in before showing the form.
	status, body = f.get(t, "", "/dashboard/api/session", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, false, body["signed_in"])
	status, body = f.get(t, "gp_sk_forged_forged_forged_forged", "/dashboard/api/session", nil)
	require.Equal(t, http.StatusUnauthorized, status)

	status, body = f.get(t, f.a.PublicToken, "/dashboard/api/overview", nil)
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, "forbidden", body["error"])

	status, body = f.get(t, f.a.SecretKey, "/dashboard/api/session", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, f.a.AppID.String(), body["app_id"])
	require.Equal(t, true, body["signed_in"])

	req, err := http.NewRequest(http.MethodGet, f.server.URL+"/dashboard/api/session", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+f.b.SecretKey)
	status, body = f.do(t, req)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, f.b.AppID.String(), body["app_id"])
}
