package kinetixsim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamepipe/gamepipe/internal/upstreamsim/kinetixsim"
)

// kRequest is one complete request as the document describes it.
type kRequest struct {
	path   string
	header http.Header
	body   []byte
	// fields are the request body's documented fields (JSON or multipart).
	fields map[string]string
	video  []byte
}

// kCase is one documented route: its method and path, the headers the
// document marks required (each one's absence must be refused with
// missingStatus), the required body fields, and the answer.
type kCase struct {
	name     string
	method   string
	route    string
	required []string
	// requiredFields are body fields whose absence is a 400.
	requiredFields []string
	multipart      bool
	prepare        func(t *testing.T, e *kEnv) kRequest
	status         int
	contentType    string
}

// missingStatus is how the simulator refuses a request without a header
// the document marks required (docs/upstreams-kinetix.md).
var missingStatus = map[string]int{
	"Content-Type": http.StatusUnsupportedMediaType,
	"X-Api-Key":    http.StatusUnauthorized,
	"X-Api-Token":  http.StatusUnauthorized,
	"Token":        http.StatusBadRequest,
}

type kEnv struct {
	url string
}

func (e *kEnv) send(t *testing.T, method string, req kRequest, multi bool) (int, http.Header, []byte) {
	t.Helper()
	var body io.Reader
	header := req.header.Clone()
	switch {
	case multi:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range req.fields {
			require.NoError(t, mw.WriteField(k, v))
		}
		if req.video != nil {
			fw, err := mw.CreateFormFile("video", "clip")
			require.NoError(t, err)
			_, _ = fw.Write(req.video)
		}
		require.NoError(t, mw.Close())
		body = &buf
		if header.Get("Content-Type") != "" {
			header.Set("Content-Type", mw.FormDataContentType())
		}
	case req.fields != nil:
		raw, _ := json.Marshal(req.fields)
		body = bytes.NewReader(raw)
	}
	r, err := http.NewRequest(method, e.url+req.path, body)
	require.NoError(t, err)
	r.Header = header
	resp, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// jsonHeader is the headers every documented JSON route takes.
func jsonHeader(key string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "X-Api-Key": {key}}
}

func (e *kEnv) token(t *testing.T, key, user string) string {
	t.Helper()
	status, _, raw := e.send(t, "GET", kRequest{path: "/v1/process/token", header: jsonHeader(key),
		fields: map[string]string{"userId": user}}, false)
	require.Equal(t, http.StatusOK, status, string(raw))
	var tok struct{ Token string }
	require.NoError(t, json.Unmarshal(raw, &tok))
	return tok.Token
}

// process creates a process and waits for it to await validation.
func (e *kEnv) process(t *testing.T) string {
	t.Helper()
	h := jsonHeader("world-1")
	h.Set("X-Api-Token", e.token(t, "world-1", "p1"))
	status, _, raw := e.send(t, "POST", kRequest{path: "/v1/process", header: h, fields: createFields(), video: mp4}, true)
	require.Equal(t, http.StatusCreated, status, string(raw))
	var p struct{ UUID string }
	require.NoError(t, json.Unmarshal(raw, &p))
	require.Eventually(t, func() bool {
		_, _, raw := e.send(t, "GET", kRequest{path: "/v1/process/" + p.UUID, header: jsonHeader("world-1")}, false)
		return strings.Contains(string(raw), `"awaiting_validation"`)
	}, 10*time.Second, 10*time.Millisecond)
	return p.UUID
}

func createFields() map[string]string {
	return map[string]string{"mature": "false", "start": "00:00:00.000", "end": "00:00:02.000", "name": "wave"}
}

var mp4 = append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), make([]byte, 64)...)

// kinetixCases is the document's routes in its order (the browser-only
// login route aside: gamepipe does not use it, see
// docs/upstreams-kinetix.md).
func kinetixCases() []kCase {
	return []kCase{
		{name: "Plans", method: "POST", route: "/v1/plans", required: []string{"X-Api-Key", "Content-Type"},
			status: http.StatusOK, contentType: "application/json",
			prepare: func(t *testing.T, e *kEnv) kRequest {
				return kRequest{path: "/v1/plans", header: jsonHeader("game-1")}
			}},
		{name: "GenerateToken", method: "GET", route: "/v1/process/token", required: []string{"Content-Type", "X-Api-Key"},
			requiredFields: []string{"userId"}, status: http.StatusOK, contentType: "application/json",
			prepare: func(t *testing.T, e *kEnv) kRequest {
				return kRequest{path: "/v1/process/token", header: jsonHeader("world-1"), fields: map[string]string{"userId": "p1"}}
			}},
		{name: "CreateProcess", method: "POST", route: "/v1/process", required: []string{"Content-Type", "X-Api-Key", "X-Api-Token"},
			requiredFields: []string{"mature", "start", "end", "name"}, multipart: true, status: http.StatusCreated,
			contentType: "application/json",
			prepare: func(t *testing.T, e *kEnv) kRequest {
				h := jsonHeader("world-1")
				h.Set("X-Api-Token", e.token(t, "world-1", "p1"))
				return kRequest{path: "/v1/process", header: h, fields: createFields(), video: mp4}
			}},
		{name: "ProcessStatus", method: "GET", route: "/v1/process/{uuid}", required: []string{"Content-Type", "X-Api-Key"},
			status: http.StatusOK, contentType: "application/json",
			prepare: func(t *testing.T, e *kEnv) kRequest {
				return kRequest{path: "/v1/process/" + e.process(t), header: jsonHeader("world-1")}
			}},
		{name: "Validate", method: "POST", route: "/v1/process/{uuid}/validate", required: []string{"Content-Type", "X-Api-Key"},
			status: http.StatusOK, contentType: "application/json",
			prepare: func(t *testing.T, e *kEnv) kRequest {
				uuid := e.process(t)
				return kRequest{path: "/v1/process/" + uuid + "/validate", header: jsonHeader("world-1"), fields: map[string]string{"uuid": uuid}}
			}},
		{name: "Retake", method: "POST", route: "/v1/process/{uuid}/retake", required: []string{"Content-Type", "X-Api-Key"},
			status: http.StatusOK, contentType: "application/json",
			prepare: func(t *testing.T, e *kEnv) kRequest {
				uuid := e.process(t)
				return kRequest{path: "/v1/process/" + uuid + "/retake", header: jsonHeader("world-1"), fields: map[string]string{"uuid": uuid}}
			}},
		{name: "TokenStatus", method: "GET", route: "/v1/process/token/{token}", required: []string{"Content-Type", "X-Api-Key", "Token"},
			requiredFields: []string{"userId"}, status: http.StatusOK, contentType: "application/json",
			prepare: func(t *testing.T, e *kEnv) kRequest {
				tok := e.token(t, "world-1", "p1")
				h := jsonHeader("world-1")
				h.Set("Token", tok)
				return kRequest{path: "/v1/process/token/" + tok, header: h, fields: map[string]string{"userId": "p1"}}
			}},
		{name: "DevTokenQR", method: "GET", route: "/v1/process/dev-token", required: []string{"Content-Type", "X-Api-Key"},
			requiredFields: []string{"userId"}, status: http.StatusOK, contentType: "image/png",
			prepare: func(t *testing.T, e *kEnv) kRequest {
				return kRequest{path: "/v1/process/dev-token", header: jsonHeader("world-2"), fields: map[string]string{"userId": "p1"}}
			}},
	}
}

// TestConformance sends each route of Kinetix's UGC emote API routes as the
// document describes it, then again without each header and body field it
// marks required, and checks the simulator refuses those.
func TestConformance(t *testing.T) {
	t.Parallel()
	sim := kinetixsim.New(&kinetixsim.Config{Keys: []string{"world-1", "world-2"}, GameKeys: []string{"game-1"},
		ValidationKeys: []string{"world-1"}, ProcessDuration: 20 * time.Millisecond})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	env := &kEnv{url: srv.URL}

	for _, tc := range kinetixCases() {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.prepare(t, env)
			for _, h := range tc.required {
				without := req
				without.header = req.header.Clone()
				without.header.Del(h)
				status, _, raw := env.send(t, tc.method, without, tc.multipart)
				require.Equal(t, missingStatus[h], status, "%s %s without %s: %s", tc.method, tc.route, h, raw)
			}
			for _, f := range tc.requiredFields {
				without := req
				without.fields = map[string]string{}
				for k, v := range req.fields {
					if k != f {
						without.fields[k] = v
					}
				}
				status, _, raw := env.send(t, tc.method, without, tc.multipart)
				require.Equal(t, http.StatusBadRequest, status, "%s %s without the field %s: %s", tc.method, tc.route, f, raw)
			}
			status, hdr, raw := env.send(t, tc.method, req, tc.multipart)
			require.Equal(t, tc.status, status, "%s %s: %s", tc.method, tc.route, raw)
			require.Contains(t, hdr.Get("Content-Type"), tc.contentType)
		})
	}

	t.Run("MultipartUploadWithoutItsVideo", func(t *testing.T) {
		h := jsonHeader("world-1")
		h.Set("X-Api-Token", env.token(t, "world-1", "p1"))
		status, _, raw := env.send(t, "POST", kRequest{path: "/v1/process", header: h, fields: createFields()}, true)
		require.Equal(t, http.StatusBadRequest, status, string(raw))
	})

	t.Run("JSONIsRefusedOnTheUpload", func(t *testing.T) {
		// The document writes application/json on the upload too, but a
		// JSON body cannot carry the video: multipart is required.
		h := jsonHeader("world-1")
		h.Set("X-Api-Token", env.token(t, "world-1", "p1"))
		status, _, _ := env.send(t, "POST", kRequest{path: "/v1/process", header: h, fields: createFields()}, false)
		require.Equal(t, http.StatusUnsupportedMediaType, status)
	})

	t.Run("TokenHeaderMustMatchThePath", func(t *testing.T) {
		tok := env.token(t, "world-1", "p1")
		h := jsonHeader("world-1")
		h.Set("Token", env.token(t, "world-1", "p1"))
		status, _, _ := env.send(t, "GET", kRequest{path: "/v1/process/token/" + tok, header: h,
			fields: map[string]string{"userId": "p1"}}, false)
		require.Equal(t, http.StatusBadRequest, status)
	})

	t.Run("KeysOfTheirKind", func(t *testing.T) {
		status, _, _ := env.send(t, "POST", kRequest{path: "/v1/plans", header: jsonHeader("world-1")}, false)
		require.Equal(t, http.StatusUnauthorized, status, "a VirtualWorldKey on /v1/plans")
		status, _, _ = env.send(t, "GET", kRequest{path: "/v1/process/token", header: jsonHeader("game-1"),
			fields: map[string]string{"userId": "p1"}}, false)
		require.Equal(t, http.StatusUnauthorized, status, "a GameAPIKey on a virtual world's route")
	})

	t.Run("QRCodeWorld", func(t *testing.T) {
		status, _, _ := env.send(t, "GET", kRequest{path: "/v1/process/dev-token", header: jsonHeader("world-2"),
			fields: map[string]string{"userId": "p1"}}, false)
		require.Equal(t, http.StatusOK, status)
		_, world := sim.LastDevToken()
		require.Equal(t, "world-1", world, "no world named: virtual world 1 (the first key)")
		status, _, _ = env.send(t, "GET", kRequest{path: "/v1/process/dev-token", header: jsonHeader("world-1"),
			fields: map[string]string{"userId": "p1", "virtualWorldKey": "world-2"}}, false)
		require.Equal(t, http.StatusOK, status)
		_, world = sim.LastDevToken()
		require.Equal(t, "world-2", world, "the world named by one of its keys")
	})

	t.Run("SupportedVideoFormats", func(t *testing.T) {
		ts := make([]byte, 188*3)
		ts[0], ts[188], ts[376] = 0x47, 0x47, 0x47
		for name, head := range map[string][]byte{
			"AVI":  []byte("RIFF\x00\x00\x00\x00AVI LIST"),
			"FLV":  []byte("FLV\x01\x05\x00\x00\x00\x09"),
			"MKV":  []byte("\x1a\x45\xdf\xa3\x42\x82\x88matroska"),
			"MP4":  mp4,
			"TS":   ts,
			"MOV":  []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  "),
			"WebM": []byte("\x1a\x45\xdf\xa3\x42\x82\x84webm"),
		} {
			h := jsonHeader("world-2")
			h.Set("X-Api-Token", env.token(t, "world-2", "p1"))
			status, _, raw := env.send(t, "POST", kRequest{path: "/v1/process", header: h, fields: createFields(), video: head}, true)
			require.Equal(t, http.StatusCreated, status, "%s: %s", name, raw)
		}
	})
}

// TestVariations checks the variations mode answers differently from our
// own choices, in the ways docs/upstreams-kinetix.md lists.
func TestVariations(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(kinetixsim.New(&kinetixsim.Config{Variations: true}))
	t.Cleanup(srv.Close)
	env := &kEnv{url: srv.URL}
	status, _, raw := env.send(t, "GET", kRequest{path: "/v1/process/token", header: jsonHeader("k"),
		fields: map[string]string{"userId": "p1"}}, false)
	require.Equal(t, http.StatusOK, status)
	var tok map[string]any
	require.NoError(t, json.Unmarshal(raw, &tok))
	require.Equal(t, "UNUSED", tok["status"], "another casing")
	require.Contains(t, tok, "apiVersion", "a field of its own")
	status, _, raw = env.send(t, "GET", kRequest{path: "/v1/process/00000000-0000-0000-0000-000000000000", header: jsonHeader("k")}, false)
	require.Equal(t, http.StatusNotFound, status)
	require.NotContains(t, string(raw), "not_found", "no code: the status says it")
	h := jsonHeader("k")
	h.Set("X-Api-Token", "nope")
	_, _, raw = env.send(t, "POST", kRequest{path: "/v1/process", header: h, fields: createFields(), video: mp4}, true)
	require.Contains(t, string(raw), `"code":"INVALID_TOKEN"`)
	status, hdr, raw := env.send(t, "GET", kRequest{path: "/v1/process/dev-token", header: jsonHeader("k"),
		fields: map[string]string{"userId": "p1"}}, false)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "application/json", hdr.Get("Content-Type"))
	require.Contains(t, string(raw), "/dev/upload?token=")
}
