package kinetix_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/kinetix"
	"github.com/gamepipe/gamepipe/internal/upstream"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// mp4Head is the start of an MP4 file (an ftyp box).
var mp4Head = append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), make([]byte, 64)...)

// zeroVideo is an MP4 header followed by n zero bytes, generated as read.
func zeroVideo(n int64) io.Reader {
	return io.MultiReader(bytes.NewReader(mp4Head), io.LimitReader(zeroReader{}, n))
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestClient runs every client test against the simulator as documented
// and again in its variations mode (other status words and casing, extra
// fields, error codes in another form or missing, a QR code as JSON).
func TestClient(t *testing.T) {
	t.Parallel()
	t.Run("Documented", func(t *testing.T) { t.Parallel(); testClient(t, false) })
	t.Run("Variations", func(t *testing.T) { t.Parallel(); testClient(t, true) })
}

func testClient(t *testing.T, variations bool) {
	ctx := context.Background()

	type testBundle struct {
		client        *kinetix.Client
		sim           *kinetixsim.Server
		server        *httptest.Server
		contentLength atomic.Int64
	}
	setup := func(t *testing.T, cfg *kinetixsim.Config) *testBundle {
		t.Helper()
		if cfg == nil {
			cfg = &kinetixsim.Config{}
		}
		cfg.Variations = variations
		bundle := &testBundle{sim: kinetixsim.New(cfg)}
		bundle.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v1/process" {
				bundle.contentLength.Store(r.ContentLength)
			}
			bundle.sim.ServeHTTP(w, r)
		}))
		t.Cleanup(bundle.server.Close)
		client, err := kinetix.New(&kinetix.Config{BaseURL: bundle.server.URL + "/", APIKey: "world-1", Timeout: 5 * time.Second})
		require.NoError(t, err)
		bundle.client = client
		return bundle
	}
	create := func(t *testing.T, c *kinetix.Client, token string) (*kinetix.Process, error) {
		t.Helper()
		return c.CreateProcess(ctx, token, &kinetix.CreateProcessRequest{
			Name: "wave", Start: "00:00:00.000", End: "00:00:02.000",
			Video: bytes.NewReader(mp4Head), VideoSize: int64(len(mp4Head)),
		})
	}

	t.Run("DevTokenQRPassesTheAnswerThrough", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{Keys: []string{"world-0", "world-1"}})
		qr, err := bundle.client.DevTokenQR(ctx, "p1")
		require.NoError(t, err)
		if variations {
			require.Equal(t, "application/json", qr.ContentType)
			var b struct{ URL string }
			require.NoError(t, json.NewDecoder(qr.Body).Decode(&b))
			require.Contains(t, b.URL, "/dev/upload?token=")
		} else {
			require.Equal(t, "image/png", qr.ContentType)
			_, err = png.Decode(qr.Body)
			require.NoError(t, err)
		}
		require.NoError(t, qr.Body.Close())
		// The code is for the client's own virtual world, not world 1.
		tok, world := bundle.sim.LastDevToken()
		require.Equal(t, "world-1", world)
		st, err := bundle.client.TokenStatus(ctx, tok, "p1")
		require.NoError(t, err)
		require.Equal(t, kinetix.TokenUnused, st.Status)

		_, err = bundle.client.DevTokenQR(ctx, "")
		require.ErrorIs(t, err, kinetix.ErrInvalidRequest)
	})

	t.Run("EveryRouteOfTheValidationFlow", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{ValidationKeys: []string{"world-1"}, ProcessDuration: 50 * time.Millisecond})

		plan, err := bundle.client.Plan(ctx)
		require.NoError(t, err)
		require.Equal(t, "sandbox", plan.Plan)
		require.True(t, plan.ValidationFlow)
		require.Contains(t, string(plan.Raw), `"monthlyQuota"`)

		tok, err := bundle.client.CreateToken(ctx, "p1")
		require.NoError(t, err)
		require.Equal(t, kinetix.TokenUnused, tok.Status)
		require.WithinDuration(t, time.Now().Add(5*time.Minute), tok.ExpiresAt, time.Minute)

		p, err := create(t, bundle.client, tok.Token)
		require.NoError(t, err)
		require.True(t, p.Status.Working())
		require.Equal(t, "p1", p.UserID)

		st, err := bundle.client.TokenStatus(ctx, tok.Token, "p1")
		require.NoError(t, err)
		require.Equal(t, kinetix.TokenUsed, st.Status)
		require.Equal(t, p.UUID, st.ProcessUUID)

		require.Eventually(t, func() bool {
			got, err := bundle.client.Process(ctx, p.UUID)
			require.NoError(t, err)
			return got.Status == kinetix.StatusAwaitingValidation
		}, 5*time.Second, 20*time.Millisecond)
		got, err := bundle.client.Process(ctx, p.UUID)
		require.NoError(t, err)
		require.NotNil(t, got.Emote)
		require.NotEmpty(t, got.Emote.AnimationURL)
		require.Contains(t, string(got.Emote.Raw), got.Emote.UUID)

		validated, err := bundle.client.Validate(ctx, p.UUID)
		require.NoError(t, err)
		require.Equal(t, kinetix.StatusDone, validated.Status)
		require.True(t, validated.Validated)

		_, err = bundle.client.Retake(ctx, p.UUID)
		require.ErrorIs(t, err, kinetix.ErrInvalidState)
		require.True(t, kinetix.IsPermanent(err))

		second, err := create(t, bundle.client, mustToken(t, bundle.client))
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			got, err := bundle.client.Process(ctx, second.UUID)
			require.NoError(t, err)
			return got.Status == kinetix.StatusAwaitingValidation
		}, 5*time.Second, 20*time.Millisecond)
		retake, err := bundle.client.Retake(ctx, second.UUID)
		require.NoError(t, err)
		require.Equal(t, second.UUID, retake.RetakeOf)
		third, err := create(t, bundle.client, retake.Token)
		require.NoError(t, err)
		require.Equal(t, second.UUID, third.RetakeOf)
	})

	t.Run("PlansTakeTheGameAPIKey", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{Keys: []string{"world-1"}, GameKeys: []string{"game-1"}})
		_, err := bundle.client.Plan(ctx)
		require.ErrorIs(t, err, kinetix.ErrInvalidAPIKey, "a VirtualWorldKey is refused on /v1/plans")
		game := bundle.client.WithGameAPIKey("game-1")
		plan, err := game.Plan(ctx)
		require.NoError(t, err)
		require.Equal(t, "sandbox", plan.Plan)
		// An app's own world key leaves the game key in place.
		_, err = game.WithAPIKey("world-1").Plan(ctx)
		require.NoError(t, err)
		_, err = game.CreateToken(ctx, "p1")
		require.NoError(t, err, "the other routes keep the VirtualWorldKey")
	})

	t.Run("NetworkFailuresAreRetryable", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		bundle.sim.AddFault(kinetixsim.Fault{Kind: kinetixsim.FaultTimeout, Count: 1, Delay: time.Minute})
		short, err := kinetix.New(&kinetix.Config{BaseURL: bundle.server.URL, APIKey: "k", Timeout: 100 * time.Millisecond})
		require.NoError(t, err)
		_, err = short.Plan(ctx)
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue)
		require.Zero(t, ue.Status)
		require.True(t, upstream.IsRetryable(err))
		require.False(t, kinetix.IsPermanent(err))

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err = short.Plan(cancelled)
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, upstream.IsRetryable(err))

		bundle.server.Close()
		_, err = bundle.client.CreateToken(ctx, "p1")
		require.True(t, upstream.IsRetryable(err))
		// A token in a URL path never reaches the error text (logs, job rows).
		_, err = bundle.client.TokenStatus(ctx, "secret-token-123", "p1")
		require.True(t, upstream.IsRetryable(err))
		require.NotContains(t, err.Error(), "secret-token-123")
	})

	t.Run("NewValidatesTheBaseURL", func(t *testing.T) {
		t.Parallel()
		for _, u := range []string{"", "ftp://x", "://", "http://"} {
			_, err := kinetix.New(&kinetix.Config{BaseURL: u})
			require.Error(t, err, u)
		}
	})

	t.Run("PermanentErrorsHaveSentinels", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{Keys: []string{"world-1"}, TokenTTL: 300 * time.Millisecond})

		tok := mustToken(t, bundle.client)
		_, err := create(t, bundle.client, tok)
		require.NoError(t, err)
		_, err = create(t, bundle.client, tok)
		require.ErrorIs(t, err, kinetix.ErrTokenUsed)
		require.True(t, upstream.IsStatus(err, http.StatusConflict))

		_, err = create(t, bundle.client, "nope")
		require.ErrorIs(t, err, kinetix.ErrInvalidToken)

		_, err = bundle.client.Process(ctx, "00000000-0000-0000-0000-000000000000")
		require.ErrorIs(t, err, kinetix.ErrNotFound)
		require.True(t, kinetix.IsPermanent(err))

		_, err = bundle.client.Validate(ctx, mustProcess(t, bundle.client))
		require.ErrorIs(t, err, kinetix.ErrValidationFlowDisabled)

		_, err = bundle.client.CreateProcess(ctx, mustToken(t, bundle.client), &kinetix.CreateProcessRequest{
			Name: "x", Start: "00:00:00.000", End: "00:00:01.000", Video: bytes.NewReader([]byte("GIF89a....")), VideoSize: -1,
		})
		require.ErrorIs(t, err, kinetix.ErrUnsupportedVideo)

		_, err = bundle.client.WithAPIKey("stranger").Plan(ctx)
		require.ErrorIs(t, err, kinetix.ErrInvalidAPIKey)
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue)
		require.Equal(t, http.StatusUnauthorized, ue.Status)
		require.Equal(t, "invalid_api_key", strings.ToLower(ue.Code))

		expiring := mustToken(t, bundle.client)
		require.Eventually(t, func() bool {
			st, err := bundle.client.TokenStatus(ctx, expiring, "p1")
			require.NoError(t, err)
			return st.Status == kinetix.TokenExpired
		}, 5*time.Second, 20*time.Millisecond)
		_, err = create(t, bundle.client, expiring)
		require.ErrorIs(t, err, kinetix.ErrTokenExpired)
	})

	t.Run("RateLimitsCarryRetryAfter", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		bundle.sim.AddFault(kinetixsim.Fault{Route: "GET /v1/process/token", Kind: kinetixsim.FaultRateLimit, Count: 1, RetryAfter: 3 * time.Second})
		bundle.sim.AddFault(kinetixsim.Fault{Route: "GET /v1/process/token", Kind: kinetixsim.FaultServerError, Count: 1, Status: 500})

		_, err := bundle.client.CreateToken(ctx, "p1")
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue)
		require.True(t, ue.RateLimited())
		ra, ok := upstream.RetryAfterOf(err)
		require.True(t, ok)
		require.Equal(t, 3*time.Second, ra)

		_, err = bundle.client.CreateToken(ctx, "p1")
		require.True(t, upstream.IsStatus(err, 500))
		require.True(t, upstream.IsRetryable(err))

		_, err = bundle.client.CreateToken(ctx, "p1")
		require.NoError(t, err)
	})

	t.Run("UploadsAreStreamedWithTheirLength", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		const size = 32 << 20

		_, err := bundle.client.CreateProcess(ctx, mustToken(t, bundle.client), &kinetix.CreateProcessRequest{
			Name: "big", Start: "00:00:00.000", End: "00:00:01.000",
			Video: zeroVideo(size), VideoSize: int64(len(mp4Head)) + size,
		})
		require.NoError(t, err)
		require.Greater(t, bundle.contentLength.Load(), int64(size))

		// Unknown size: chunked.
		_, err = bundle.client.CreateProcess(ctx, mustToken(t, bundle.client), &kinetix.CreateProcessRequest{
			Name: "chunked", Start: "00:00:00.000", End: "00:00:01.000", Video: zeroVideo(1 << 20), VideoSize: -1,
		})
		require.NoError(t, err)
		require.Equal(t, int64(-1), bundle.contentLength.Load())
		require.Equal(t, 2, bundle.sim.ProcessesCreated())

		_, err = bundle.client.CreateProcess(ctx, "t", &kinetix.CreateProcessRequest{})
		require.Error(t, err)
		require.False(t, errors.Is(err, kinetix.ErrInvalidToken))
	})
}

func mustToken(t *testing.T, c *kinetix.Client) string {
	t.Helper()
	tok, err := c.CreateToken(context.Background(), "p1")
	require.NoError(t, err)
	return tok.Token
}

func mustProcess(t *testing.T, c *kinetix.Client) string {
	t.Helper()
	p, err := c.CreateProcess(context.Background(), mustToken(t, c), &kinetix.CreateProcessRequest{
		Name: "x", Start: "00:00:00.000", End: "00:00:01.000", Video: bytes.NewReader(mp4Head), VideoSize: int64(len(mp4Head)),
	})
	require.NoError(t, err)
	return p.UUID
}
