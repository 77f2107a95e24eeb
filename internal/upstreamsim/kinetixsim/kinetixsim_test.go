package kinetixsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/testutil"
	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// mp4Head is the start of an MP4 file (an ftyp box).
var mp4Head = append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), make([]byte, 64)...)

// simClient speaks raw HTTP to the simulator: the tests check the wire, not
// gamepipe's client.
type simClient struct {
	t    *testing.T
	base string
	key  string
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (c *simClient) do(method, path string, header http.Header, body io.Reader) *answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	require.NoError(c.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	// Every route takes a Content-Type, and the token status route the
	// token as a header too (docs/upstreams-kinetix.md); the conformance
	// test checks their absence.
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok, ok := strings.CutPrefix(path, "/v1/process/token/"); ok && req.Header.Get("Token") == "" {
		tok, _, _ = strings.Cut(tok, "?")
		req.Header.Set("Token", tok)
	}
	if c.key != "" {
		req.Header.Set("X-Api-Key", c.key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	a := &answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (c *simClient) token(user string) string {
	c.t.Helper()
	a := c.do(http.MethodGet, "/v1/process/token", http.Header{"Content-Type": {"application/json"}},
		strings.NewReader(`{"userId":"`+user+`"}`))
	require.Equal(c.t, http.StatusOK, a.status, string(a.raw))
	require.Equal(c.t, "unused", a.body["status"])
	return a.body["token"].(string)
}

// create posts a process with the given fields (nil video: none).
func (c *simClient) create(token string, fields map[string]string, video []byte) *answer {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(c.t, mw.WriteField(k, v))
	}
	if video != nil {
		fw, err := mw.CreateFormFile("video", "clip.mp4")
		require.NoError(c.t, err)
		_, err = fw.Write(video)
		require.NoError(c.t, err)
	}
	require.NoError(c.t, mw.Close())
	h := http.Header{"Content-Type": {mw.FormDataContentType()}}
	if token != "" {
		h.Set("X-Api-Token", token)
	}
	return c.do(http.MethodPost, "/v1/process", h, &buf)
}

func validFields() map[string]string {
	return map[string]string{"mature": "false", "start": "00:00:00.000", "end": "00:00:02.000", "name": "wave"}
}

func TestServer(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		clock  *testutil.Clock
		sim    *kinetixsim.Server
		client *simClient
	}
	setup := func(t *testing.T, cfg *kinetixsim.Config) *testBundle {
		t.Helper()
		clk := testutil.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
		if cfg == nil {
			cfg = &kinetixsim.Config{}
		}
		if cfg.Now == nil {
			cfg.Now = clk.Now
		}
		sim := kinetixsim.New(cfg)
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		return &testBundle{clock: clk, sim: sim, client: &simClient{t: t, base: srv.URL, key: "world-1"}}
	}

	t.Run("ChecksAPIKeys", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{Keys: []string{"world-1"}})

		a := bundle.client.do(http.MethodPost, "/v1/plans", nil, nil)
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, "sandbox", a.body["plan"])

		bundle.client.key = "other"
		a = bundle.client.do(http.MethodPost, "/v1/plans", nil, nil)
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "invalid_api_key", a.body["error"])

		bundle.client.key = ""
		a = bundle.client.do(http.MethodPost, "/v1/plans", nil, nil)
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "missing_api_key", a.body["error"])
		require.NotEmpty(t, a.body["message"])
	})

	t.Run("CountsRequestsAndConcurrency", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{Now: time.Now})
		bundle.sim.AddFault(kinetixsim.Fault{Route: "POST /v1/plans", Kind: kinetixsim.FaultLatency, Delay: 300 * time.Millisecond})

		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() { bundle.client.do(http.MethodPost, "/v1/plans", nil, nil) })
		}
		wg.Wait()
		st := bundle.sim.Stats()
		require.Equal(t, 5, st.Requests["POST /v1/plans"])
		require.Equal(t, 5, bundle.sim.Requests("POST /v1/plans"))
		require.Equal(t, 5, st.MaxInFlight)
		require.Zero(t, st.InFlight)
	})

	t.Run("DevTokenIsAScannableQRCode", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)

		a := bundle.client.do(http.MethodGet, "/v1/process/dev-token?userId=p1", nil, nil)
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, "image/png", a.header.Get("Content-Type"))
		img, err := png.Decode(bytes.NewReader(a.raw))
		require.NoError(t, err)
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		require.NoError(t, err)
		// The simulator draws a clean, upright code: decode it as one. (The
		// finder-pattern detector alone misreads some random payloads.)
		res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
		require.NoError(t, err)
		require.Contains(t, res.GetText(), "/dev/upload?token=")
		require.Equal(t, 1, bundle.sim.Stats().TokensIssued)

		a = bundle.client.do(http.MethodGet, "/v1/process/dev-token", nil, nil)
		require.Equal(t, http.StatusBadRequest, a.status)
	})

	t.Run("FailAndStuckProcesses", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{Faults: []kinetixsim.Fault{
			{Kind: kinetixsim.FaultFailProcess, Count: 1}, {Kind: kinetixsim.FaultStuckProcess, Count: 1},
		}})
		failed := bundle.client.create(bundle.client.token("p1"), validFields(), mp4Head)
		stuck := bundle.client.create(bundle.client.token("p1"), validFields(), mp4Head)
		normal := bundle.client.create(bundle.client.token("p1"), validFields(), mp4Head)
		bundle.clock.Advance(time.Hour)

		status := func(a *answer) map[string]any {
			got := bundle.client.do(http.MethodGet, "/v1/process/"+a.body["uuid"].(string), nil, nil)
			require.Equal(t, http.StatusOK, got.status)
			return got.body
		}
		f := status(failed)
		require.Equal(t, "failed", f["status"])
		require.Equal(t, "no_character_detected", f["error"].(map[string]any)["code"])
		require.Nil(t, f["emote"])
		require.Equal(t, "processing", status(stuck)["status"])
		require.Equal(t, "done", status(normal)["status"])
	})

	t.Run("FaultsAnswerThenPass", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		bundle.sim.AddFault(kinetixsim.Fault{Route: "POST /v1/plans", Kind: kinetixsim.FaultRateLimit, Count: 2, RetryAfter: 2 * time.Second})
		bundle.sim.AddFault(kinetixsim.Fault{Route: "GET /v1/process/token", Kind: kinetixsim.FaultServerError, Count: 1, Status: 502})

		for range 2 {
			a := bundle.client.do(http.MethodPost, "/v1/plans", nil, nil)
			require.Equal(t, http.StatusTooManyRequests, a.status)
			require.Equal(t, "2", a.header.Get("Retry-After"))
			require.Equal(t, "rate_limited", a.body["error"])
		}
		require.Equal(t, http.StatusOK, bundle.client.do(http.MethodPost, "/v1/plans", nil, nil).status)

		a := bundle.client.do(http.MethodGet, "/v1/process/token?userId=p1", nil, nil)
		require.Equal(t, http.StatusBadGateway, a.status)
		bundle.client.token("p1")
		require.Equal(t, 3, bundle.sim.Stats().Faulted)

		bundle.sim.ClearFaults()
		bundle.sim.AddFault(kinetixsim.Fault{Kind: kinetixsim.FaultTimeout, Count: 1, Delay: time.Minute})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, bundle.client.base+"/v1/plans", nil)
		require.NoError(t, err)
		req.Header.Set("X-Api-Key", "k")
		_, err = http.DefaultClient.Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, http.StatusOK, bundle.client.do(http.MethodPost, "/v1/plans", nil, nil).status)
	})

	t.Run("ProcessMovesThroughItsStatuses", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{ProcessDuration: 10 * time.Second})

		a := bundle.client.create(bundle.client.token("p1"), validFields(), mp4Head)
		require.Equal(t, http.StatusCreated, a.status, string(a.raw))
		require.Equal(t, "pending", a.body["status"])
		require.Equal(t, "p1", a.body["userId"])
		uuid := a.body["uuid"].(string)
		require.Equal(t, 1, bundle.sim.ProcessesCreated())

		get := func() map[string]any {
			a := bundle.client.do(http.MethodGet, "/v1/process/"+uuid, nil, nil)
			require.Equal(t, http.StatusOK, a.status)
			return a.body
		}
		bundle.clock.Advance(5 * time.Second)
		p := get()
		require.Equal(t, "processing", p["status"])
		require.InDelta(t, 50, p["progress"], 1)
		require.Nil(t, p["emote"])

		bundle.clock.Advance(5 * time.Second)
		p = get()
		require.Equal(t, "done", p["status"])
		emote := p["emote"].(map[string]any)
		require.NotEmpty(t, emote["uuid"])
		require.Contains(t, emote["animationUrl"], ".glb")
		require.InDelta(t, 2.0, emote["duration"], 0.001)

		// Another virtual world does not see it.
		bundle.client.key = "world-2"
		require.Equal(t, http.StatusNotFound, bundle.client.do(http.MethodGet, "/v1/process/"+uuid, nil, nil).status)
	})

	t.Run("RejectsBadCreateRequestsAndKeepsTheToken", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		tok := bundle.client.token("p1")

		tests := []struct {
			name     string
			mutate   func(fields map[string]string) []byte
			wantCode string
		}{
			{"BadEnd", func(f map[string]string) []byte { f["end"] = "2s"; return mp4Head }, "invalid_request"},
			{"BadMature", func(f map[string]string) []byte { f["mature"] = "maybe"; return mp4Head }, "invalid_request"},
			{"EndBeforeStart", func(f map[string]string) []byte { f["start"] = "00:00:03.000"; return mp4Head }, "invalid_request"},
			{"MissingName", func(f map[string]string) []byte { delete(f, "name"); return mp4Head }, "invalid_request"},
			{"MissingVideo", func(map[string]string) []byte { return nil }, "invalid_request"},
			{"UnsupportedVideo", func(map[string]string) []byte { return []byte("GIF89a not a video at all") }, "unsupported_video_format"},
		}
		for _, tt := range tests {
			fields := validFields()
			video := tt.mutate(fields)
			a := bundle.client.create(tok, fields, video)
			require.Equal(t, http.StatusBadRequest, a.status, tt.name)
			require.Equal(t, tt.wantCode, a.body["error"], tt.name)
		}
		require.Zero(t, bundle.sim.ProcessesCreated())
		require.Equal(t, http.StatusCreated, bundle.client.create(tok, validFields(), mp4Head).status)
	})

	t.Run("SniffsEverySupportedFormat", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, nil)
		ts := make([]byte, 400)
		ts[0], ts[188], ts[376] = 0x47, 0x47, 0x47
		for name, head := range map[string][]byte{
			"avi":  []byte("RIFF\x00\x00\x00\x00AVI LIST"),
			"flv":  []byte("FLV\x01\x05\x00\x00\x00\x09"),
			"mkv":  []byte("\x1a\x45\xdf\xa3\x42\x82\x88matroska"),
			"webm": []byte("\x1a\x45\xdf\xa3\x42\x82\x84webm"),
			"mov":  []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00"),
			"mp4":  mp4Head,
			"ts":   ts,
		} {
			a := bundle.client.create(bundle.client.token("p1"), validFields(), head)
			require.Equal(t, http.StatusCreated, a.status, name)
		}
	})

	t.Run("TokenIsSingleUseAndExpires", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{TokenTTL: time.Minute})

		tok := bundle.client.token("p1")
		a := bundle.client.create(tok, validFields(), mp4Head)
		require.Equal(t, http.StatusCreated, a.status)
		a = bundle.client.create(tok, validFields(), mp4Head)
		require.Equal(t, http.StatusConflict, a.status)
		require.Equal(t, "token_used", a.body["error"])

		old := bundle.client.token("p1")
		bundle.clock.Advance(time.Minute)
		a = bundle.client.create(old, validFields(), mp4Head)
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "token_expired", a.body["error"])

		a = bundle.client.create("nope", validFields(), mp4Head)
		require.Equal(t, "invalid_token", a.body["error"])
		a = bundle.client.create("", validFields(), mp4Head)
		require.Equal(t, "missing_token", a.body["error"])
		bundle.client.key = "world-2"
		a = bundle.client.create(bundle.client.token("p1"), validFields(), mp4Head)
		require.Equal(t, http.StatusCreated, a.status)
	})

	t.Run("TokenStatusFindsTheProcess", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{TokenTTL: time.Minute})
		status := func(tok, user string) *answer {
			return bundle.client.do(http.MethodGet, "/v1/process/token/"+tok, http.Header{"Content-Type": {"application/json"}},
				strings.NewReader(`{"userId":"`+user+`"}`))
		}

		tok := bundle.client.token("p1")
		require.Equal(t, "unused", status(tok, "p1").body["status"])
		require.Equal(t, http.StatusNotFound, status(tok, "p2").status)
		require.Equal(t, http.StatusNotFound, status("unknown", "p1").status)

		created := bundle.client.create(tok, validFields(), mp4Head)
		bundle.clock.Advance(time.Hour) // a used token stays used, however old
		a := status(tok, "p1")
		require.Equal(t, "used", a.body["status"])
		require.Equal(t, created.body["uuid"], a.body["processUuid"])

		unused := bundle.client.token("p1")
		bundle.clock.Advance(time.Minute)
		a = status(unused, "p1")
		require.Equal(t, "expired", a.body["status"])
		require.Nil(t, a.body["processUuid"])
	})

	t.Run("ValidationFlowPerKey", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, &kinetixsim.Config{ValidationKeys: []string{"world-1"}})
		post := func(uuid, action string) *answer {
			return bundle.client.do(http.MethodPost, "/v1/process/"+uuid+"/"+action, http.Header{"Content-Type": {"application/json"}},
				strings.NewReader(`{"uuid":"`+uuid+`"}`))
		}

		first := bundle.client.create(bundle.client.token("p1"), validFields(), mp4Head).body["uuid"].(string)
		second := bundle.client.create(bundle.client.token("p1"), validFields(), mp4Head).body["uuid"].(string)
		require.Equal(t, "invalid_state", post(first, "validate").body["error"])
		bundle.clock.Advance(time.Hour)

		a := bundle.client.do(http.MethodGet, "/v1/process/"+first, nil, nil)
		require.Equal(t, "awaiting_validation", a.body["status"])
		require.Equal(t, true, a.body["validationFlow"])
		require.NotNil(t, a.body["emote"])

		a = post(first, "validate")
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, "done", a.body["status"])
		require.Equal(t, true, a.body["validated"])
		require.Equal(t, http.StatusOK, post(first, "validate").status, "validating twice answers again")
		require.Equal(t, "invalid_state", post(first, "retake").body["error"])

		a = post(second, "retake")
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, "unused", a.body["status"])
		require.Equal(t, second, a.body["retakeOf"])
		retakeToken := a.body["token"].(string)
		require.Equal(t, retakeToken, post(second, "retake").body["token"], "retaking twice returns the same token")
		require.Equal(t, "rejected", bundle.client.do(http.MethodGet, "/v1/process/"+second, nil, nil).body["status"])

		a = bundle.client.create(retakeToken, validFields(), mp4Head)
		require.Equal(t, http.StatusCreated, a.status)
		require.Equal(t, second, a.body["retakeOf"])
		require.Equal(t, "invalid_state", post(second, "retake").body["error"], "its token is spent")

		// world-2 has no validation flow; SetValidationFlow turns it on.
		bundle.client.key = "world-2"
		plain := bundle.client.create(bundle.client.token("p1"), validFields(), mp4Head).body["uuid"].(string)
		bundle.clock.Advance(time.Hour)
		require.Equal(t, "done", bundle.client.do(http.MethodGet, "/v1/process/"+plain, nil, nil).body["status"])
		require.Equal(t, http.StatusForbidden, post(plain, "validate").status)
		require.Equal(t, "validation_flow_disabled", post(plain, "retake").body["error"])
		bundle.sim.SetValidationFlow("world-2", true)
		flow := bundle.client.create(bundle.client.token("p1"), validFields(), mp4Head).body["uuid"].(string)
		bundle.clock.Advance(time.Hour)
		require.Equal(t, "awaiting_validation", bundle.client.do(http.MethodGet, "/v1/process/"+flow, nil, nil).body["status"])
	})
}
