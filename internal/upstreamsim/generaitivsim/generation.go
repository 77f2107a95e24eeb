package generaitivsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// workload is one generation.
type workload struct {
	id, owner, model, prompt string
	width, height, steps     int
	webhook                  string
	base                     string
	start                    time.Time
	duration                 time.Duration
	fail                     bool
	wsConns                  int
}

func (w *workload) done(now time.Time) bool { return !now.Before(w.start.Add(w.duration)) }

// step is the 0-based inference step reached so far.
func (w *workload) step(now time.Time) int {
	if w.duration <= 0 {
		return w.steps - 1
	}
	f := float64(now.Sub(w.start)) / float64(w.duration)
	return min(int(math.Floor(f*float64(w.steps))), w.steps-1)
}

func (w *workload) link() string { return w.base + "/images/asset/" + w.id + ".png" }

// callback is the webhook body of a finished workload.
func (w *workload) callback() map[string]string {
	if w.fail {
		return map[string]string{"status": "FAILED", "message": "the model could not render this prompt"}
	}
	return map[string]string{"status": "COMPLETED", "link": w.link()}
}

func (s *Server) now() time.Time { return time.Now() }

// A training id (0x and 64 hex digits, as the trainings list shows them)
// names a custom model, which the document says is not supported yet; any
// other model must have a slug's shape, which the document's placeholder
// "<model slug without brackets>" does not.
var (
	trainingID = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)
	modelSlug  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$`)
)

const customModelsMsg = "custom models (training ids) are not supported yet; use a model slug"

// genRequest is the document's POST /consumer/gen body.
type genRequest struct {
	Input struct {
		Prompt            string   `json:"prompt"`
		Width             *int     `json:"width"`
		Height            *int     `json:"height"`
		NumInferenceSteps *int     `json:"num_inference_steps"`
		PromptStrength    *float64 `json:"prompt_strength"`
		GuidanceScale     *float64 `json:"guidance_scale"`
	} `json:"input"`
	Model   string `json:"model"`
	Webhook string `json:"webhook"`
}

// handleGen starts a generation. With a webhook it answers {"id"} and later
// POSTs the callback; without one it also answers the workload_id and a
// jwt for the websocket.
func (s *Server) handleGen(w http.ResponseWriter, r *http.Request, caller *user) {
	n := s.genFlight.Add(1)
	defer s.genFlight.Add(-1)
	f := s.currentFaults()
	s.mu.Lock()
	s.stats.GenRequests++
	s.stats.MaxGenInFlight = max(s.stats.MaxGenInFlight, int(n))
	s.mu.Unlock()
	if f.GenDelay > 0 {
		select {
		case <-time.After(f.GenDelay):
		case <-r.Context().Done():
			return
		}
	}
	if s.cfg.PaymentRequired || f.PaymentRequired {
		s.count(func(st *Stats) { st.Gen402++ })
		writeErr(w, http.StatusPaymentRequired, "payment_required", "generations require a subscription")
		return
	}
	retry, limited := s.takeRateLimited()
	if !limited {
		var ok bool
		retry, ok = s.allowGen(caller.Address, s.now())
		limited = !ok
	}
	if limited {
		s.count(func(st *Stats) { st.Gen429++ })
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		writeErr(w, http.StatusTooManyRequests, "rate_limited", "too many generations; retry after the Retry-After delay")
		return
	}

	var req genRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid_body", "body must be a JSON object")
		return
	}
	wl := &workload{model: req.Model, prompt: req.Input.Prompt, width: 1024, height: 1024, steps: 50,
		owner: caller.Address, base: baseURL(r), start: s.now(), duration: s.cfg.GenerationTime}
	if msg := wl.apply(&req); msg == customModelsMsg {
		writeErr(w, http.StatusBadRequest, "custom_models_unsupported", msg)
		return
	} else if msg != "" {
		writeErr(w, http.StatusBadRequest, "invalid_input", msg)
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	wl.id = "0x" + hex.EncodeToString(b[:])
	wl.fail = f.FailAll || strings.Contains(strings.ToLower(wl.prompt), "[fail]")
	if f.CallbackBeforeResponse && wl.webhook != "" {
		wl.duration = 0
	}
	s.mu.Lock()
	s.workloads[wl.id] = wl
	s.stats.GenAccepted++
	s.mu.Unlock()
	s.logf("generaitivsim: workload %s started (webhook=%t)", wl.id, wl.webhook != "")

	if wl.webhook == "" {
		writeJSON(w, http.StatusOK, map[string]string{"id": wl.id, "workload_id": wl.id, "jwt": s.signJWT(wl.id)})
		return
	}
	if f.CallbackBeforeResponse {
		s.deliver(r.Context(), wl, f, 0)
	} else {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.deliver(s.ctx, wl, f, wl.duration+f.WebhookDelay)
		}()
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": wl.id})
}

// apply validates the request into the workload; it returns a message for
// a 400, or "".
func (wl *workload) apply(req *genRequest) string {
	switch {
	case strings.TrimSpace(req.Model) == "":
		return "model is required"
	case trainingID.MatchString(req.Model):
		return customModelsMsg
	case !modelSlug.MatchString(req.Model):
		return "model must be a model slug"
	case strings.TrimSpace(req.Input.Prompt) == "":
		return "input.prompt is required"
	}
	if v := req.Input.Width; v != nil {
		if *v < 64 || *v > 2048 {
			return "input.width must be between 64 and 2048"
		}
		wl.width = *v
	}
	if v := req.Input.Height; v != nil {
		if *v < 64 || *v > 2048 {
			return "input.height must be between 64 and 2048"
		}
		wl.height = *v
	}
	if v := req.Input.NumInferenceSteps; v != nil {
		if *v < 1 || *v > 500 {
			return "input.num_inference_steps must be between 1 and 500"
		}
		wl.steps = *v
	}
	if req.Webhook != "" {
		u, err := url.Parse(req.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "webhook must be an absolute http(s) URL"
		}
		wl.webhook = req.Webhook
	}
	return ""
}

func (s *Server) count(f func(st *Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// deliver waits until the workload is done and POSTs its callback, as the
// faults say: not at all, late, or several times.
func (s *Server) deliver(ctx context.Context, wl *workload, f Faults, after time.Duration) {
	if !sleepCtx(ctx, after) || f.WebhookLost {
		return
	}
	body, _ := json.Marshal(wl.callback())
	s.post(ctx, wl.webhook, body)
	for range f.WebhookDuplicates {
		s.post(ctx, wl.webhook, body)
	}
	if f.WebhookLateReplay > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if sleepCtx(s.ctx, f.WebhookLateReplay) {
				s.post(s.ctx, wl.webhook, body)
			}
		}()
	}
}

// post sends one callback, retrying while the receiver does not answer
// 2xx, up to WebhookAttempts times.
func (s *Server) post(ctx context.Context, target string, body []byte) {
	for attempt := 1; attempt <= s.cfg.WebhookAttempts; attempt++ {
		s.count(func(st *Stats) { st.WebhooksSent++ })
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.hooks.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
			s.logf("generaitivsim: webhook answered %d (attempt %d)", resp.StatusCode, attempt)
		}
		if !sleepCtx(ctx, s.cfg.WebhookRetryDelay) {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
