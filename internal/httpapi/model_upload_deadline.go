package httpapi

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/gamepipe/gamepipe/internal/blob"
)

// transferWindow is how long moving up to limit bytes may take in total: a
// model upload or download gets blob.TransferTime(limit) (at 256 KiB/s) on
// top of the usual timeouts (with the default 200 MiB cap, 800 s more).
func (s *Server) transferWindow(limit int64) time.Duration {
	return s.cfg.RequestTimeout + s.cfg.BodyReadTimeout + blob.TransferTime(limit)
}

// uploadDeadline lifts the server-wide timeouts for one large upload.
// http.Server.ReadTimeout and Config.RequestTimeout are sized for telemetry
// bodies of a megabyte; a 200 MiB model needs longer. Instead of one long
// read deadline, the returned reader moves the deadline forward on every
// read, by BodyReadTimeout, never past end, and once UploadRateGrace has
// passed never past the moment the body's average rate would fall below
// UploadMinRate: a client that stalls is cut off as quickly as for
// ingestion, one that trickles soon after the grace, and a steady one may
// take up to end. The returned context (for blob storage) runs until end,
// detached from the request's RequestTimeout but still cancelled when the
// client goes away. The caller must call the cancel function.
func (s *Server) uploadDeadline(w http.ResponseWriter, r *http.Request, limit int64) (context.Context, io.ReadCloser, context.CancelFunc) {
	end := time.Now().Add(s.transferWindow(limit))
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(end.Add(s.cfg.RequestTimeout))

	ctx, cancel := context.WithDeadline(context.WithoutCancel(r.Context()), end)
	stop := context.AfterFunc(r.Context(), func() {
		// Only a cancellation from the connection (the client left), not
		// the request's own timeout, which an upload outlives.
		if r.Context().Err() == context.Canceled {
			cancel()
		}
	})
	body := &deadlineReader{r: r.Body, rc: rc, idle: s.cfg.BodyReadTimeout, end: end,
		rateFrom: time.Now().Add(s.cfg.UploadRateGrace), minRate: s.cfg.UploadMinRate}
	return ctx, body, func() {
		stop()
		cancel()
	}
}

// deadlineReader extends the connection's read deadline before each read.
type deadlineReader struct {
	r    io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	end  time.Time
	// rateFrom is when the grace ends. From then on the body must keep
	// ahead of minRate bytes per second counted from rateFrom: once n
	// bytes are read, the next must arrive by rateFrom + n/minRate.
	// minRate <= 0: no floor.
	rateFrom time.Time
	minRate  int64
	// read counts the bytes read so far.
	read int64
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	next := time.Now().Add(d.idle)
	if d.minRate > 0 {
		// More than read bytes must arrive before this moment, or the
		// client is slower than minRate.
		due := d.rateFrom.Add(time.Duration(float64(d.read) / float64(d.minRate) * float64(time.Second)))
		if due.Before(next) {
			next = due
		}
	}
	if next.After(d.end) {
		next = d.end
	}
	// An unsupported writer (a test recorder) has no deadline to move.
	_ = d.rc.SetReadDeadline(next)
	n, err := d.r.Read(p)
	d.read += int64(n)
	if err == io.EOF {
		// At the body's end net/http starts a background read to notice a
		// client hanging up; give it the whole window, or an idle deadline
		// passing while the row is written would cancel the request.
		_ = d.rc.SetReadDeadline(d.end)
	}
	return n, err
}

func (d *deadlineReader) Close() error { return d.r.Close() }

// longUpload runs h with the timeouts of an upload of up to limit bytes
// (see uploadDeadline): its body moves the read deadline forward as data
// arrives, and its context outlives RequestTimeout until the transfer
// window ends.
func (s *Server) longUpload(limit int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, body, cancel := s.uploadDeadline(w, r, limit)
		defer cancel()
		r.Body = body
		h(w, r.WithContext(ctx))
	}
}
