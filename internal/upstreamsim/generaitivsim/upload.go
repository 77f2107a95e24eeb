package generaitivsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxUpload caps a signed PUT's body.
const maxUpload = 20 << 20

// uploadTTL is how long a signed upload URL stays valid.
const uploadTTL = 15 * time.Minute

// handleUploadURL answers a signed PUT URL for the caller's own token. The
// URL is served by this simulator: PUT the image there and it becomes the
// token's image.
func (s *Server) handleUploadURL(w http.ResponseWriter, r *http.Request, caller *user) {
	id := strings.ToLower(r.PathValue("tokenId"))
	file := r.PathValue("fileName")
	s.mu.Lock()
	t, ok := s.tokens[id]
	s.mu.Unlock()
	switch {
	case !ok:
		writeErr(w, http.StatusNotFound, "not_found", "no such token")
		return
	case !strings.EqualFold(t.Creator, caller.Address):
		writeErr(w, http.StatusForbidden, "forbidden", "the token belongs to another user")
		return
	}
	exp := strconv.FormatInt(time.Now().Add(uploadTTL).Unix(), 10)
	q := url.Values{"exp": {exp}, "sig": {s.uploadSig(id, file, exp)}}
	writeJSON(w, http.StatusOK, map[string]string{
		"url": baseURL(r) + "/upload/" + url.PathEscape(id) + "/" + url.PathEscape(file) + "?" + q.Encode(),
	})
}

func (s *Server) uploadSig(id, file, exp string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("upload\x00" + id + "\x00" + file + "\x00" + exp))
	return hex.EncodeToString(m.Sum(nil))
}

// handleUploadPut accepts the signed PUT and sets the token's image.
func (s *Server) handleUploadPut(w http.ResponseWriter, r *http.Request) {
	id, file := strings.ToLower(r.PathValue("tokenId")), r.PathValue("fileName")
	exp := r.URL.Query().Get("exp")
	expUnix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() > expUnix ||
		!hmac.Equal([]byte(r.URL.Query().Get("sig")), []byte(s.uploadSig(id, file, exp))) {
		writeErr(w, http.StatusForbidden, "signature_invalid", "the upload URL is invalid or expired")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpload))
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, "too_large", "the upload is too large")
		return
	}
	if len(body) == 0 {
		writeErr(w, http.StatusBadRequest, "empty", "the upload is empty")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		writeErr(w, http.StatusNotFound, "not_found", "no such token")
		return
	}
	s.uploads[id+"/"+file] = body
	t.Metadata.Image = baseURL(r) + "/images/upload/" + url.PathEscape(id) + "/" + url.PathEscape(file)
	s.stats.Uploads++
	w.WriteHeader(http.StatusOK)
}

// handleUploadedImage serves an uploaded token image.
func (s *Server) handleUploadedImage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body, ok := s.uploads[strings.ToLower(r.PathValue("tokenId"))+"/"+r.PathValue("fileName")]
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "not_found", "no such image")
		return
	}
	w.Header().Set("Content-Type", http.DetectContentType(body))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// UploadedImage returns the bytes last uploaded as tokenID's image.
func (s *Server) UploadedImage(tokenID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.uploads {
		if strings.HasPrefix(k, strings.ToLower(tokenID)+"/") {
			return v, true
		}
	}
	return nil, false
}
