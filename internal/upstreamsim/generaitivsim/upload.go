package generaitivsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
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
	ctype := mime.TypeByExtension(path.Ext(file))
	if !strings.HasPrefix(ctype, "image/") {
		writeErr(w, http.StatusBadRequest, "invalid_file_name", "the file name must end in an image extension such as .png or .jpg")
		return
	}
	ctype, _, _ = strings.Cut(ctype, ";")
	exp := strconv.FormatInt(time.Now().Add(uploadTTL).Unix(), 10)
	q := url.Values{"exp": {exp}, "ct": {ctype}, "sig": {s.uploadSig(id, file, ctype, exp)}}
	writeJSON(w, http.StatusOK, map[string]string{
		"url": baseURL(r) + "/upload/" + url.PathEscape(id) + "/" + url.PathEscape(file) + "?" + q.Encode(),
	})
}

func (s *Server) uploadSig(id, file, ctype, exp string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("upload\x00" + id + "\x00" + file + "\x00" + ctype + "\x00" + exp))
	return hex.EncodeToString(m.Sum(nil))
}

// handleUploadPut accepts the signed PUT and sets the token's image. It
// behaves like an object store's presigned PUT: the signature covers the
// Content-Type, which must be sent exactly as signed; an Authorization
// header is refused (the URL is the only credential); the length must be
// declared and within the limit. Errors are the object store's XML.
func (s *Server) handleUploadPut(w http.ResponseWriter, r *http.Request) {
	id, file := strings.ToLower(r.PathValue("tokenId")), r.PathValue("fileName")
	q := r.URL.Query()
	exp, ctype := q.Get("exp"), q.Get("ct")
	expUnix, err := strconv.ParseInt(exp, 10, 64)
	switch {
	case r.Header.Get("Authorization") != "":
		writeS3Err(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter should be specified")
		return
	case err != nil || !hmac.Equal([]byte(q.Get("sig")), []byte(s.uploadSig(id, file, ctype, exp))):
		writeS3Err(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided")
		return
	case time.Now().Unix() > expUnix:
		writeS3Err(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	case r.Header.Get("Content-Type") != ctype:
		writeS3Err(w, http.StatusForbidden, "SignatureDoesNotMatch", "The Content-Type is not the one the URL was signed for")
		return
	case r.ContentLength < 0:
		writeS3Err(w, http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header")
		return
	case r.ContentLength > maxUpload:
		writeS3Err(w, http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpload))
	if err != nil {
		writeS3Err(w, http.StatusBadRequest, "IncompleteBody", "The request body could not be read")
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

// writeS3Err writes an object store's XML error.
func writeS3Err(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}{Code: code, Message: msg})
}
