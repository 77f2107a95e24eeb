package generaitivsim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// jwtTTL is how long a workload's websocket token is valid.
const jwtTTL = time.Hour

// signJWT makes the HS256 token that lets its holder follow one workload.
func (s *Server) signJWT(workloadID string) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"sub": workloadID, "exp": time.Now().Add(jwtTTL).Unix()})
	body := head + "." + enc.EncodeToString(claims)
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(body))
	return body + "." + enc.EncodeToString(m.Sum(nil))
}

// verifyJWT reports whether token is a valid, unexpired token for id.
func (s *Server) verifyJWT(token, id string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	return json.Unmarshal(raw, &claims) == nil && claims.Sub == id && time.Now().Unix() < claims.Exp
}

// wsMessage is one websocket message.
type wsMessage struct {
	Type    string     `json:"type"`
	Message *wsPercent `json:"message,omitempty"`
	Link    string     `json:"link,omitempty"`
	Error   string     `json:"error,omitempty"`
}

type wsPercent struct {
	Percentage  int `json:"percentage"`
	TotalSteps  int `json:"totalSteps"`
	CurrentStep int `json:"currentStep"`
}

var errDropped = errors.New("connection dropped by fault")

// handleWebsocket streams a workload: IN_PROGRESS messages (the first, and
// every fifth, without a percentage, as the document warns), then
// COMPLETED with the link or ERROR, then a normal close. A connection made
// after the workload finished gets the final message at once; one made
// mid-way starts from the current step.
func (s *Server) handleWebsocket(w http.ResponseWriter, r *http.Request) {
	id, jwt := r.URL.Query().Get("id"), r.URL.Query().Get("jwt")
	if !s.verifyJWT(jwt, id) {
		writeErr(w, http.StatusUnauthorized, "unauthorized", "invalid or expired jwt")
		return
	}
	s.mu.Lock()
	wl := s.workloads[id]
	if wl != nil {
		wl.wsConns++
		s.stats.WSConnections++
	}
	var connNo int
	if wl != nil {
		connNo = wl.wsConns
	}
	f := s.faults
	s.mu.Unlock()
	if wl == nil {
		writeErr(w, http.StatusNotFound, "not_found", "no such workload")
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx := conn.CloseRead(s.ctx)

	sent := 0
	send := func(m wsMessage) error {
		if s.cfg.Variations {
			// Other casing of the type words, and an ERROR explained under
			// "message" rather than "error".
			m.Type = strings.ToLower(m.Type)
			if m.Error != "" {
				data, _ := json.Marshal(map[string]any{"type": m.Type, "message": m.Error, "code": "GENERATION_FAILED"})
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				return conn.Write(wctx, websocket.MessageText, data)
			}
		}
		data, _ := json.Marshal(m)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := conn.Write(wctx, websocket.MessageText, data); err != nil {
			return err
		}
		sent++
		if f.WSDropAfter > 0 && connNo == 1 && sent >= f.WSDropAfter {
			_ = conn.CloseNow()
			return errDropped
		}
		return nil
	}
	tick := min(max(wl.duration/time.Duration(wl.steps), 10*time.Millisecond), 250*time.Millisecond)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	last := -1
	if s.cfg.Variations {
		// A type word the document does not name: a client must read it as
		// still running.
		if err := send(wsMessage{Type: "QUEUED"}); err != nil {
			return
		}
	}
	if err := send(wsMessage{Type: "IN_PROGRESS"}); err != nil {
		return
	}
	for {
		now := s.now()
		if wl.done(now) {
			final := wsMessage{Type: "COMPLETED", Link: wl.link()}
			if wl.fail {
				final = wsMessage{Type: "ERROR", Error: "the model could not render this prompt"}
			}
			if send(final) == nil {
				_ = conn.Close(websocket.StatusNormalClosure, "done")
			}
			return
		}
		if step := wl.step(now); step > last {
			last = step
			m := wsMessage{Type: "IN_PROGRESS"}
			if step%5 != 4 {
				m.Message = &wsPercent{Percentage: min((step+1)*100/wl.steps, 100), TotalSteps: wl.steps, CurrentStep: step}
			}
			if err := send(m); err != nil {
				return
			}
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
	}
}
