package httpapi

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gamepipe/gamepipe/internal/blob"
)

// Limits on the parts of a model upload besides the file.
const (
	// modelUploadOverhead is what the body may carry beyond the file: the
	// text fields, part headers and multipart framing.
	modelUploadOverhead = 1 << 20
	// maxModelFieldBytes caps the app_name and level_name fields.
	maxModelFieldBytes = 1024
	// maxLevelNameRunes matches the level_models.level_name check.
	maxLevelNameRunes = 200
)

// The multipart form fields of POST /api/models, as the document names them.
const (
	fieldAppName   = "app_name"
	fieldLevelName = "level_name"
	fieldModelFile = "model_file"
)

// modelUpload is one POST /api/models request's state while its parts stream
// in. Parts may come in any order: a text field is checked as soon as it
// arrives (so a wrong app_name sent before the file rejects the request
// before any byte of the file is stored), and the file is streamed to blob
// storage as it arrives, never held in memory beyond its first
// modelSniffLen bytes.
type modelUpload struct {
	// wantApp is the authenticated app's name, which app_name must equal.
	wantApp string
	blobs   blob.Store
	limit   int64

	appName, levelName string
	seen               map[string]bool
	file               blob.Info
	format             modelFormat
	filename           string
}

func newModelUpload(wantApp string, blobs blob.Store, limit int64) *modelUpload {
	return &modelUpload{wantApp: wantApp, blobs: blobs, limit: limit, seen: make(map[string]bool, 3)}
}

// read consumes every part of mr.
func (u *modelUpload) read(ctx context.Context, mr *multipart.Reader) error {
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return uploadReadError(err)
		}
		// Not part.Close on failure: it would drain the rest of the part,
		// up to the whole body, only to refuse it.
		if err := u.readPart(ctx, part); err != nil {
			return err
		}
		_ = part.Close()
	}
}

func (u *modelUpload) readPart(ctx context.Context, part *multipart.Part) error {
	name := part.FormName()
	switch name {
	case fieldAppName, fieldLevelName, fieldModelFile:
		if u.seen[name] {
			return &APIError{Status: http.StatusBadRequest, Code: "duplicate_field", Field: name,
				Message: name + " appears more than once"}
		}
		u.seen[name] = true
	default:
		// Unknown parts are skipped; the body limit bounds them.
		if _, err := io.Copy(io.Discard, part); err != nil {
			return uploadReadError(err)
		}
		return nil
	}

	if name == fieldModelFile {
		return u.storeFile(ctx, part)
	}
	value, err := readModelField(part, name)
	if err != nil {
		return err
	}
	if name == fieldAppName {
		u.appName = value
		return u.checkAppName()
	}
	u.levelName = value
	return checkLevelName(value)
}

// storeFile sniffs the file's format from its first bytes and streams it to
// blob storage. An unknown format is refused before anything is stored; a
// file past the limit stores nothing (blob.Store.Put's contract).
func (u *modelUpload) storeFile(ctx context.Context, part *multipart.Part) error {
	if _, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition")); err == nil {
		u.filename = sanitizeFilename(params["filename"])
	}
	src := &readErrRecorder{r: part}
	br := bufio.NewReaderSize(src, modelSniffLen)
	head, err := br.Peek(modelSniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return uploadReadError(err)
	}
	if len(head) == 0 {
		return &APIError{Status: http.StatusBadRequest, Code: "empty_file", Field: fieldModelFile, Message: "model_file is empty"}
	}
	format, ok := sniffModelFormat(head)
	if !ok {
		return &APIError{Status: http.StatusBadRequest, Code: "unsupported_format", Field: fieldModelFile,
			Message: "model_file is not glTF, GLB, OBJ or FBX"}
	}
	info, err := u.blobs.Put(ctx, br, u.limit)
	switch {
	case errors.Is(err, blob.ErrTooLarge):
		return modelTooLarge(u.limit)
	case err != nil && src.err != nil:
		return uploadReadError(src.err) // the client's side failed, not storage
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return uploadReadError(err)
	case err != nil:
		return err
	}
	u.file, u.format = info, format
	return nil
}

// checkAppName refuses an app_name that is not the authenticated app's.
func (u *modelUpload) checkAppName() error {
	if u.appName == "" {
		return missingFields(fieldAppName)
	}
	if u.appName != u.wantApp {
		return &APIError{Status: http.StatusForbidden, Code: "app_mismatch", Field: fieldAppName,
			Message: "app_name does not name the application of the key"}
	}
	return nil
}

// complete checks, once the body is read, that every part came.
func (u *modelUpload) complete() error {
	var missing []string
	if u.appName == "" {
		missing = append(missing, fieldAppName)
	}
	if u.levelName == "" {
		missing = append(missing, fieldLevelName)
	}
	if !u.seen[fieldModelFile] {
		missing = append(missing, fieldModelFile)
	}
	if len(missing) > 0 {
		return missingFields(missing...)
	}
	return nil
}

// checkLevelName accepts 1–200 printable characters.
func checkLevelName(name string) error {
	switch {
	case name == "":
		return missingFields(fieldLevelName)
	case utf8.RuneCountInString(name) > maxLevelNameRunes:
		return &APIError{Status: http.StatusBadRequest, Code: "invalid_field", Field: fieldLevelName,
			Message: "level_name is longer than " + strconv.Itoa(maxLevelNameRunes) + " characters"}
	case strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }):
		return &APIError{Status: http.StatusBadRequest, Code: "invalid_field", Field: fieldLevelName,
			Message: "level_name contains control or invisible characters"}
	}
	return nil
}

// readModelField reads a text field, at most maxModelFieldBytes, trimmed of
// surrounding whitespace (so "Level_1 " is the level "Level_1").
func readModelField(part io.Reader, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, maxModelFieldBytes+1))
	if err != nil {
		return "", uploadReadError(err)
	}
	if len(b) > maxModelFieldBytes {
		return "", &APIError{Status: http.StatusBadRequest, Code: "invalid_field", Field: name,
			Message: name + " is longer than " + strconv.Itoa(maxModelFieldBytes) + " bytes"}
	}
	if !utf8.Valid(b) {
		return "", &APIError{Status: http.StatusBadRequest, Code: "invalid_field", Field: name,
			Message: name + " is not valid UTF-8"}
	}
	return strings.TrimSpace(string(b)), nil
}

// missingFields is the 400 naming what is missing; Field is the first.
func missingFields(names ...string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "missing_field", Field: names[0],
		Message: "missing " + strings.Join(names, ", ")}
}

func modelTooLarge(limit int64) *APIError {
	return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "file_too_large", Field: fieldModelFile,
		Message: "model_file exceeds " + strconv.FormatInt(limit, 10) + " bytes"}
}

// uploadReadError maps a failure reading the request body to a client error.
func uploadReadError(err error) error {
	var maxErr *http.MaxBytesError
	var netErr interface{ Timeout() bool }
	switch {
	case errors.As(err, &maxErr):
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: "request body exceeds " + strconv.FormatInt(maxErr.Limit, 10) + " bytes"}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return newError(http.StatusRequestTimeout, "request_timeout", "the upload was not received in time")
	case errors.Is(err, context.Canceled):
		return newError(http.StatusBadRequest, "request_cancelled", "the client went away during the upload")
	default:
		return newError(http.StatusBadRequest, "malformed_multipart", "the multipart/form-data body is malformed or truncated")
	}
}

// readErrRecorder remembers a read error, so a failed blob Put can be told
// apart: the client's body broke (4xx) or storage did (5xx).
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (e *readErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}
