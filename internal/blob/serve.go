package blob

import (
	"fmt"
	"net/http"
	"time"
)

// MinTransferRate is the slowest average rate, in bytes per second, that a
// large transfer (a model's upload or download) is given time for.
const MinTransferRate = 256 << 10

// TransferTime is how long moving size bytes at MinTransferRate takes.
func TransferTime(size int64) time.Duration {
	return time.Duration(size/MinTransferRate) * time.Second
}

// ServeConfig says how Serve answers.
type ServeConfig struct {
	// ContentType is the blob's media type.
	ContentType string
	// CacheControl and Disposition, when set, are sent as Cache-Control
	// and Content-Disposition.
	CacheControl, Disposition string
	// ModTime is sent as Last-Modified; zero sends none.
	ModTime time.Time
	// Window, when positive, is how long writing the answer may take from
	// now: the connection's write deadline moves there, past a server's
	// WriteTimeout sized for small answers.
	Window time.Duration
}

// Serve answers r with the blob under key through http.ServeContent: a
// Range request is a 206 of the parts asked for, read through the
// reader's Seek (a range read of the store), and the ETag is the key
// quoted, so a matching If-None-Match is a 304 and If-Range works.
// An error opening the blob (ErrNotFound for a missing one) is returned
// before anything is written or any header set; the caller answers it.
func Serve(w http.ResponseWriter, r *http.Request, s Store, key string, cfg *ServeConfig) error {
	f, _, err := s.Open(r.Context(), key)
	if err != nil {
		return fmt.Errorf("error opening blob %s to serve: %w", key, err)
	}
	defer f.Close()
	if cfg.Window > 0 {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(cfg.Window))
	}
	h := w.Header()
	h.Set("Content-Type", cfg.ContentType)
	h.Set("ETag", `"`+key+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	if cfg.CacheControl != "" {
		h.Set("Cache-Control", cfg.CacheControl)
	}
	if cfg.Disposition != "" {
		h.Set("Content-Disposition", cfg.Disposition)
	}
	http.ServeContent(w, r, "", cfg.ModTime, f)
	return nil
}
