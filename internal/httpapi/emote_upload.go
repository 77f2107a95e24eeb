package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gamepipe/gamepipe/internal/blob"
)

// emoteUpload is a parsed multipart emote request: small text fields and,
// when one was sent, the video, already in blob storage.
type emoteUpload struct {
	fields map[string]string
	// video is the stored video; nil when the request had none.
	video  *blob.Info
	format string
}

// Limits of a multipart emote request besides the video.
const (
	emoteMaxFields     = 16
	emoteMaxFieldBytes = 4 << 10
	emoteFormOverhead  = 1 << 20
	emoteSniffBytes    = 4 << 10
)

// readEmoteUpload streams a multipart/form-data body: text fields are read
// (each capped), the video part is format-checked on its first bytes and
// streamed into blob storage capped at MaxVideoBytes. Nothing is held whole
// in memory. Errors are *APIError for client mistakes (400, 413, 415).
func (a *emoteAPI) readEmoteUpload(w http.ResponseWriter, r *http.Request) (*emoteUpload, error) {
	r.Body = http.MaxBytesReader(w, r.Body, a.s.jobs.MaxVideoBytes+emoteFormOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, newError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be multipart/form-data")
	}
	up := &emoteUpload{fields: map[string]string{}}
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return up, nil
		}
		if err != nil {
			return nil, emoteUploadError(r.Context(), err)
		}
		if parts >= emoteMaxFields {
			return nil, newError(http.StatusBadRequest, "invalid_request", "too many form fields")
		}
		name := part.FormName()
		if name != "video" {
			v, err := io.ReadAll(io.LimitReader(part, emoteMaxFieldBytes+1))
			if err != nil {
				return nil, emoteUploadError(r.Context(), err)
			}
			if len(v) > emoteMaxFieldBytes {
				return nil, emoteFieldError(name, "field_too_long", name+" is longer than 4 KiB")
			}
			up.fields[name] = string(v)
			continue
		}
		if up.video != nil {
			return nil, emoteFieldError("video", "invalid_request", "send one video")
		}
		head := make([]byte, emoteSniffBytes)
		n, err := io.ReadFull(part, head)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return nil, emoteUploadError(r.Context(), err)
		}
		if n == 0 {
			return nil, emoteFieldError("video", "invalid_video", "the video is empty")
		}
		if up.format = sniffEmoteVideo(head[:n]); up.format == "" {
			return nil, emoteFieldError("video", "unsupported_video_format",
				"the video is not AVI, FLV, MKV, MP4, MOV, TS or WebM (its first bytes match none of them)")
		}
		info, err := a.s.jobs.Blob.Put(r.Context(), io.MultiReader(bytes.NewReader(head[:n]), part), a.s.jobs.MaxVideoBytes)
		if err != nil {
			return nil, emoteUploadError(r.Context(), err)
		}
		up.video = &info
	}
}

// emoteUploadError classifies a failure to read or store the body.
func emoteUploadError(ctx context.Context, err error) error {
	var tooBig *http.MaxBytesError
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, blob.ErrTooLarge), errors.As(err, &tooBig):
		return emoteFieldError("video", "video_too_large", "the video is larger than this server accepts")
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, blob.ErrInsufficientStorage), errors.As(err, &pathErr):
		return err // storage's fault, not the client's: writeError answers 507 or 500, without the path
	}
	return newError(http.StatusBadRequest, "invalid_request", "error reading the multipart body: "+err.Error())
}

func emoteFieldError(field, code, msg string) *APIError {
	status := http.StatusBadRequest
	if code == "video_too_large" {
		status = http.StatusRequestEntityTooLarge
	}
	return &APIError{Status: status, Code: code, Message: msg, Field: field}
}

// emoteFields are the validated text fields of an emote request.
type emoteFields struct {
	userID, name   string
	startMS, endMS int64
	mature         bool
}

// parse validates the fields named in required (all of user_id, name,
// start, end, mature on create); the others are validated when present.
func (up *emoteUpload) parse(required ...string) (*emoteFields, error) {
	for _, f := range required {
		if _, ok := up.fields[f]; !ok {
			if f == "video" && up.video != nil {
				continue
			}
			return nil, emoteFieldError(f, "missing_field", f+" is required")
		}
	}
	out := &emoteFields{startMS: -1, endMS: -1}
	if v, ok := up.fields["user_id"]; ok {
		if out.userID = strings.TrimSpace(v); out.userID == "" || len(out.userID) > 200 {
			return nil, emoteFieldError("user_id", "invalid_field", "user_id must be 1 to 200 characters")
		}
	}
	if v, ok := up.fields["name"]; ok {
		if out.name = strings.TrimSpace(v); out.name == "" || len(out.name) > 100 {
			return nil, emoteFieldError("name", "invalid_field", "name must be 1 to 100 characters")
		}
	}
	for _, f := range []struct {
		name string
		ms   *int64
	}{{"start", &out.startMS}, {"end", &out.endMS}} {
		if v, ok := up.fields[f.name]; ok {
			ms, err := parseEmoteClock(v)
			if err != nil {
				return nil, emoteFieldError(f.name, "invalid_field", f.name+": "+err.Error())
			}
			*f.ms = ms
		}
	}
	if v, ok := up.fields["mature"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, emoteFieldError("mature", "invalid_field", "mature must be true or false")
		}
		out.mature = b
	}
	return out, nil
}

var emoteClockRE = regexp.MustCompile(`^(\d{2}):([0-5]\d):([0-5]\d)\.(\d{3})$`)

// parseEmoteClock reads "HH:MM:SS.mmm" (the document's format) into
// milliseconds.
func parseEmoteClock(s string) (int64, error) {
	m := emoteClockRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf(`want "HH:MM:SS.mmm", such as "00:00:02.000", got %q`, s)
	}
	var v [4]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(m[i+1], 10, 64)
	}
	return ((v[0]*60+v[1])*60+v[2])*1000 + v[3], nil
}

// sniffEmoteVideo names a video's container from its first bytes: avi, flv,
// mkv, webm, mp4, mov or ts (the formats Kinetix supports); "" for none.
func sniffEmoteVideo(h []byte) string {
	at := func(off int, s string) bool { return len(h) >= off+len(s) && string(h[off:off+len(s)]) == s }
	switch {
	case at(0, "RIFF") && at(8, "AVI "):
		return "avi"
	case at(0, "FLV\x01"):
		return "flv"
	case at(0, "\x1a\x45\xdf\xa3"):
		if bytes.Contains(h, []byte("webm")) {
			return "webm"
		}
		return "mkv"
	case at(4, "ftypqt  "):
		return "mov"
	case at(4, "ftyp"):
		return "mp4"
	case at(4, "moov"), at(4, "mdat"), at(4, "wide"), at(4, "free"):
		return "mov" // QuickTime before the ftyp box
	case emoteTSSync(h, 0, 188), emoteTSSync(h, 4, 192):
		return "ts"
	}
	return ""
}

// emoteTSSync reports MPEG-TS sync bytes (0x47) at off and every size bytes
// after, at least twice.
func emoteTSSync(h []byte, off, size int) bool {
	if len(h) <= off+size {
		return false
	}
	for i := off; i < len(h); i += size {
		if h[i] != 0x47 {
			return false
		}
	}
	return true
}
