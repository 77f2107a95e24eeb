package benchrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gamepipe/gamepipe/internal/eventstream"
)

// MinimalIngestCommand is the argument that makes cmd/benchrun serve the
// minimal ingest server (RunMinimalIngest) instead of running the bench.
const MinimalIngestCommand = "minimal-ingest"

// The minimal server's stream: TELEMETRY's configuration under another
// name and subjects, so what it stores never reaches the sink's backlog.
const (
	minimalStream  = "BENCH_MINIMAL"
	minimalSubject = "benchmin"
)

// Environment of the minimal ingest server, set by the bench.
const (
	minimalEnvAddr = "BENCH_MINIMAL_ADDR"
	minimalEnvApp  = "BENCH_MINIMAL_APP"
)

// minimalAnswer is what the minimal server answers, the same bytes as the
// api's answer to an accepted request.
var minimalAnswer = []byte(`{"status":"queued"}` + "\n")

// RunMinimalIngest serves the single-event ingest's raw ceiling until ctx
// ends: a net/http server that reads each request's body, publishes it
// as one message to the minimal stream with a Nats-Msg-Id of the api's
// shape (app id, a colon, 36 characters), waits for JetStream's ack and
// answers 200. It does what the api's ingest must do at the least, and
// none of the rest: no authentication, no rate limit, no decoding or
// validation, no metrics, no logging. It publishes as the api does, from
// one connection with the async publisher's 64k window.
//
// It reads NATS_URL, BENCH_MINIMAL_ADDR (host:port to listen on) and
// BENCH_MINIMAL_APP (the app id of the message ids). GET /readyz answers
// 200 once it listens.
func RunMinimalIngest(ctx context.Context, getenv func(string) string) error {
	natsURL, addr, app := getenv("NATS_URL"), getenv(minimalEnvAddr), getenv(minimalEnvApp)
	if natsURL == "" || addr == "" || app == "" {
		return fmt.Errorf("%s needs NATS_URL, %s and %s", MinimalIngestCommand, minimalEnvAddr, minimalEnvApp)
	}
	nc, err := nats.Connect(natsURL, nats.Name("gamepipe-bench-minimal"))
	if err != nil {
		return fmt.Errorf("error connecting to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(64<<10))
	if err != nil {
		return err
	}
	m := &minimalServer{js: js, subject: minimalSubject + "." + app + ".event", idPrefix: app + ":"}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("error listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// minimalServer is RunMinimalIngest's handler.
type minimalServer struct {
	js       jetstream.JetStream
	subject  string
	idPrefix string
	seq      atomic.Uint64
	bufs     sync.Pool
}

func (m *minimalServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/readyz" {
		w.WriteHeader(http.StatusOK)
		return
	}
	buf, _ := m.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, 1<<20)); err != nil {
		m.bufs.Put(buf)
		http.Error(w, "error reading the body", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	f, err := m.js.PublishMsgAsync(&nats.Msg{Subject: m.subject, Data: buf.Bytes(),
		Header: nats.Header{jetstream.MsgIDHeader: []string{m.msgID()}}}, jetstream.WithExpectStream(minimalStream))
	if err == nil {
		select {
		case <-f.Ok():
		case err = <-f.Err():
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		// The buffer is not reused: a publish still in flight may hold it.
		http.Error(w, "error publishing: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	m.bufs.Put(buf)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(minimalAnswer)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(minimalAnswer)
}

// msgID is a fresh message id of the api's shape: the app id, a colon and
// 36 characters laid out as a UUID.
func (m *minimalServer) msgID() string {
	return uuidShapedID(m.idPrefix, m.seq.Add(1))
}

// uuidShapedID is prefix followed by n written as the last 12 hex digits
// of a UUID-shaped string.
func uuidShapedID(prefix string, n uint64) string {
	id := make([]byte, 0, len(prefix)+36)
	id = append(id, prefix...)
	id = append(id, "00000000-0000-8000-8000-"...)
	hex := strconv.FormatUint(n, 16)
	for range 12 - len(hex) {
		id = append(id, '0')
	}
	id = append(id, hex...)
	return string(id)
}

// startMinimal creates the minimal stream (TELEMETRY's configuration) and
// starts the minimal ingest server as a child of its own: this program
// run with MinimalIngestCommand, so its CPU is counted apart from the
// load generator's.
func (s *stack) startMinimal(ctx context.Context) error {
	if err := copyTelemetryStream(ctx, s.js, minimalStream, minimalSubject+".>", "bench: minimal ingest server"); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("error finding the bench's own binary to start the minimal server: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	s.minimal, err = startChild("minimal-ingest", self, []string{MinimalIngestCommand},
		s.env(map[string]string{minimalEnvAddr: addr, minimalEnvApp: s.app.AppID}), s.logDir)
	if err != nil {
		return err
	}
	s.minimalURL = "http://" + addr
	if err := waitReady(ctx, s.minimalURL+"/readyz", s.minimal); err != nil {
		s.stopMinimal(ctx)
		return err
	}
	fmt.Fprintf(s.log, "bench: minimal ingest server at %s (pid %d)\n", s.minimalURL, s.minimal.pid())
	return nil
}

// stopMinimal stops the minimal server and deletes its stream.
func (s *stack) stopMinimal(ctx context.Context) {
	s.minimal.stop(stopTimeout)
	s.minimal = nil
	_ = s.js.DeleteStream(context.WithoutCancel(ctx), minimalStream)
}

// copyTelemetryStream (re)creates stream name with TELEMETRY's
// configuration and the given subjects.
func copyTelemetryStream(ctx context.Context, js jetstream.JetStream, name, subjects, description string) error {
	tel, err := js.Stream(ctx, eventstream.StreamName)
	if err != nil {
		return fmt.Errorf("error reading the %s stream: %w", eventstream.StreamName, err)
	}
	info, err := tel.Info(ctx)
	if err != nil {
		return fmt.Errorf("error reading the %s stream: %w", eventstream.StreamName, err)
	}
	sc := info.Config
	sc.Name, sc.Subjects, sc.Description = name, []string{subjects}, description
	_ = js.DeleteStream(ctx, name)
	if _, err := js.CreateStream(ctx, sc); err != nil {
		return fmt.Errorf("error creating %s: %w", name, err)
	}
	return nil
}
