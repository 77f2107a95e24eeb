package generaitiv_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/generaitiv"
	"github.com/gamepipe/gamepipe/internal/upstream"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/generaitivsim"
)

type testBundle struct {
	sim    *generaitivsim.Server
	server *httptest.Server
	client *generaitiv.Client
}

func setup(t *testing.T, simCfg *generaitivsim.Config, cfg *generaitiv.Config) *testBundle {
	t.Helper()
	return setupMode(t, false, simCfg, cfg)
}

// setupMode is setup with the simulator's variations mode on or off.
func setupMode(t *testing.T, variations bool, simCfg *generaitivsim.Config, cfg *generaitiv.Config) *testBundle {
	t.Helper()
	if simCfg == nil {
		simCfg = &generaitivsim.Config{GenerationTime: 300 * time.Millisecond}
	}
	simCfg.Variations = variations
	// The websocket has an address of its own, as in the document.
	simCfg.SeparateWebsocket = true
	sim := generaitivsim.New(simCfg)
	srv := httptest.NewServer(sim)
	ws := httptest.NewServer(sim.WebsocketHandler())
	t.Cleanup(func() { srv.Close(); ws.Close(); sim.Close() })
	if cfg == nil {
		cfg = &generaitiv.Config{}
	}
	cfg.BaseURL, cfg.APIKey = srv.URL+"/v1/", "test-key"
	if cfg.WSURL == "" {
		cfg.WSURL = "ws" + strings.TrimPrefix(ws.URL, "http")
	}
	cfg.RateLimit, cfg.RateBurst = 1000, 1000
	cfg.FollowBackoff = 20 * time.Millisecond
	c, err := generaitiv.New(cfg)
	require.NoError(t, err)
	return &testBundle{sim: sim, server: srv, client: c}
}

// TestClient runs against the simulator as documented and in its
// variations mode (extra fields, other casing of the websocket's type
// words and a word of its own, opaque cursors).
func TestClient(t *testing.T) {
	t.Parallel()
	t.Run("Documented", func(t *testing.T) { t.Parallel(); testClient(t, false) })
	t.Run("Variations", func(t *testing.T) { t.Parallel(); testClient(t, true) })
}

func testClient(t *testing.T, variations bool) {
	ctx := context.Background()
	setup := func(t *testing.T, simCfg *generaitivsim.Config, cfg *generaitiv.Config) *testBundle {
		t.Helper()
		return setupMode(t, variations, simCfg, cfg)
	}

	t.Run("AuthErrorIsPermanent", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &generaitivsim.Config{Keys: []string{"only-this"}}, nil)
		_, err := bundle.client.UserInfo(ctx)
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue)
		require.Equal(t, http.StatusUnauthorized, ue.Status)
		require.Equal(t, "unauthorized", ue.Code)
		require.False(t, ue.Retryable())
		_, err = bundle.client.WithKey("only-this").UserInfo(ctx)
		require.NoError(t, err)
	})

	t.Run("CollectionsAndUsers", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		c, err := bundle.client.Collection(ctx, "poetic-animations-by-ashu")
		require.NoError(t, err)
		require.Equal(t, "Poetic Animations by Ashu", c.Name)
		cols, err := bundle.client.UserCollections(ctx, c.Owner)
		require.NoError(t, err)
		require.Len(t, cols, 1)
		require.Equal(t, "poetic-animations-by-ashu", cols[0].SlugOrAddress)
		u, err := bundle.client.User(ctx, "0x4e3A99830E5ffb86952B14aDBD5746ce84A6F6F3")
		require.NoError(t, err)
		require.Equal(t, "zkBrain", u.Username)
		_, err = bundle.client.User(ctx, "0x0000000000000000000000000000000000000001")
		require.True(t, generaitiv.IsNotFound(err))
		tok, err := bundle.client.Token(ctx, "0x4b3887515Cd5A0deEaBd6b59f0B8CC87d3608c95",
			"0x1bec0e6266e97f0c7c42aa720959e46598dd8ce100000000000000000000004e")
		require.NoError(t, err)
		require.Equal(t, "To The Moon And Back", tok.Name)
		require.Equal(t, "0xed0fbcda7a00686163bb4afc444866ef", tok.WorkloadID)
		slug, err := bundle.client.SlugFromID(ctx, tok.TokenID)
		require.NoError(t, err)
		require.Equal(t, "poetic-animations-by-ashu", slug)
		trainings, err := bundle.client.Trainings(ctx)
		require.NoError(t, err)
		require.Len(t, trainings, 1)
		require.Equal(t, "COMPLETED", trainings[0].Status)
	})

	t.Run("GenerateTooFastIs429WithRetryAfter", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		bundle.sim.SetFaults(generaitivsim.Faults{RateLimitNext: 1, RetryAfter: 3 * time.Second})
		_, err := bundle.client.Generate(ctx, &generaitiv.GenRequest{Model: "m", Input: generaitiv.GenInput{Prompt: "p"}})
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue)
		require.True(t, ue.RateLimited())
		require.True(t, ue.Retryable())
		require.Equal(t, 3*time.Second, ue.RetryAfter)
	})

	t.Run("GeneratePaymentRequired", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &generaitivsim.Config{PaymentRequired: true}, nil)
		_, err := bundle.client.Generate(ctx, &generaitiv.GenRequest{Model: "m", Input: generaitiv.GenInput{Prompt: "p"}})
		require.True(t, generaitiv.IsPaymentRequired(err))
		require.False(t, upstream.IsRetryable(err))
	})

	t.Run("CustomModelRefusedClearly", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		_, err := bundle.client.Generate(ctx, &generaitiv.GenRequest{Model: "0x" + strings.Repeat("f", 64),
			Input: generaitiv.GenInput{Prompt: "p"}})
		require.ErrorIs(t, err, generaitiv.ErrCustomModelUnsupported)
		require.False(t, upstream.IsRetryable(err))
		require.Contains(t, err.Error(), "custom models are not supported")
		_, err = bundle.client.Generate(ctx, &generaitiv.GenRequest{Model: "<model slug without brackets>",
			Input: generaitiv.GenInput{Prompt: "p"}})
		require.Error(t, err)
		require.NotErrorIs(t, err, generaitiv.ErrCustomModelUnsupported)
	})

	t.Run("UploadRefusalsAreReadFromTheStoresXML", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		addr, err := bundle.client.UserInfo(ctx)
		require.NoError(t, err)
		id, err := bundle.client.NextTokenID(ctx, addr)
		require.NoError(t, err)
		require.NoError(t, bundle.client.CreateToken(ctx, "up", &generaitiv.NewToken{TokenID: id, Amount: "0x01", Name: "n"}))
		signed, err := bundle.client.UploadURL(ctx, id, "image.jpg")
		require.NoError(t, err)
		err = bundle.client.PutUpload(ctx, signed, "image/png", strings.NewReader("x"), 1)
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue)
		require.Equal(t, http.StatusForbidden, ue.Status)
		require.Equal(t, "SignatureDoesNotMatch", ue.Code)
		require.Error(t, bundle.client.PutUpload(ctx, signed, "image/jpeg", strings.NewReader("x"), -1))
	})

	t.Run("AddressLookups", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		const virtual = "0x4b3887515Cd5A0deEaBd6b59f0B8CC87d3608c95"
		c, err := bundle.client.Collection(ctx, virtual)
		require.NoError(t, err)
		require.Equal(t, virtual, c.Address)
		page, err := bundle.client.CollectionTokens(ctx, virtual, "0")
		require.NoError(t, err)
		require.NotEmpty(t, page.Result)
		latest, err := bundle.client.LatestTokens(ctx, generaitiv.Page{Size: 1})
		require.NoError(t, err)
		require.Len(t, latest, 1)
		require.NotNil(t, latest[0].Listing, "the document's listing is decoded")
		require.NotEmpty(t, latest[0].Listing.Price)
	})

	t.Run("PaginationHelpers", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		var ids []string
		for tok, err := range bundle.client.AllCollectionTokens(ctx, "red-every-day") {
			require.NoError(t, err)
			ids = append(ids, tok.TokenID)
		}
		require.Len(t, ids, 30) // three pages of 14, 14, 2
		seen := map[string]bool{}
		for _, id := range ids {
			require.False(t, seen[id])
			seen[id] = true
		}
		n := 0
		for tok, err := range bundle.client.AllLatestTokens(ctx, 7, 0) {
			require.NoError(t, err)
			require.NotEmpty(t, tok.TokenID)
			n++
		}
		require.Equal(t, 31, n)
		n = 0
		for _, err := range bundle.client.AllLatestTokens(ctx, 7, 10) {
			require.NoError(t, err)
			n++
		}
		require.Equal(t, 10, n)
		cols := 0
		for _, err := range bundle.client.AllLatestCollections(ctx, 2, 0) {
			require.NoError(t, err)
			cols++
		}
		require.Equal(t, 3, cols)
	})

	t.Run("RateLimiterSpacesRequests", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		c, err := generaitiv.New(&generaitiv.Config{BaseURL: bundle.server.URL + "/v1/", APIKey: "k", RateLimit: 20, RateBurst: 1})
		require.NoError(t, err)
		start := time.Now()
		for range 5 {
			_, err := c.UserInfo(ctx)
			require.NoError(t, err)
		}
		// 1 burst + 4 at 20/s: at least 4 × 50ms.
		require.GreaterOrEqual(t, time.Since(start), 190*time.Millisecond)
	})

	t.Run("TenantShareOfASharedKey", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		// A rate so low nothing refills during the test: only the bursts
		// count. The key allows 4 calls; each tenant half of that.
		c, err := generaitiv.New(&generaitiv.Config{BaseURL: bundle.server.URL + "/v1/", APIKey: "k",
			RateLimit: 0.0001, RateBurst: 4, TenantShare: 0.5})
		require.NoError(t, err)
		a, b := c.ForTenant("app-a"), c.ForTenant("app-b")
		// A call that would have to wait fails at once under a deadline
		// the limiter cannot meet.
		now := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, time.Minute) }
		for range 2 {
			cctx, cancel := now()
			_, err := a.UserInfo(cctx)
			cancel()
			require.NoError(t, err)
		}
		cctx, cancel := now()
		_, err = a.UserInfo(cctx)
		cancel()
		require.ErrorContains(t, err, "rate limiter", "app A has used its share")
		cctx, cancel = now()
		_, err = b.UserInfo(cctx)
		cancel()
		require.NoError(t, err, "the rest of the key is left to app B")
		cctx, cancel = now()
		_, err = c.ForTenant("app-a").UserInfo(cctx)
		cancel()
		require.ErrorContains(t, err, "rate limiter", "the tenant's bucket is kept")

		_, err = generaitiv.New(&generaitiv.Config{BaseURL: bundle.server.URL + "/v1/", TenantShare: 1.5})
		require.Error(t, err)
	})

	t.Run("TokenChain", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil, nil)
		addr, err := bundle.client.UserInfo(ctx)
		require.NoError(t, err)
		id, err := bundle.client.NextTokenID(ctx, addr)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(id, strings.ToLower(addr)))
		again, err := bundle.client.NextTokenID(ctx, addr)
		require.NoError(t, err)
		require.Equal(t, id, again, "the next id stays until a token is created")
		nt := &generaitiv.NewToken{TokenID: id, Amount: "0x01", Name: "n", Description: "d",
			Attributes: []generaitiv.Attribute{{TraitType: "k", Value: "v"}}}
		require.NoError(t, bundle.client.CreateToken(ctx, "my-col", nt))
		require.NoError(t, bundle.client.CreateToken(ctx, "my-col", nt), "the same request again succeeds")
		nt2 := *nt
		nt2.Name = "other"
		require.True(t, generaitiv.IsConflict(bundle.client.CreateToken(ctx, "my-col", &nt2)))
		next, err := bundle.client.NextTokenID(ctx, addr)
		require.NoError(t, err)
		require.NotEqual(t, id, next)

		signed, err := bundle.client.UploadURL(ctx, id, "image.png")
		require.NoError(t, err)
		png := []byte("\x89PNG\r\n\x1a\nfake")
		require.NoError(t, bundle.client.PutUpload(ctx, signed, "image/png", strings.NewReader(string(png)), int64(len(png))))
		got, ok := bundle.sim.UploadedImage(id)
		require.True(t, ok)
		require.Equal(t, png, got)
		tok, err := bundle.client.Token(ctx, "my-col", id)
		require.NoError(t, err)
		require.Contains(t, tok.Metadata.Image, "/images/upload/")
		require.Equal(t, []generaitiv.Attribute{{TraitType: "k", Value: "v"}}, tok.Metadata.Attributes)
	})
}

// TestCallbackIsReadLeniently: a webhook's status word in another case, and
// a failure explained under "error", are still understood.
func TestCallbackIsReadLeniently(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]generaitiv.Callback{
		`{"status":"COMPLETED","link":"https://x/y.png"}`:       {Status: "COMPLETED", Link: "https://x/y.png"},
		`{"status":"completed","link":"https://x/y.png","n":1}`: {Status: "COMPLETED", Link: "https://x/y.png"},
		`{"status":"Failed","message":"m"}`:                     {Status: "FAILED", Message: "m"},
		`{"status":"FAILED","error":"e"}`:                       {Status: "FAILED", Message: "e"},
		`{"status":"FAILED","error":{"code":1}}`:                {Status: "FAILED"},
	} {
		var got generaitiv.Callback
		require.NoError(t, json.Unmarshal([]byte(body), &got), body)
		require.Equal(t, want, got, body)
	}
}
