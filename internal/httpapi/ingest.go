package httpapi

import (
	"compress/gzip"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gamepipe/gamepipe/internal/eventstream"
	"github.com/gamepipe/gamepipe/internal/store"
	"github.com/gamepipe/gamepipe/internal/telemetry"
)

// ingestBuf holds one request's buffers but its body (see bodyPool); pooled
// so the hot path does not allocate them per request.
//
// floats holds the decoded events' numbers (Event.Positions slices into it),
// so it may be reused only once nothing reads those events any more: each
// event is encoded with AppendStoredItem into data before anything else is
// done with it, and what is published is data, never the events. The
// Publisher copies data before Publish returns; still, on a publish failure
// the whole buffer is dropped, not put back. Never let an Event of buf
// escape the handler.
type ingestBuf struct {
	events []telemetry.Event
	floats telemetry.Scratch
	data   []byte
	chunk  []int // indexes of the events of the message being encoded
	ids    []byte
	msgs   []eventstream.Message
}

var ingestBufs = sync.Pool{New: func() any { return new(ingestBuf) }}

var queuedBody = []byte(`{"status":"queued"}` + "\n")

// handleIngest is POST /api/events and its aliases: authenticate, check the
// media type, read and bound the body, decode and validate every event,
// check the app scope, publish all and wait for every JetStream ack, answer.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	info, err := s.auth.publicApp(r)
	if err != nil {
		s.reject(w, r, nil, 1, err)
		return
	}
	// From here on the app is known: a refusal counts for it.
	if err := checkMsgpack(r.Header.Get("Content-Type")); err != nil {
		s.reject(w, r, info, 1, err)
		return
	}

	var bb bodyBuf
	if err := s.readBody(w, r, &bb); err != nil {
		s.bodies.put(&bb)
		s.reject(w, r, info, 1, err)
		return
	}
	body := bb.bytes()

	buf := ingestBufs.Get().(*ingestBuf)
	events, err := telemetry.DecodeWith(body, &s.cfg.Limits, buf.events[:0], &buf.floats)
	buf.events = events[:0]
	if err != nil {
		n := telemetry.BatchSize(body)
		s.bodies.put(&bb)
		ingestBufs.Put(buf)
		s.reject(w, r, info, n, validationToAPI(err))
		return
	}

	appID := info.AppID.String()
	// Postgres keeps microseconds: truncate so every copy of the event
	// (stream, table, export, backfill) says the same received_at.
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	for i := range events {
		ev := &events[i]
		if !strings.EqualFold(ev.AppID, appID) {
			index := indexOf(i, len(events), body)
			s.bodies.put(&bb)
			ingestBufs.Put(buf)
			s.reject(w, r, info, len(events), &APIError{Status: http.StatusForbidden, Code: "app_mismatch",
				Message: "app_id does not belong to the token's application", Index: index, Field: "app_id"})
			return
		}
		ev.AppID = appID
		ev.ReceivedAt = now
	}
	msgs, err := buf.encode(appID, events, messageBytes(s.publisher))
	// Decoded events copy what they keep, and data holds what is
	// published: the body's memory goes back before the wait for acks.
	s.bodies.put(&bb)
	if err != nil {
		ingestBufs.Put(buf)
		writeError(w, r, err)
		return
	}

	start := time.Now()
	if _, err := s.publisher.Publish(r.Context(), msgs); err != nil {
		// Do not reuse buf: acks still in flight may retry with its bytes.
		s.countRejected(info, len(events), "unavailable")
		if !errors.Is(err, eventstream.ErrUnavailable) {
			writeError(w, r, err)
			return
		}
		s.logger.Warn().Err(err).Str("app_id", appID).Int("events", len(events)).Msg("httpapi: publish failed")
		writeError(w, r, &APIError{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "events could not be stored right now; retry the same request", RetryAfter: 1})
		return
	}
	s.metrics.PublishLatency.Observe(time.Since(start).Seconds())
	var accepted [telemetry.NumKinds]int
	for i := range events {
		accepted[events[i].Kind.Index()]++
	}
	for k, n := range accepted {
		if n > 0 {
			s.metrics.EventsAccepted.WithLabelValues(string(telemetry.Kinds[k])).Add(float64(n))
		}
	}
	clear(buf.events[:cap(buf.events)][:len(events)]) // drop string references
	clear(msgs)
	buf.msgs = msgs[:0]
	ingestBufs.Put(buf)

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(queuedBody)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(queuedBody)
}

// indexOf is the batch index for an error, or nil for a single event.
func indexOf(i, n int, body []byte) *int {
	if n == 1 && len(body) > 0 && isMap(body[0]) {
		return nil
	}
	return &i
}

// isMap reports whether a msgpack value starting with b is a map.
func isMap(b byte) bool { return b&0xf0 == 0x80 || b == 0xde || b == 0xdf }

// reject answers a refused ingestion request and counts it by its error
// code (countRejected): n events of info's app, or nil before the app is
// known.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, info *store.KeyInfo, n int, err error) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		s.countRejected(info, n, apiErr.Code)
	}
	writeError(w, r, err)
}

// countRejected counts a refused ingestion request in the metric and, when
// its app is known, n of the app's events in Rejections for the dashboard.
func (s *Server) countRejected(info *store.KeyInfo, n int, reason string) {
	s.metrics.EventsRejected.WithLabelValues(reason).Inc()
	if info != nil && s.rejections != nil {
		s.rejections.add(info.AppID, s.cfg.Now(), reason, n)
	}
}

// checkMsgpack enforces the document's "Content type must be
// application/msgpack"; explicit JSON is 415, as is anything else.
func checkMsgpack(contentType string) error {
	mt, _, err := mime.ParseMediaType(contentType)
	switch {
	case contentType == "" || err != nil:
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "content-type must be application/msgpack")
	case mt == "application/msgpack" || mt == "application/x-msgpack" || mt == "application/vnd.msgpack":
		return nil
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/json":
		return newError(http.StatusUnsupportedMediaType, "json_not_accepted", "JSON is not accepted; send MessagePack with content-type application/msgpack")
	default:
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "content-type must be application/msgpack, got "+mt)
	}
}

// errOverloaded answers a body that does not fit in the memory left for
// bodies in flight (Config.MaxInflightBodyBytes).
var errOverloaded = &APIError{Status: http.StatusServiceUnavailable, Code: "overloaded",
	Message: "the server is receiving too many request bodies at once; retry after the Retry-After delay", RetryAfter: 1}

// readBody reads the whole body into bb, at most MaxBodyBytes after
// decompression, within BodyReadTimeout. Its buffer grows with the bytes
// that arrive, each growth reserved from the budget for bodies in flight
// (errOverloaded when it has no room), never with the declared length. The
// caller puts bb back, also on an error.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, bb *bodyBuf) error {
	limit, tooLarge := s.cfg.MaxBodyBytes, s.tooLarge
	if r.ContentLength > limit {
		w.Header().Set("Connection", "close")
		return tooLarge
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyReadTimeout))

	var rd io.Reader = http.MaxBytesReader(w, r.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		if !s.bodies.budget.tryReserve(gzipStateBytes) {
			w.Header().Set("Connection", "close")
			return errOverloaded
		}
		defer s.bodies.budget.release(gzipStateBytes)
		gz, err := gzip.NewReader(rd)
		if err != nil {
			return bodyError(err, tooLarge)
		}
		defer gz.Close()
		rd = gz
	default:
		return newError(http.StatusUnsupportedMediaType, "unsupported_encoding", "content-encoding must be gzip or absent, got "+enc)
	}

	switch err := s.bodies.readAll(rd, bb); {
	case err == nil:
	case err == errBodyBudget:
		// The rest of the body is not read: close rather than drain it.
		w.Header().Set("Connection", "close")
		return errOverloaded
	case err == errBodyFull:
		w.Header().Set("Connection", "close")
		return tooLarge
	default:
		err = bodyError(err, tooLarge)
		if err == tooLarge {
			w.Header().Set("Connection", "close")
		}
		return err
	}
	if bb.n == 0 {
		return &APIError{Status: http.StatusBadRequest, Code: telemetry.CodeEmptyBody, Message: "request body is empty"}
	}
	return nil
}

func bodyError(err error, tooLarge *APIError) error {
	var maxErr *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &maxErr):
		return tooLarge // readBody marks the connection to close
	case errors.As(err, &netErr) && netErr.Timeout():
		return newError(http.StatusRequestTimeout, "request_timeout", "the request body was not received in time")
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, "invalid_gzip", "the gzip-encoded body is corrupt or truncated")
	default:
		return newError(http.StatusBadRequest, "unreadable_body", "the request body could not be read")
	}
}

// validationToAPI turns a telemetry.ValidationError into a 400 that names
// the item's index (for a batch) and field.
func validationToAPI(err error) error {
	v, ok := telemetry.AsValidationError(err)
	if !ok {
		return err
	}
	e := &APIError{Status: http.StatusBadRequest, Code: v.Code, Message: v.Message, Field: v.Field}
	if v.Index >= 0 {
		i := v.Index
		e.Index = &i
	}
	return e
}

// handleSQLSelect is POST /api/sql/select: disabled by design (501) for a
// caller holding the secret key.
func (s *Server) handleSQLSelect(w http.ResponseWriter, r *http.Request) {
	if _, err := s.auth.secretApp(r); err != nil {
		writeError(w, r, err)
		return
	}
	writeError(w, r, newError(http.StatusNotImplemented, "sql_unavailable", "SQL queries are disabled by design; use the dashboard"))
}
