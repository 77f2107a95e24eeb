package kinetixsim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"rsc.io/qr"
)

// handlePlans is POST /v1/plans: the key's subscription plan.
func (s *Server) handlePlans(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("X-Api-Key")
	s.mu.Lock()
	used := 0
	for _, p := range s.processes {
		if p.key == key {
			used++
		}
	}
	flow := s.validationFlow(key)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"plan": "sandbox", "name": "Sandbox (simulated)", "monthlyQuota": 1000,
		"used": used, "validationFlow": flow,
	})
}

// handleToken is GET /v1/process/token: a token for the user, usable once
// within TokenTTL.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	userID, ok := requireUserID(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	t := s.issueToken(r.Header.Get("X-Api-Key"), userID, "")
	v := t.view(s.now())
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

// handleTokenStatus is GET /v1/process/token/{token}: unused, used (with
// the process it created) or expired. The document lists the token among
// the route's headers as well as in its path: the header is required and
// must name the same token.
func (s *Server) handleTokenStatus(w http.ResponseWriter, r *http.Request) {
	switch h := r.Header.Get("Token"); {
	case h == "":
		writeError(w, http.StatusBadRequest, "invalid_request", "the token header is required")
		return
	case h != r.PathValue("token"):
		writeError(w, http.StatusBadRequest, "invalid_request", "the token header and the path name different tokens")
		return
	}
	userID, ok := requireUserID(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	t := s.tokens[r.PathValue("token")]
	var v *tokenView
	if t != nil && t.key == r.Header.Get("X-Api-Key") && t.userID == userID {
		v = t.view(s.now())
	}
	s.mu.Unlock()
	if v == nil {
		writeError(w, http.StatusNotFound, "not_found", "no such token for this user")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// handleDevToken is GET /v1/process/dev-token: a QR code (PNG) carrying a
// fresh token for the user. As the document says, the token is for virtual
// world 1 (Config.DefaultWorldKey) unless the request names a world by one
// of its keys (virtualWorldKey, query or body). In variations mode the
// answer is JSON with the URL the QR code would carry.
func (s *Server) handleDevToken(w http.ResponseWriter, r *http.Request) {
	userID, ok := requireUserID(w, r)
	if !ok {
		return
	}
	world := s.cfg.DefaultWorldKey
	if k := r.URL.Query().Get("virtualWorldKey"); k != "" {
		if len(s.cfg.Keys) > 0 && !slices.Contains(s.cfg.Keys, k) {
			writeError(w, http.StatusBadRequest, "invalid_request", "virtualWorldKey is not a known key")
			return
		}
		world = k
	}
	s.mu.Lock()
	t := s.issueToken(world, userID, "")
	s.lastDevToken = [2]string{t.token, world}
	s.mu.Unlock()
	link := "http://" + r.Host + "/dev/upload?token=" + t.token
	if s.cfg.Variations {
		writeJSON(w, http.StatusOK, map[string]string{"url": link})
		return
	}
	code, err := qr.Encode(link, qr.M)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal_error", "cannot encode the QR code")
		return
	}
	png := code.PNG()
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", fmt.Sprint(len(png)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(png)
}

// LastDevToken returns the token of the latest QR code and the key of the
// virtual world it was made for.
func (s *Server) LastDevToken() (token, worldKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastDevToken[0], s.lastDevToken[1]
}

// issueToken records a new token. Called with s.mu held.
func (s *Server) issueToken(key, userID, retakeOf string) *token {
	t := &token{token: newUUID(), key: key, userID: userID, retakeOf: retakeOf,
		expires: s.now().Add(s.cfg.TokenTTL)}
	s.tokens[t.token] = t
	s.stats.TokensIssued++
	return t
}

// requireUserID reads userId from the query string or, as the document
// has it, a JSON request body; it answers 400 when there is none.
func requireUserID(w http.ResponseWriter, r *http.Request) (string, bool) {
	if id := r.URL.Query().Get("userId"); id != "" {
		return id, true
	}
	var body struct {
		UserID          string `json:"userId"`
		VirtualWorldKey string `json:"virtualWorldKey"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil && len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "the body is not JSON")
			return "", false
		}
	}
	if body.UserID == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "userId is required")
		return "", false
	}
	if body.VirtualWorldKey != "" {
		q := r.URL.Query()
		q.Set("virtualWorldKey", body.VirtualWorldKey)
		r.URL.RawQuery = q.Encode()
	}
	return body.UserID, true
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
