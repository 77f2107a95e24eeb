package kinetixsim

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// handleCreate is POST /v1/process: multipart mature, start, end, name and
// video, with the x-api-token. The token is spent only when the process is
// created; an invalid request leaves it usable.
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	key, tok := r.Header.Get("X-Api-Key"), r.Header.Get("X-Api-Token")
	if tok == "" {
		writeError(w, http.StatusUnauthorized, "missing_token", "the x-api-token header is required")
		return
	}
	s.mu.Lock()
	ok := s.checkToken(w, key, tok)
	s.mu.Unlock()
	if !ok {
		return
	}

	req, status, code, msg := s.readCreate(r)
	if status != 0 {
		writeError(w, status, code, msg)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Check again: a concurrent request may have spent the token meanwhile.
	if !s.checkToken(w, key, tok) {
		return
	}
	t := s.tokens[tok]
	p := &process{
		uuid: newUUID(), key: key, userID: t.userID, name: req.name, mature: req.mature,
		start: req.start, end: req.end, format: req.format, videoBytes: req.size, token: tok,
		retakeOf: t.retakeOf, created: s.now(), fate: s.takeProcessFate(),
		validation: s.validationFlow(key), emoteUUID: newUUID(),
	}
	t.process = p.uuid
	s.processes[p.uuid] = p
	s.stats.ProcessesCreated++
	writeJSON(w, http.StatusCreated, p.view(s.now(), s.cfg.ProcessDuration))
}

// checkToken answers 401 (unknown or expired) or 409 (used) for a token
// that cannot create a process. Called with s.mu held.
func (s *Server) checkToken(w http.ResponseWriter, key, tok string) bool {
	t := s.tokens[tok]
	if t == nil || t.key != key {
		writeError(w, http.StatusUnauthorized, "invalid_token", "the x-api-token is not a token of this virtual world")
		return false
	}
	switch t.status(s.now()) {
	case TokenUsed:
		writeError(w, http.StatusConflict, "token_used", "this token already created a process")
		return false
	case TokenExpired:
		writeError(w, http.StatusUnauthorized, "token_expired", "this token is older than its 5 minutes")
		return false
	}
	return true
}

type createRequest struct {
	name, start, end, format string
	mature                   bool
	size                     int64
}

// readCreate streams the multipart body: fields are small, the video is
// sniffed from its first bytes and counted, never stored.
func (s *Server) readCreate(r *http.Request) (req createRequest, status int, code, msg string) {
	mr, err := r.MultipartReader()
	if err != nil {
		return req, http.StatusBadRequest, "invalid_request", "the body must be multipart/form-data"
	}
	fields := map[string]string{}
	haveVideo := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return req, http.StatusBadRequest, "invalid_request", "malformed multipart body"
		}
		name := part.FormName()
		if name == "video" {
			head := make([]byte, 4096)
			n, _ := io.ReadFull(part, head)
			req.format = sniffFormat(head[:n])
			rest, err := io.Copy(io.Discard, io.LimitReader(part, s.cfg.MaxVideoBytes-int64(n)+1))
			if err != nil {
				return req, http.StatusBadRequest, "invalid_request", "error reading the video"
			}
			req.size = int64(n) + rest
			if req.size > s.cfg.MaxVideoBytes {
				return req, http.StatusRequestEntityTooLarge, "payload_too_large", "the video is too large"
			}
			haveVideo = true
			continue
		}
		v, _ := io.ReadAll(io.LimitReader(part, 4<<10))
		fields[name] = string(v)
	}

	for _, f := range []string{"mature", "start", "end", "name"} {
		if _, ok := fields[f]; !ok {
			return req, http.StatusBadRequest, "invalid_request", f + " is required"
		}
	}
	if !haveVideo || req.size == 0 {
		return req, http.StatusBadRequest, "invalid_request", "video is required"
	}
	if req.format == "" {
		return req, http.StatusBadRequest, "unsupported_video_format",
			"supported: AVI, FLV, MKV, MP4, TS, MOV, WebM"
	}
	if req.mature, err = strconv.ParseBool(fields["mature"]); err != nil {
		return req, http.StatusBadRequest, "invalid_request", "mature must be true or false"
	}
	req.name = strings.TrimSpace(fields["name"])
	if req.name == "" || len(req.name) > 100 {
		return req, http.StatusBadRequest, "invalid_request", "name must be 1 to 100 characters"
	}
	req.start, req.end = fields["start"], fields["end"]
	startMS, err := parseClock(req.start)
	if err != nil {
		return req, http.StatusBadRequest, "invalid_request", "start: " + err.Error()
	}
	endMS, err := parseClock(req.end)
	if err != nil {
		return req, http.StatusBadRequest, "invalid_request", "end: " + err.Error()
	}
	if endMS <= startMS {
		return req, http.StatusBadRequest, "invalid_request", "end must be after start"
	}
	return req, 0, "", ""
}

// lookup returns the key's process, or answers 404. Called with s.mu held.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *process {
	p := s.processes[r.PathValue("uuid")]
	if p == nil || p.key != r.Header.Get("X-Api-Key") {
		writeError(w, http.StatusNotFound, "not_found", "no such process in this virtual world")
		return nil
	}
	return p
}

// handleProcess is GET /v1/process/{uuid}.
func (s *Server) handleProcess(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.lookup(w, r); p != nil {
		writeJSON(w, http.StatusOK, p.view(s.now(), s.cfg.ProcessDuration))
	}
}

// handleValidate is POST /v1/process/{uuid}/validate: awaiting_validation
// becomes done. Validating a validated process answers it again.
func (s *Server) handleValidate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	if !p.validation {
		writeError(w, http.StatusForbidden, "validation_flow_disabled", "the validation flow is not active for this virtual world")
		return
	}
	status, _ := p.status(s.now(), s.cfg.ProcessDuration)
	switch {
	case status == StatusDone && p.validated:
	case status != StatusAwaitingValidation:
		writeError(w, http.StatusConflict, "invalid_state", "the process is "+status+", not awaiting_validation")
		return
	default:
		p.validated = true
	}
	writeJSON(w, http.StatusOK, p.view(s.now(), s.cfg.ProcessDuration))
}

// handleRetake is POST /v1/process/{uuid}/retake: awaiting_validation
// becomes rejected and a new token for the same user is returned. Retaking
// a rejected process again returns its retake token while that is unused
// and not expired.
func (s *Server) handleRetake(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(w, r)
	if p == nil {
		return
	}
	if !p.validation {
		writeError(w, http.StatusForbidden, "validation_flow_disabled", "the validation flow is not active for this virtual world")
		return
	}
	status, _ := p.status(s.now(), s.cfg.ProcessDuration)
	switch {
	case status == StatusRejected:
		if t := s.tokens[p.retakeToken]; t != nil && t.status(s.now()) == TokenUnused {
			writeJSON(w, http.StatusOK, t.view(s.now()))
			return
		}
		writeError(w, http.StatusConflict, "invalid_state", "the process was already retaken")
	case status != StatusAwaitingValidation:
		writeError(w, http.StatusConflict, "invalid_state", "the process is "+status+", not awaiting_validation")
	default:
		p.rejected = true
		t := s.issueToken(p.key, p.userID, p.uuid)
		p.retakeToken = t.token
		writeJSON(w, http.StatusOK, t.view(s.now()))
	}
}
