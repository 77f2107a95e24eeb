package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeJobAPI answers creates with 202 and an id, and status polls with
// "processing" twice, then the success status (or failed for every
// fifth job), with created_at and finished_at 40 ms apart.
type fakeJobAPI struct {
	mode  string
	mu    sync.Mutex
	polls map[string]int
	next  atomic.Int64
	bad   atomic.Int64
}

func (f *fakeJobAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("x-api-key") != "sk_test" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	prefix := "/v1/" + f.mode
	switch {
	case r.Method == http.MethodPost && r.URL.Path == prefix:
		if f.mode == ModeEmotes {
			if err := r.ParseMultipartForm(1 << 20); err != nil || r.FormValue("user_id") == "" {
				f.bad.Add(1)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			file, _, err := r.FormFile("video")
			if err != nil {
				f.bad.Add(1)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			var head [8]byte
			_, _ = file.Read(head[:])
			if !bytes.Equal(head[4:8], []byte("ftyp")) {
				f.bad.Add(1)
			}
		} else {
			var body struct {
				Model string         `json:"model"`
				Input map[string]any `json:"input"`
			}
			if json.NewDecoder(r.Body).Decode(&body) != nil || body.Model == "" || body.Input["prompt"] == nil {
				f.bad.Add(1)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":"job-%d","status":"queued"}`, f.next.Add(1))
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, prefix+"/"):
		id := strings.TrimPrefix(r.URL.Path, prefix+"/")
		f.mu.Lock()
		f.polls[id]++
		n := f.polls[id]
		f.mu.Unlock()
		created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		status := "processing"
		if n > 2 {
			status = statusSucceeded
			var k int
			fmt.Sscanf(id, "job-%d", &k)
			if k%5 == 0 {
				status = "failed"
			}
		}
		v := map[string]any{"id": id, "status": status, "created_at": created}
		if status != "processing" {
			v["finished_at"] = created.Add(40 * time.Millisecond)
		}
		_ = json.NewEncoder(w).Encode(v)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestRunJobs(t *testing.T) {
	for _, mode := range []string{ModeEmotes, ModeGenerations} {
		t.Run(mode, func(t *testing.T) {
			api := &fakeJobAPI{mode: mode, polls: map[string]int{}}
			srv := httptest.NewServer(api)
			defer srv.Close()
			res, err := RunJobs(t.Context(), &JobConfig{Mode: mode, URL: srv.URL, SecretKey: "sk_test", Concurrency: 4,
				Requests: 20, Track: true, PollEvery: 5 * time.Millisecond, SourceRate: 1000, Drain: 10 * time.Second})
			require.NoError(t, err)
			require.Zero(t, api.bad.Load(), "malformed creates")
			require.EqualValues(t, 20, res.Requests)
			require.EqualValues(t, 20, res.Accepted)
			require.Equal(t, map[int]int64{202: 20}, res.Statuses)
			require.EqualValues(t, 16, res.Completed)
			require.Equal(t, map[string]int64{statusSucceeded: 16, "failed": 4}, res.Final)
			require.EqualValues(t, 20*3, res.Polls)
			require.InDelta(t, 40*time.Millisecond, res.ToCompletion.Quantile(0.99), float64(2*time.Millisecond))
			var out strings.Builder
			res.WriteSummary(&out)
			require.Contains(t, out.String(), "4 failed")
			require.Contains(t, out.String(), "16 "+statusSucceeded)
		})
	}
}

func TestRunJobsConfig(t *testing.T) {
	for _, c := range []JobConfig{
		{Mode: "telemetry", URL: "http://127.0.0.1:1", SecretKey: "k"},
		{Mode: ModeEmotes, URL: "ftp://x", SecretKey: "k"},
		{Mode: ModeEmotes, URL: "http://127.0.0.1:1"},
		{Mode: ModeGenerations, URL: "http://127.0.0.1:1", SecretKey: "k", ImageSize: 100},
	} {
		_, err := RunJobs(t.Context(), &c)
		require.Error(t, err, "%+v", c)
	}
}

func TestMainJobMode(t *testing.T) {
	api := &fakeJobAPI{mode: ModeGenerations, polls: map[string]int{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	var stdout, stderr strings.Builder
	err := Main(t.Context(), []string{"--mode", "generations", "--url", srv.URL, "--secret-key", "sk_test", "--requests", "5",
		"--sources", "0", "--warmup", "0", "--poll-every", "5ms", "--progress=false", "--json"},
		func(string) string { return "" }, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	var s JobSummary
	require.NoError(t, json.Unmarshal([]byte(stdout.String()), &s))
	require.EqualValues(t, 5, s.Accepted)
	require.EqualValues(t, 4, s.Completed)
	require.EqualValues(t, 1, s.Final["failed"])

	err = Main(t.Context(), []string{"--mode", "videos", "--secret-key", "k"}, func(string) string { return "" }, &stdout, &stderr)
	require.ErrorContains(t, err, "--mode")
}
